package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// TestFinishedJobsPurged: with a short retention, the job queue's jobs of
// a completed upgrade are purged (by River's cleaner, every 30 s), and the
// upgrade with its audit log stays; with the default (24 h) they are kept.
func TestFinishedJobsPurged(t *testing.T) {
	for _, tt := range []struct {
		name      string
		retention time.Duration
		purged    bool
	}{
		{"default retention keeps them", 0, false},
		{"short retention purges them", time.Millisecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Queue.FinishedJobRetention = tt.retention })
			_, token := hobby(h, "retention@example.com")
			id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
			h.waitStatus(token, id, "completed")
			completed := func() int {
				var n int
				if err := h.st.Store.SQLDB().QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if !tt.purged {
				if completed() == 0 {
					t.Fatal("the completed jobs are gone although they are kept 24 h")
				}
				return
			}
			deadline := time.Now().Add(2 * time.Minute) // only bounds a hung test
			for completed() > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d completed jobs still there", completed())
				}
				time.Sleep(500 * time.Millisecond)
			}
			if u := h.Do("GET", "/v1/upgrades/"+id, token, nil); u.Str("status") != "completed" {
				t.Errorf("the upgrade after the purge: %s", u.Raw)
			}
			if acts := h.actions(token, id); count(acts, "completed") != 1 {
				t.Errorf("the audit log after the purge: %v", acts)
			}
		})
	}
}
