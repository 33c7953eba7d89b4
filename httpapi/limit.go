package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// LimitConfig bounds how many requests the server works on at once. Past
// that, requests wait in a bounded queue for a bounded time, and the rest
// are shed at once: under more load than it can serve, the server keeps
// serving what it can promptly instead of slowing every request down
// until clients time out.
type LimitConfig struct {
	MaxInFlight int           // requests served at once (default 64)
	MaxQueue    int           // requests waiting for a slot; more are shed at once (default 256)
	QueueWait   time.Duration // longest a request waits for a slot before it is shed (default 1s)
	// RetryAfter is what a shed request is told to wait (Retry-After,
	// whole seconds; default 1s).
	RetryAfter time.Duration
	// Held, when set, is told of each request held because it came on a
	// connection sooner than the Retry-After its last 503 told (see
	// ConnContext), as the hold begins, on the request's goroutine: it
	// must be quick.
	Held func()
}

// DefaultLimitConfig returns the defaults; the CLI shows them in its
// flags.
func DefaultLimitConfig() LimitConfig {
	return LimitConfig{MaxInFlight: 64, MaxQueue: 256, QueueWait: time.Second, RetryAfter: time.Second}
}

// WithDefaults fills the unset fields from DefaultLimitConfig.
func (c LimitConfig) WithDefaults() LimitConfig {
	d := DefaultLimitConfig()
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.MaxQueue < 0 {
		c.MaxQueue = d.MaxQueue
	}
	if c.QueueWait <= 0 {
		c.QueueWait = d.QueueWait
	}
	if c.RetryAfter < time.Second {
		c.RetryAfter = d.RetryAfter
	}
	return c
}

// Limit serves h at most c.MaxInFlight requests at a time; one that
// finds no slot waits in a queue of c.MaxQueue for up to c.QueueWait, and
// is otherwise answered 503 with Retry-After and the code overloaded.
// Probes (/healthz, /readyz), /metrics and event streams are neither
// counted nor shed: a stream lasts as long as its upgrade, and a probe
// that failed under load would have the process restarted or taken out
// of the load balancer, which only moves the load.
func Limit(h http.Handler, c LimitConfig) http.Handler {
	c = c.WithDefaults()
	retry := strconv.Itoa(int(c.RetryAfter / time.Second))
	// The answer is made once: shedding must cost next to nothing, or it
	// takes the capacity it is meant to protect.
	body, _ := json.Marshal(newProblem(http.StatusServiceUnavailable, "overloaded", "the server is at capacity; retry after "+retry+" s"))
	return &limiter{next: h, cfg: c, slots: make(chan struct{}, c.MaxInFlight), retryAfter: []string{retry}, body: append(body, '\n')}
}

// ConnContext is for http.Server.ConnContext: it gives each connection a
// note of when a request on it was last shed, and Limit holds a request
// that comes on it before the Retry-After it was told has passed until it
// has, then admits or sheds it as any other. A client that does not wait
// (a closed-loop load generator, a retry loop without back-off) is
// otherwise answered 503 as fast as it asks, and each answer costs the
// server the reading and writing of a request, which under enough such
// clients leaves little for the requests it admitted. A held request
// costs a parked goroutine, at most one a connection.
//
// It assumes that a connection is one client's and carries one request at
// a time: HTTP/1.x requests only are held (HTTP/2's streams share a
// connection), and a server behind a reverse proxy, whose connections
// carry many clients' requests, must not set it.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connShed{epoch: time.Now()})
}

type connKey struct{}

// connShed is when a request on the connection was last shed: at holds
// the monotonic time since epoch, plus one so that zero can mean never (a
// shed in epoch's first nanosecond would otherwise read as none).
type connShed struct {
	epoch time.Time
	at    atomic.Int64
}

// connShedOf returns r's connection's note, or nil when r is not to be
// held (see ConnContext).
func connShedOf(r *http.Request) *connShed {
	if r.ProtoMajor != 1 {
		return nil
	}
	cs, _ := r.Context().Value(connKey{}).(*connShed)
	return cs
}

type limiter struct {
	next       http.Handler
	cfg        LimitConfig
	slots      chan struct{}
	waiting    atomic.Int64
	retryAfter []string
	body       []byte
}

func (l *limiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if unlimited(r) {
		l.next.ServeHTTP(w, r)
		return
	}
	if !l.holdAfterShed(r) {
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if !l.wait(w, r) {
			return
		}
	}
	defer func() { <-l.slots }()
	l.next.ServeHTTP(w, r)
}

// wait queues r for a slot, and answers it when none comes in time (or
// its client goes away); it reports whether r got one.
func (l *limiter) wait(w http.ResponseWriter, r *http.Request) bool {
	defer l.waiting.Add(-1)
	if l.waiting.Add(1) > int64(l.cfg.MaxQueue) {
		l.shed(w, r)
		return false
	}
	t := time.NewTimer(l.cfg.QueueWait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}: // blocked senders are served in order
		return true
	case <-t.C:
		l.shed(w, r)
	case <-r.Context().Done():
	}
	return false
}

// holdAfterShed waits until Retry-After has passed since a request on r's
// connection was shed (see ConnContext); it reports false when the client
// went away meanwhile.
func (l *limiter) holdAfterShed(r *http.Request) bool {
	cs := connShedOf(r)
	if cs == nil {
		return true
	}
	last := cs.at.Load()
	if last == 0 {
		return true
	}
	wait := time.Duration(last-1) + l.cfg.RetryAfter - time.Since(cs.epoch)
	if wait <= 0 {
		return true
	}
	if l.cfg.Held != nil {
		l.cfg.Held()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (l *limiter) shed(w http.ResponseWriter, r *http.Request) {
	if cs := connShedOf(r); cs != nil {
		cs.at.Store(int64(time.Since(cs.epoch)) + 1)
	}
	h := w.Header()
	h["Retry-After"], h["Content-Type"] = l.retryAfter, []string{"application/problem+json"}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(l.body)
}

// unlimited reports whether r is exempt from the limit: a probe, the
// metrics, or an event stream (the API's and the dashboard's).
func unlimited(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch p := r.URL.Path; {
	case p == "/healthz", p == "/readyz", p == "/metrics":
		return true
	case strings.HasSuffix(p, "/events"):
		return strings.HasPrefix(p, "/v1/upgrades/") || strings.HasPrefix(p, "/upgrades/")
	}
	return false
}
