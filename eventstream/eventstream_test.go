package eventstream_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/eventstream"
)

func TestLastEventID(t *testing.T) {
	for _, tc := range []struct {
		name, header, query string
		want                int64
		err                 error
	}{
		{"none", "", "", 0, nil},
		{"header", "7", "", 7, nil},
		{"query", "", "last_event_id=9", 9, nil},
		{"header wins", "3", "last_event_id=9", 3, nil},
		{"not a number", "x", "", 0, eventstream.ErrBadLastEventID},
		{"negative", "-1", "", 0, eventstream.ErrBadLastEventID},
		{"a sign", "+7", "", 0, eventstream.ErrBadLastEventID},
		{"minus zero", "-0", "", 0, eventstream.ErrBadLastEventID},
		{"a space", " 7", "", 0, eventstream.ErrBadLastEventID},
		{"a sign in the query", "", "last_event_id=%2B7", 0, eventstream.ErrBadLastEventID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/events?"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Last-Event-ID", tc.header)
			}
			got, err := eventstream.LastEventID(r)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("LastEventID = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// eventLog is an in-memory event log with a publish channel.
type eventLog struct {
	mu   sync.Mutex
	evs  []*tierup.UpgradeEvent
	wake chan struct{}
}

func (l *eventLog) add(action tierup.Action, publish bool) {
	l.mu.Lock()
	l.evs = append(l.evs, &tierup.UpgradeEvent{Seq: int64(len(l.evs) + 1), Action: action})
	l.mu.Unlock()
	if publish {
		l.wake <- struct{}{}
	}
}

func (l *eventLog) stream(poll time.Duration) eventstream.Stream {
	return eventstream.Stream{
		Events: func(_ context.Context, after int64, limit int) ([]*tierup.UpgradeEvent, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			var out []*tierup.UpgradeEvent
			for _, e := range l.evs {
				if e.Seq > after && len(out) < limit {
					out = append(out, e)
				}
			}
			return out, nil
		},
		Subscribe: func() (<-chan struct{}, func()) { return l.wake, func() {} },
		Payload:   func(e *tierup.UpgradeEvent) any { return map[string]int64{"seq": e.Seq} },
		Poll:      poll,
	}
}

// read follows the stream from lastID and returns the id, event and data
// lines of the first n events.
func read(t *testing.T, url, lastID string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var lines []string
	sc := bufio.NewScanner(res.Body)
	for len(lines) < 3*n && sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "retry:") && !strings.HasPrefix(l, ":") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestServe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lastID  string
		poll    time.Duration
		publish bool // the later event is published in process, else only polled
		want    []string
	}{
		{"from the start, woken by a publish", "", time.Hour, true,
			[]string{"id: 1", "event: created", `data: {"seq":1}`, "id: 2", "event: charged", `data: {"seq":2}`, "id: 3", "event: completed", `data: {"seq":3}`}},
		{"resumed after the first, woken by a publish", "1", time.Hour, true,
			[]string{"id: 2", "event: charged", `data: {"seq":2}`, "id: 3", "event: completed", `data: {"seq":3}`}},
		{"another process's event, found by polling", "2", 10 * time.Millisecond, false,
			[]string{"id: 3", "event: completed", `data: {"seq":3}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &eventLog{wake: make(chan struct{})}
			l.add("created", false)
			l.add("charged", false)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				after, err := eventstream.LastEventID(r)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				l.stream(tc.poll).Serve(w, r, after)
			}))
			defer srv.Close()
			go func() {
				time.Sleep(50 * time.Millisecond) // after the stream caught up
				l.add("completed", tc.publish)
			}()
			got := read(t, srv.URL, tc.lastID, len(tc.want)/3)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("stream:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestServeEndsWhenTheLogFails: a read failure ends the stream instead of
// spinning.
func TestServeEndsWhenTheLogFails(t *testing.T) {
	s := eventstream.Stream{
		Events: func(context.Context, int64, int) ([]*tierup.UpgradeEvent, error) {
			return nil, errors.New("database is down")
		},
		Subscribe: func() (<-chan struct{}, func()) { return nil, func() {} },
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		s.Serve(rec, httptest.NewRequest("GET", "/", nil), 0)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "retry: 2000") {
		t.Errorf("%d %q", rec.Code, rec.Body.String())
	}
}

// TestServeEnds: a stream ends when the server shuts down, with a last
// message asking the client to reconnect after a second (another replica
// answers) and dispatching no event, and when its client goes away, with
// nothing more written.
func TestServeEnds(t *testing.T) {
	const notice = ": the server is shutting down; reconnect\nretry: 1000\n\n"
	for _, tc := range []struct {
		name     string
		shutdown bool // else the client goes away
	}{
		{"the server shuts down", true},
		{"the client goes away", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &eventLog{wake: make(chan struct{})}
			l.add("created", false)
			down := make(chan struct{})
			ctx, gone := context.WithCancel(eventstream.WithShutdown(context.Background(), down))
			defer gone()
			rec := httptest.NewRecorder() // written only by Serve until it returns
			done := make(chan struct{})
			go func() {
				l.stream(time.Hour).Serve(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx), 0)
				close(done)
			}()
			l.add("charged", true) // received: the stream waits past both events
			if tc.shutdown {
				close(down)
			} else {
				gone()
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return")
			}
			body := rec.Body.String()
			if !strings.HasPrefix(body, "retry: 2000\n\n") || !strings.Contains(body, "id: 1\n") {
				t.Errorf("stream lacks its start or events: %q", body)
			}
			if got := strings.HasSuffix(body, notice); got != tc.shutdown {
				t.Errorf("ends with the reconnect notice = %v, want %v: %q", got, tc.shutdown, body)
			}
		})
	}
}
