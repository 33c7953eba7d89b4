// Package stripemock runs stripe-mock (github.com/stripe/stripe-mock), the
// stateless Stripe API double that validates requests against Stripe's
// OpenAPI spec, for one test.
//
// The binary is found through STRIPE_MOCK_BIN, then PATH, then
// $(go env GOBIN) and $(go env GOPATH)/bin. Without it the test is skipped,
// unless CI or TIERUP_TEST_REQUIRE_STRIPE_MOCK is set: then it fails,
// because a silently skipped gateway test would hide API mistakes.
package stripemock

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/testbin"
)

// Version is the stripe-mock release the tests are written against.
const Version = "v0.203.0"

// InstallHint says how to get the binary.
const InstallHint = "go install github.com/stripe/stripe-mock@" + Version

// startTimeout bounds the wait for stripe-mock to load its spec and listen.
const startTimeout = 60 * time.Second

// Option changes how Start runs stripe-mock.
type Option func(*options)

type options struct {
	fixtures string
}

// WithFixtures makes stripe-mock answer from the fixtures JSON file at
// path ({"resources": {"payment_intent": {…}, …}}) instead of its bundled
// ones. It replaces them all, so it must hold every resource the test's
// responses contain. Use it to get a response the bundled fixtures never
// give, like a succeeded PaymentIntent.
func WithFixtures(path string) Option {
	return func(o *options) { o.fixtures = path }
}

// Start runs stripe-mock on a free loopback port for the rest of the test
// and returns its base URL, e.g. http://127.0.0.1:41234. It is stopped
// when the test ends.
func Start(t testing.TB, opts ...Option) string {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin := find(t)
	// Port 0 lets stripe-mock pick free ports itself, so there is no race
	// between finding a port and binding it. HTTPS is given an address too:
	// otherwise stripe-mock also listens on the fixed port 12112 on every
	// interface, which collides between parallel tests and leaves loopback.
	args := []string{"-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0"}
	if o.fixtures != "" {
		abs, err := filepath.Abs(o.fixtures)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "-fixtures", abs)
	}
	cmd := exec.Command(bin, args...)
	// PORT sets stripe-mock's default port; drop it so only the flags
	// above decide where it listens.
	cmd.Env = withoutEnv(os.Environ(), "PORT")
	out := &tail{max: 64 << 10}
	addrc := make(chan string, 1)
	cmd.Stdout = &addrWatcher{w: out, addrc: addrc}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("stripemock: starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("stripe-mock output (tail):\n%s", out.String())
		}
	})

	var addr string
	select {
	case addr = <-addrc:
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("stripemock: %s exited before listening (%v):\n%s", bin, err, out.String())
	case <-time.After(startTimeout):
		t.Fatalf("stripemock: %s did not listen within %v:\n%s", bin, startTimeout, out.String())
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		t.Fatalf("stripemock: unexpected listen address %q", addr)
	}
	waitForConn(t, addr)
	return "http://" + addr
}

// waitForConn waits until addr accepts a TCP connection. stripe-mock
// prints the address once the socket is bound, so this normally succeeds
// at once; it guards against that ever changing.
func waitForConn(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripemock: %s does not accept connections: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// find returns the stripe-mock binary or ends the test.
func find(t testing.TB) string {
	t.Helper()
	return testbin.Find(t, testbin.Tool{Name: "stripe-mock", Env: "STRIPE_MOCK_BIN", Require: "TIERUP_TEST_REQUIRE_STRIPE_MOCK", Hint: InstallHint})
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// addrWatcher passes stripe-mock's stdout on to w and sends the HTTP
// listen address to addrc once it is printed.
type addrWatcher struct {
	w     io.Writer
	addrc chan<- string
	line  []byte
	sent  bool
}

const listenPrefix = "Listening for HTTP at address: "

func (a *addrWatcher) Write(p []byte) (int, error) {
	if !a.sent {
		a.line = append(a.line, p...)
		for {
			i := bytes.IndexByte(a.line, '\n')
			if i < 0 {
				break
			}
			if addr, ok := strings.CutPrefix(string(a.line[:i]), listenPrefix); ok {
				a.addrc <- strings.TrimSpace(addr)
				a.sent, a.line = true, nil
				break
			}
			a.line = a.line[i+1:]
		}
	}
	return a.w.Write(p)
}

// tail keeps the last max bytes written to it, for failure reports.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if over := w.buf.Len() - w.max; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
