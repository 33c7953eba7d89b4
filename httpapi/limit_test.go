package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
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
// then admitted if a slot is free by then; one on another connection is
// not held. Needs a real server: the hold is kept by connection.
func TestLimitHoldsAfterShed(t *testing.T) {
	b := newBlocking()
	srv := httptest.NewUnstartedServer(Limit(b, LimitConfig{MaxInFlight: 1, MaxQueue: 0, RetryAfter: time.Second}))
	srv.Config.ConnContext = ConnContext
	srv.Start()
	defer srv.Close()
	var once sync.Once
	release := func() { once.Do(func() { close(b.release) }) }
	defer release() // before Close, which waits for /slow
	slow := make(chan int)
	go func() {
		res, err := http.Get(srv.URL + "/slow")
		if err != nil {
			t.Error(err)
			slow <- 0
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	<-b.entered // the one slot is taken

	// One connection each, kept alive between its requests.
	hasty := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	other := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	get := func(c *http.Client) int {
		res, err := c.Get(srv.URL + "/v1/account")
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body) // so that the connection is kept
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(hasty); code != http.StatusServiceUnavailable {
		t.Fatalf("with the slot taken: %d, want 503", code)
	}
	again := make(chan int)
	go func() { again <- get(hasty) }()
	// Another connection is shed at once while the hasty one is held:
	// its answer comes before the slot is freed.
	if code := get(other); code != http.StatusServiceUnavailable {
		t.Errorf("another connection, the slot taken: %d, want 503", code)
	}
	select {
	case code := <-again:
		t.Fatalf("the hasty connection's next request was answered %d before its Retry-After passed", code)
	default:
	}
	release() // within the hold, which then finds the slot free
	if code := <-again; code != http.StatusNoContent {
		t.Errorf("the held request: %d, want it served once the slot was free", code)
	}
	if code := <-slow; code != http.StatusNoContent {
		t.Errorf("the request holding the slot: %d", code)
	}
}
