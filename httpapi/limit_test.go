package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// blocking is a handler whose requests to /slow wait until released.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/slow" {
		b.entered <- struct{}{}
		<-b.release
	}
	w.WriteHeader(http.StatusNoContent)
}

func serve(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestLimitSheds(t *testing.T) {
	b := newBlocking()
	h := Limit(b, LimitConfig{MaxInFlight: 1, MaxQueue: 0})
	done := make(chan int)
	go func() { done <- serve(h, "GET", "/slow").Code }()
	<-b.entered // the one slot is taken

	w := serve(h, "POST", "/v1/quotes")
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("shed answer %q: %v", w.Body, err)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" ||
		w.Header().Get("Content-Type") != "application/problem+json" || p.Code != "overloaded" || p.Status != 503 {
		t.Errorf("shed: %d %v %+v", w.Code, w.Header(), p)
	}
	// Probes, metrics and event streams are not counted against the
	// limit and never shed.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/v1/upgrades/upg_1/events", "/upgrades/upg_1/events"} {
		if w := serve(h, "GET", path); w.Code != http.StatusNoContent {
			t.Errorf("GET %s while saturated: %d", path, w.Code)
		}
	}
	// Only those: a POST to a stream's path, or another GET, is limited.
	for _, r := range [][2]string{{"POST", "/v1/upgrades/upg_1/events"}, {"GET", "/v1/account"}, {"GET", "/v1/plans/events"}} {
		if w := serve(h, r[0], r[1]); w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s while saturated: %d, want 503", r[0], r[1], w.Code)
		}
	}
	close(b.release)
	if code := <-done; code != http.StatusNoContent {
		t.Errorf("the request holding the slot: %d", code)
	}
	if w := serve(h, "GET", "/v1/account"); w.Code != http.StatusNoContent {
		t.Errorf("after the slot was freed: %d", w.Code)
	}
}

func TestLimitQueues(t *testing.T) {
	tests := []struct {
		name     string
		wait     time.Duration
		release  bool // whether the slot frees while the second request waits
		wantCode int
	}{
		{"a slot frees in time", time.Hour, true, http.StatusNoContent},
		{"no slot in time", time.Millisecond, false, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBlocking()
			h := Limit(b, LimitConfig{MaxInFlight: 1, MaxQueue: 1, QueueWait: tt.wait})
			var wg sync.WaitGroup
			wg.Go(func() { serve(h, "GET", "/slow") })
			<-b.entered
			queued := make(chan int)
			go func() { queued <- serve(h, "GET", "/slow").Code }()
			if tt.release {
				b.release <- struct{}{} // the first finishes
				<-b.entered             // the queued one got its slot
				close(b.release)
			}
			if code := <-queued; code != tt.wantCode {
				t.Errorf("queued request: %d, want %d", code, tt.wantCode)
			}
			if !tt.release {
				close(b.release)
			}
			wg.Wait()
		})
	}
}

// TestLimitQueueBound: past MaxQueue waiting requests, one is shed at
// once, without waiting out QueueWait.
func TestLimitQueueBound(t *testing.T) {
	b := newBlocking()
	h := Limit(b, LimitConfig{MaxInFlight: 1, MaxQueue: 2, QueueWait: time.Hour})
	var wg sync.WaitGroup
	wg.Go(func() { serve(h, "GET", "/slow") })
	<-b.entered
	l := h.(*limiter)
	for range 2 {
		wg.Go(func() { serve(h, "GET", "/slow") })
	}
	for l.waiting.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if w := serve(h, "GET", "/v1/account"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("with the queue full: %d, want 503", w.Code)
	}
	close(b.release)
	wg.Wait()
}

// TestLimitHoldsAfterShed: a request that comes on a connection sooner
// than the Retry-After its last 503 told is held until that has passed,
// then admitted if a slot is free by then; one on another connection, one
// over HTTP/2 and one whose client leaves are not held. In a synctest
// bubble, so that "still held" and "answered at 1 s" are exact.
func TestLimitHoldsAfterShed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBlocking()
		var holds atomic.Int64
		h := Limit(b, LimitConfig{MaxInFlight: 1, MaxQueue: 0, RetryAfter: time.Second, Held: func() { holds.Add(1) }})
		conn := func() context.Context { return ConnContext(context.Background(), nil) }
		hasty, other := conn(), conn()
		type answer struct {
			code int
			at   time.Duration
		}
		start := time.Now()
		send := func(ctx context.Context, path string, proto int) <-chan answer {
			done := make(chan answer, 1)
			go func() {
				r := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
				r.ProtoMajor = proto
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				done <- answer{w.Code, time.Since(start)}
			}()
			return done
		}
		slow := send(hasty, "/slow", 1)
		<-b.entered // the one slot is taken
		if a := <-send(hasty, "/v1/account", 1); a.code != http.StatusServiceUnavailable || a.at != 0 {
			t.Fatalf("with the slot taken: %d at %v, want 503 at once", a.code, a.at)
		}

		time.Sleep(300 * time.Millisecond)
		held := send(hasty, "/v1/account", 1)
		if a := <-send(other, "/v1/account", 1); a.code != http.StatusServiceUnavailable || a.at != 300*time.Millisecond {
			t.Errorf("another connection: %d at %v, want 503 at once", a.code, a.at)
		}
		if a := <-send(hasty, "/v1/account", 2); a.code != http.StatusServiceUnavailable || a.at != 300*time.Millisecond {
			t.Errorf("HTTP/2 on the shed connection: %d at %v, want 503 at once", a.code, a.at)
		}
		gone, leave := context.WithCancel(hasty)
		left := send(gone, "/v1/account", 1)
		synctest.Wait()
		leave()
		if a := <-left; a.code != http.StatusOK || a.at != 300*time.Millisecond { // the recorder's default: nothing written
			t.Errorf("a client that left during the hold: %d at %v, want nothing written at once", a.code, a.at)
		}

		b.release <- struct{}{} // the slot is free well within the hold
		if a := <-slow; a.code != http.StatusNoContent {
			t.Errorf("the request holding the slot: %d", a.code)
		}
		time.Sleep(time.Second - 300*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		select {
		case a := <-held:
			t.Fatalf("the held request was answered %d at %v, before its Retry-After passed", a.code, a.at)
		default:
		}
		time.Sleep(time.Nanosecond)
		if a := <-held; a.code != http.StatusNoContent || a.at != time.Second {
			t.Errorf("the held request: %d at %v, want 204 at 1s", a.code, a.at)
		}
		if a := <-send(hasty, "/v1/account", 1); a.code != http.StatusNoContent || a.at != time.Second {
			t.Errorf("the next request on the connection: %d at %v, want 204 at once", a.code, a.at)
		}
		if n := holds.Load(); n != 2 { // the held request and the one whose client left
			t.Errorf("Held told of %d holds, want 2", n)
		}
	})
}

// TestConnContextByConnection: the requests of one keep-alive connection
// share the note of their sheds, and another connection has its own.
func TestConnContextByConnection(t *testing.T) {
	var mu sync.Mutex
	seen := map[*connShed]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[connShedOf(r)]++
	}))
	srv.Config.ConnContext = ConnContext
	srv.Start()
	defer srv.Close()
	for range 2 {
		c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
		for range 3 {
			res, err := c.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body) // so that the connection is kept
			res.Body.Close()
		}
		c.CloseIdleConnections()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[nil] != 0 {
		t.Fatalf("requests by connection note: %v, want 2 notes with 3 requests each", seen)
	}
	for cs, n := range seen {
		if n != 3 {
			t.Errorf("%p: %d requests, want 3", cs, n)
		}
	}
}
