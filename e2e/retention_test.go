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
// upgrade with its audit log stays.
func TestFinishedJobsPurged(t *testing.T) {
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Queue.FinishedJobRetention = time.Millisecond })
	_, token := hobby(h, "retention@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	h.waitStatus(token, id, "completed")
	jobs := func(state string) int {
		var n int
		if err := h.st.Store.SQLDB().QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE state = ?`, state).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if jobs("completed") == 0 {
		t.Fatal("no completed job to purge")
	}
	deadline := time.Now().Add(2 * time.Minute) // only bounds a hung test
	for jobs("completed") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d completed jobs still there", jobs("completed"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if u := h.Do("GET", "/v1/upgrades/"+id, token, nil); u.Str("status") != "completed" {
		t.Errorf("the upgrade after the purge: %s", u.Raw)
	}
	if acts := h.actions(token, id); count(acts, "completed") != 1 {
		t.Errorf("the audit log after the purge: %v", acts)
	}
}
