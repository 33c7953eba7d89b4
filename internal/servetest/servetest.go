// Package servetest builds the tierup binary and starts `tierup serve`
// processes, for the tests that need the real process: crashes, signals,
// several processes on one database.
package servetest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// Build compiles the tierup command into the test's temporary directory
// and returns the binary's path.
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

// Start starts cmd, a `tierup serve` whose Stdout is unset, and waits for
// its "listening on" line. It returns the base URL the line names and a
// channel closed once the process exited (cmd.Wait returned; read
// cmd.ProcessState then). A process that exits first, or says nothing
// within a minute, fails the test.
func Start(t testing.TB, cmd *exec.Cmd) (base string, exited <-chan struct{}) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done, found := make(chan struct{}), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_ = cmd.Wait() // once stdout is read to its end
		close(done)
	}()
	select {
	case base = <-found:
	case <-done:
		t.Fatalf("%s exited before it listened: %v", cmd, cmd.ProcessState)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not start", cmd)
	}
	return base, done
}
