package sqlstore_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

func TestResumeCandidates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		stalledBefore := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		f := fixture{t, db, stalledBefore}
		stallAfter := time.Hour
		running := func(worker string, updated time.Duration) func(u *tierup.Upgrade) {
			return func(u *tierup.Upgrade) {
				u.UpdatedAt = stalledBefore.Add(updated)
				if worker != "" {
					u.Steps[0].Status, u.Steps[0].Worker = tierup.StepRunning, worker
				}
			}
		}
		retryLater := stalledBefore.Add(time.Hour)
		tests := []struct {
			id        string
			edit      func(u *tierup.Upgrade)
			candidate bool
		}{
			{"upg_fresh", running("fresh", time.Hour), false},
			{"upg_never", running("never", time.Hour), true},
			{"upg_stale", running("stale", time.Hour), true},
			{"upg_stalled", running("", -time.Hour), true},
			{"upg_waiting", running("", time.Hour), false},
			{"upg_card", func(u *tierup.Upgrade) { running("", -time.Hour)(u); u.Status = tierup.UpgradePaymentFailed }, false},
			{"upg_cancel", func(u *tierup.Upgrade) {
				running("", -time.Hour)(u)
				u.Status, u.CancelRequestedAt = tierup.UpgradePaymentFailed, &stalledBefore
			}, true},
			{"upg_done", func(u *tierup.Upgrade) { running("never", -time.Hour)(u); u.Status = tierup.UpgradeCompleted }, false},
			{"upg_retry", func(u *tierup.Upgrade) { running("", -time.Hour)(u); u.Steps[0].NextRetryAt = &retryLater }, false},
		}
		var want []string
		for i, tt := range tests {
			u, err := f.upgrade(tt.id, "", func(u *tierup.Upgrade) {
				u.CreatedAt = stalledBefore.Add(time.Duration(i) * time.Second)
				tt.edit(u)
			})
			if err != nil {
				t.Fatal(err)
			}
			// The store keeps due_at by its own clock, from the write on:
			// age the ones last changed before stalledBefore by two hours.
			if u.UpdatedAt.Before(stalledBefore) {
				due := time.Now().Add(-2*time.Hour + u.DueAt().Sub(u.UpdatedAt))
				if _, err := sqlstore.Exec(ctx, db, `UPDATE upgrades SET due_at = $1 WHERE id = $2`, due, u.ID); err != nil {
					t.Fatal(err)
				}
			}
			if tt.candidate {
				want = append(want, tt.id)
			}
		}
		for _, p := range []string{"fresh", "stale", "old"} {
			if err := db.Heartbeat(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Heartbeat(ctx, "fresh"); err != nil { // a second beat updates
			t.Fatal(err)
		}
		if found, err := db.RefreshHeartbeat(ctx, "fresh"); err != nil || !found {
			t.Fatalf("refreshing fresh's heartbeat: %v, %v; want true", found, err)
		}
		// Age two heartbeats behind the store's back.
		if _, err := sqlstore.Exec(ctx, db, `UPDATE processes SET seen_at = $1 WHERE id = 'stale'`, time.Now().Add(-10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlstore.Exec(ctx, db, `UPDATE processes SET seen_at = $1 WHERE id = 'old'`, time.Now().Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}

		got, err := db.ResumeCandidates(ctx, time.Minute, stallAfter)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, u := range got {
			ids = append(ids, u.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("candidates %v, want %v", ids, want)
		}

		// The steps marked running in one process, whatever its heartbeat;
		// a finished upgrade's step is no longer running anywhere.
		for process, want := range map[string][]string{"fresh": {"upg_fresh"}, "never": {"upg_never"}, "old": nil} {
			got, err := db.RunningIn(ctx, process)
			var ids []string
			for _, u := range got {
				ids = append(ids, u.ID)
			}
			if err != nil || !slices.Equal(ids, want) {
				t.Errorf("RunningIn(%s) = %v, %v; want %v", process, ids, err, want)
			}
		}

		n, err := db.SweepProcesses(ctx, time.Hour)
		if err != nil || n != 1 {
			t.Errorf("swept %d, %v; want 1 (old)", n, err)
		}
		if n, err := db.SweepProcesses(ctx, 5*time.Minute); err != nil || n != 1 {
			t.Errorf("swept %d, %v; want 1 (stale)", n, err)
		}
		// The fresh one stays: its upgrade is still no candidate.
		got, err = db.ResumeCandidates(ctx, time.Minute, stallAfter)
		if err != nil || len(got) != len(want) {
			t.Errorf("after sweeping: %d candidates, %v", len(got), err)
		}
		// A tiny timeout makes every beat stale.
		time.Sleep(20 * time.Millisecond)
		if got, err := db.ResumeCandidates(ctx, time.Millisecond, stallAfter); err != nil || len(got) != len(want)+1 {
			t.Errorf("with a 1ms timeout: %d candidates, %v; want %d", len(got), err, len(want)+1)
		}
		// A process that stopped cleanly deletes its heartbeat: its running
		// step is a candidate at once, with no heartbeat to age.
		if err := db.DeleteHeartbeat(ctx, "fresh"); err != nil {
			t.Fatal(err)
		}
		if got, err := db.ResumeCandidates(ctx, time.Hour, stallAfter); err != nil || len(got) != len(want)+1 || got[0].ID != "upg_fresh" {
			t.Errorf("after deleting fresh's heartbeat: %d candidates, %v; want %d, upg_fresh first", len(got), err, len(want)+1)
		}
		// A beat that lands after the delete (its statement was cancelled
		// in flight, yet committed) does not bring the heartbeat back.
		if found, err := db.RefreshHeartbeat(ctx, "fresh"); err != nil || found {
			t.Errorf("refreshing a deleted heartbeat: %v, %v; want false", found, err)
		}
		if n, err := db.SweepProcesses(ctx, 0); err != nil || n != 0 {
			t.Errorf("swept %d, %v after the last heartbeat was deleted; want 0", n, err)
		}
	})
}

// TestLeasesReadNoGoClock checks the property the leases rest on: the
// heartbeat methods and the SQL helpers they use never read the Go clock.
func TestLeasesReadNoGoClock(t *testing.T) {
	funcs := map[string]bool{"Heartbeat": false, "RefreshHeartbeat": false, "DeleteHeartbeat": false, "RunningIn": false, "ResumeCandidates": false, "SweepProcesses": false, "nowSQL": false, "agoSQL": false, "laterSQL": false, "secondsArg": false}
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pkgs["sqlstore"].Files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if _, want := funcs[fn.Name.Name]; !want {
				continue
			}
			funcs[fn.Name.Name] = true
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "time" && slices.Contains([]string{"Now", "Since", "Until"}, sel.Sel.Name) {
						t.Errorf("%s reads the Go clock (time.%s)", fn.Name.Name, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	for name, seen := range funcs {
		if !seen {
			t.Errorf("%s not found", name)
		}
	}
}
