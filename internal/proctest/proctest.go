// Package proctest runs the real tierup binary as a process of its own, for
// the tests that need the real process: the crash tests of cmd/tierup and
// the chaos soak of e2e (SIGKILL and a new start), and the rolling restart
// (SIGTERM, several processes on one database).
package proctest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a start (migrations included) may take
// before the test gives up on it: it only catches a hung binary.
const startTimeout = 90 * time.Second

// Build compiles the tierup command into t's temporary directory and
// returns the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tierup")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tierup/tierup/cmd/tierup")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building tierup: %v", err)
	}
	return bin
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// KeptAddr returns a loopback address free now for a process that keeps
// it across restarts. Its port is below the kernel's range of ephemeral
// ports, so that no outgoing connection is given it while the process is
// down; one whose range cannot be read gets FreeAddr's.
func KeptAddr(t testing.TB) string {
	t.Helper()
	low := 0
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		low, _ = strconv.Atoi(strings.Fields(string(b) + " 0")[0])
	}
	const from = 20000 // above the well-known and most registered services
	for range 100 {
		if low <= from {
			break
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(from+rand.IntN(low-from)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	return FreeAddr(t)
}

// Command is how to run the binary.
type Command struct {
	Bin  string
	Args []string
	Env  []string  // added to the test's environment
	Log  io.Writer // receives the process's stderr (its log); discarded when nil
}

// Process is a running binary.
type Process struct {
	Base string // the server's base URL, from its "listening on" line
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait returned
}

// Start runs c and waits until the server says it is listening; the
// process is killed when the test ends.
func Start(t testing.TB, c Command) *Process {
	t.Helper()
	p, err := Run(c)
	if p != nil {
		t.Cleanup(p.Kill)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Run is Start for any goroutine: it reports a failed start as an error,
// and the caller kills the process.
func Run(c Command) (*Process, error) {
	cmd := exec.Command(c.Bin, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	found := make(chan string, 1)
	cmd.Stdout = &listening{found: found}
	cmd.Stderr = c.Log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.Base = <-found:
		return p, nil
	case <-p.done:
		return p, fmt.Errorf("%s exited before listening: %v", c.Bin, cmd.ProcessState)
	case <-time.After(startTimeout):
		return p, fmt.Errorf("%s did not start within %s", c.Bin, startTimeout)
	}
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (SIGTERM for a graceful stop).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ExitCode is the exit status of a process that exited (-1 when a signal
// ended it).
func (p *Process) ExitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// Kill ends the process the hard way: no shutdown, no cleanup. It is a
// no-op on a process that exited already.
func (p *Process) Kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// listening is the process's stdout: it watches for the line that says
// the server is ready.
type listening struct {
	mu    sync.Mutex
	line  []byte
	found chan string
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

func (l *listening) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.found == nil {
		return len(b), nil // found already: the rest is not read
	}
	l.line = append(l.line, b...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			return len(b), nil
		}
		if m := listeningRE.FindSubmatch(l.line[:i]); m != nil {
			l.found <- string(m[1])
			l.found, l.line = nil, nil
			return len(b), nil
		}
		l.line = l.line[i+1:]
	}
}
