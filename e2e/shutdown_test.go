package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
	"github.com/tierup/tierup/stack"
)

// restartNotice is how an event stream ends when its server shuts down.
const restartNotice = ": the server is shutting down; reconnect\nretry: 1000\n\n"

// TestServeShutsDownGracefully stops a serving tierup as SIGTERM does while
// an upgrade's charge is in flight and its event stream is open. During the
// delay readiness fails and requests are still served; then the stream
// ends asking its client to reconnect soon, and the charge either finishes
// within the timeout or, when it would outlast it, is handed back: no
// attempt spent, its job due at once, no job left running or failed, no
// heartbeat left to age. Another process then completes the upgrade with
// one charge.
func TestServeShutsDownGracefully(t *testing.T) {
	tests := []struct {
		name       string
		latency    time.Duration // how long the sandbox's charge takes to answer
		timeout    time.Duration
		handedBack bool
	}{
		{"the charge finishes within the timeout", 2 * time.Second, 20 * time.Second, false},
		{"the charge would outlast the timeout: handed back", time.Hour, 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, dsn string) {
				ctx := context.Background()
				st, _, _ := openStack(t, dsn, func(o *stack.Options) {
					o.SandboxLatency = tt.latency
					o.Shutdown = stack.Shutdown{Delay: time.Hour, Timeout: tt.timeout} // the test cuts the delay short
				})
				t.Cleanup(func() { st.Store.Close() })
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				sigterm, stop := context.WithCancel(ctx)
				defer stop()
				hurry, served := make(chan struct{}), make(chan error, 1)
				go func() { served <- st.Serve(sigterm, ln, hurry) }()
				h := &harness{Client: apitest.Client{T: t, BaseURL: "http://" + ln.Addr().String()}, st: st}

				_, token := hobby(h, "shutdown@example.com")
				id := h.upgrade(token, "pro-1m", h.card(token, "4242 4242 4242 4242"))
				stream := follow(t, h.BaseURL+"/v1/upgrades/"+id+"/events", token)
				h.waitFor(token, id, "paying", func(r apitest.Response) bool { return step(r, "payment")["status"] == "running" })

				stop() // SIGTERM
				var ready apitest.Response
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if ready = h.Do("GET", "/readyz", "", nil); ready.Status == http.StatusServiceUnavailable {
						break
					}
				}
				if ready.Status != http.StatusServiceUnavailable || !strings.HasPrefix(ready.Str("checks.queue"), "draining") {
					t.Errorf("readiness during the delay: %d %s", ready.Status, ready.Raw)
				}
				h.Expect(h.Do("GET", "/v1/upgrades/"+id, token, nil), 200, "") // still served
				close(hurry)

				select {
				case body := <-stream:
					if !strings.HasSuffix(body, restartNotice) || !strings.Contains(body, "event: created\n") {
						t.Errorf("the event stream ended with %q", body[max(0, len(body)-200):])
					}
				case <-time.After(time.Minute):
					t.Fatal("the event stream did not end")
				}
				if err := <-served; err != nil {
					t.Fatalf("Serve: %v", err)
				}

				u, err := st.Store.Upgrade(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				pay := u.Step(tierup.StepPayment)
				events, err := st.Store.Events(ctx, id, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				handedBack := 0
				for _, e := range events {
					if e.Action == tierup.ActionStepHandedBack {
						handedBack++
					}
				}
				switch {
				case tt.handedBack && (pay.Status != tierup.StepPending || pay.Attempts != 0 || pay.Worker != "" || handedBack != 1):
					t.Errorf("handed back: payment %+v, %d hand-backs", pay, handedBack)
				case !tt.handedBack && (pay.Status != tierup.StepSucceeded || pay.Attempts != 1 || handedBack != 0):
					t.Errorf("finished: payment %+v, %d hand-backs", pay, handedBack)
				}
				// One job is due (the payment's next run, or the next step), none
				// runs, none failed; the process left no heartbeat behind.
				for query, want := range map[string]int{
					`SELECT count(*) FROM river_job WHERE state = 'available'`:                     1,
					`SELECT count(*) FROM river_job WHERE state NOT IN ('available', 'completed')`: 0,
					`SELECT count(*) FROM river_job WHERE attempt > 1 OR errors IS NOT NULL`:       0,
					`SELECT count(*) FROM processes`:                                               0,
				} {
					if n := countRows(t, st.Store, query); n != want {
						t.Errorf("%s: %d, want %d", query, n, want)
					}
				}
				if err := st.Close(ctx); err != nil {
					t.Fatal(err)
				}

				h2 := start(t, dsn)
				u2 := h2.waitStatus(token, id, "completed")
				for _, s := range u2.List("steps") {
					if a := apitest.Dig(s, "attempts"); a != 1.0 {
						t.Errorf("step %v ran %v times", apitest.Dig(s, "name"), a)
					}
				}
				if charges, declines, refunds := h2.charges(); charges != 1 || declines != 0 || refunds != 0 {
					t.Errorf("%d charges, %d declines, %d refunds; want exactly one charge", charges, declines, refunds)
				}
			})
		})
	}
}

// follow opens an upgrade's event stream and returns a channel that
// receives all of it once the server ends it.
func follow(t *testing.T, url, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("event stream: %d %s", res.StatusCode, ct)
	}
	body := make(chan string, 1)
	go func() {
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body <- string(b)
	}()
	return body
}

// countRows runs a query that counts rows, on either database.
func countRows(t *testing.T, db *sqlstore.DB, query string) int {
	t.Helper()
	var n int
	if err := db.SQLDB().QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestShutdownIgnoresSpareConnections: a connection a client opened and
// never sent a request on (an HTTP client dials spares) is no request in
// flight. http.Server.Shutdown waits for such a connection until it is 5 s
// old, past the timeout here; Serve then closes it and reports no error,
// while a request really in flight still is one.
func TestShutdownIgnoresSpareConnections(t *testing.T) {
	ctx := context.Background()
	st, _, _ := openStack(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Shutdown = stack.Shutdown{Delay: 0, Timeout: 300 * time.Millisecond}
	})
	t.Cleanup(func() { st.Store.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sigterm, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- st.Serve(sigterm, ln, nil) }()
	h := &harness{Client: apitest.Client{T: t, BaseURL: "http://" + ln.Addr().String()}, st: st}
	h.Expect(h.Do("GET", "/healthz", "", nil), 200, "") // serving
	spare, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	stop() // SIGTERM
	if err := <-served; err != nil {
		t.Fatalf("Serve with a spare connection open: %v", err)
	}
	// The spare was closed by the server.
	_ = spare.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := spare.Read(make([]byte, 1)); err == nil {
		t.Errorf("the spare connection is still open (read %d bytes)", n)
	}
}
