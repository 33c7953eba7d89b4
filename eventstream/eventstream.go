// Package eventstream serves one upgrade's event log as Server-Sent Events,
// for the API and the dashboard alike: every event after the client's
// Last-Event-ID, then each new one as it happens, so a client that lost its
// connection resumes exactly where it left off. New events are found by
// polling the log (another process may have written them) and at once when
// this process publishes one.
package eventstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
)

// batch bounds the events read from the log at a time.
const batch = 500

// Reconnection delays asked of EventSource clients: retryDelay from the
// stream's start, restartRetryDelay when the server shuts down (another
// replica answers at once).
const (
	retryDelay        = 2 * time.Second
	restartRetryDelay = time.Second
	restartingNotice  = "the server is shutting down; reconnect"
)

type shutdownKey struct{}

// WithShutdown returns ctx carrying done: a stream served under it ends when
// done closes, with a last message that tells the client to reconnect soon
// (to another replica, behind a load balancer) instead of waiting. A server
// makes it its requests' base context and closes done when it shuts down.
func WithShutdown(ctx context.Context, done <-chan struct{}) context.Context {
	return context.WithValue(ctx, shutdownKey{}, done)
}

// Stream is one upgrade's event stream. Events and Subscribe are required.
type Stream struct {
	// Events returns up to limit events after seq after, oldest first.
	Events func(ctx context.Context, after int64, limit int) ([]*tierup.UpgradeEvent, error)
	// Subscribe returns a channel that is signalled when this process
	// publishes a change, and a function that releases it.
	Subscribe func() (wake <-chan struct{}, stop func())
	// Payload is what each event's data line carries, JSON-encoded; when
	// nil, the event's seq and action (all the dashboard reads: it reloads
	// its page on each event). The API sends its own shape (httpapi).
	Payload func(*tierup.UpgradeEvent) any
	// Log receives the read failures that end a stream.
	Log *slog.Logger
	// Poll is how often the log is read for other processes' changes (1s
	// when zero); Heartbeat how often a comment keeps idle connections open
	// (15s when zero).
	Poll, Heartbeat time.Duration
}

// ErrBadLastEventID is LastEventID's error for an ID that is not an
// event's number.
var ErrBadLastEventID = errors.New("Last-Event-ID must be the number of an event")

// LastEventID is the seq the client saw last: the Last-Event-ID header,
// else the last_event_id query parameter (for a client that cannot send
// headers), else 0. Errors: ErrBadLastEventID.
func LastEventID(r *http.Request) (int64, error) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if last == "" {
		return 0, nil
	}
	// Digits only: an ID is what the stream wrote, never "+7" or "-0",
	// which ParseInt would take.
	if strings.Trim(last, "0123456789") != "" {
		return 0, ErrBadLastEventID
	}
	after, err := strconv.ParseInt(last, 10, 64)
	if err != nil {
		return 0, ErrBadLastEventID
	}
	return after, nil
}

// Serve streams the events after seq after until the client goes away,
// the log cannot be read (logged) or the server shuts down (WithShutdown).
// The caller has checked that the client may read the upgrade; Serve
// writes the status line itself.
func (s Stream) Serve(w http.ResponseWriter, r *http.Request, after int64) {
	ctx := r.Context()
	shutdown, _ := ctx.Value(shutdownKey{}).(<-chan struct{}) // nil: never
	payload := s.Payload
	if payload == nil {
		payload = func(e *tierup.UpgradeEvent) any {
			return struct {
				Seq    int64         `json:"seq"`
				Action tierup.Action `json:"action"`
			}{e.Seq, e.Action}
		}
	}
	rc := http.NewResponseController(w) // reaches the Flusher behind wrappers
	wake, stop := s.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n\n", retryDelay.Milliseconds())
	_ = rc.Flush()

	poll := time.NewTicker(orDefault(s.Poll, time.Second))
	defer poll.Stop()
	heartbeat := time.NewTicker(orDefault(s.Heartbeat, 15*time.Second))
	defer heartbeat.Stop()
	for {
		evs, err := s.Events(ctx, after, batch)
		if err != nil {
			if ctx.Err() == nil && s.Log != nil {
				s.Log.WarnContext(ctx, "event stream", "err", err)
			}
			return
		}
		for _, e := range evs {
			data, err := json.Marshal(payload(e))
			if err != nil {
				if s.Log != nil {
					s.Log.ErrorContext(ctx, "event stream: encoding an event", "seq", e.Seq, "err", err)
				}
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Action, data); err != nil {
				return
			}
			after = e.Seq
		}
		if len(evs) > 0 {
			_ = rc.Flush()
		}
		if len(evs) == batch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-shutdown:
			// A comment and a retry field dispatch no event: clients need
			// no new event type, and EventSource reconnects after the
			// shorter delay with the Last-Event-ID it has.
			fmt.Fprintf(w, ": %s\nretry: %d\n\n", restartingNotice, restartRetryDelay.Milliseconds())
			_ = rc.Flush()
			return
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			_ = rc.Flush()
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Upgrade is the stream of upgrade id's events as the principal may read
// them from a's event log, woken by a's publishes.
func Upgrade(a *app.App, p app.Principal, id string, log *slog.Logger) Stream {
	return Stream{
		Events: func(ctx context.Context, after int64, limit int) ([]*tierup.UpgradeEvent, error) {
			return a.Events(ctx, p, id, after, limit)
		},
		Subscribe: func() (<-chan struct{}, func()) { return a.Subscribe(id) },
		Log:       log.With("upgrade", id),
	}
}
