package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTP times each request by method, route template and status, and
// counts the event streams open. The route is the pattern the innermost
// http.ServeMux matched (huma registers its operations there, so it is
// the operation's path template): never the raw path, which carries IDs.
// A request no pattern matched is "unmatched". An event stream is told by
// its Content-Type; it counts as open until its handler returns.
func (m *Metrics) HTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, m: m}
		defer func() {
			if rec.stream {
				m.streamsOpen.Dec()
			}
		}()
		h.ServeHTTP(rec, r)
		m.httpDuration.WithLabelValues(method(r.Method), route(r.Pattern), strconv.Itoa(rec.status)).
			Observe(time.Since(start).Seconds())
	})
}

// HTTPHeld counts a request held after its connection's last 503 (for
// httpapi.LimitConfig.Held).
func (m *Metrics) HTTPHeld() { m.httpHeld.Inc() }

// route is a pattern's path: the method has its own label.
func route(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return strings.TrimSpace(path)
	}
	return pattern
}

func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

type recorder struct {
	http.ResponseWriter
	m       *Metrics
	status  int
	written bool
	stream  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.written, r.status = true, code
		if code == http.StatusOK && strings.HasPrefix(r.Header().Get("Content-Type"), "text/event-stream") {
			r.stream = true
			r.m.streamsOpen.Inc()
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.written {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the Flusher behind.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
