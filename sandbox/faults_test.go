package sandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sandbox"
)

// TestFaultsKept checks what a kept read of the faults may and may not
// hide: this process's own changes never, another process's for at most
// Refresh (an hour here, so that it certainly has not passed; zero reads
// on every call).
func TestFaultsKept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		clock := tierup.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		shortage := tierup.FaultSpec{Kind: sandbox.FaultResourceShortage, Count: 1}
		unreachable := tierup.FaultSpec{Kind: sandbox.FaultClusterUnreachable, Duration: time.Minute}
		tests := []struct {
			name    string
			refresh time.Duration
			// before is injected before the read that is kept here; then
			// the change is made through here or through another
			// process's Faults, and the snapshot taken here must show
			// want.
			before *tierup.FaultSpec
			own    bool
			do     func(f *sandbox.Faults) error
			want   func(s sandbox.Snapshot) bool
		}{
			{"own fault injected", time.Hour, nil, true,
				func(f *sandbox.Faults) error { _, err := f.Inject(ctx, unreachable); return err },
				func(s sandbox.Snapshot) bool { return s.Active(sandbox.FaultClusterUnreachable) }},
			{"own fault cleared", time.Hour, &unreachable, true,
				func(f *sandbox.Faults) error { return f.Clear(ctx, sandbox.FaultClusterUnreachable) },
				func(s sandbox.Snapshot) bool { return !s.Active(sandbox.FaultClusterUnreachable) }},
			{"another's fault, within Refresh", time.Hour, nil, false,
				func(f *sandbox.Faults) error { _, err := f.Inject(ctx, unreachable); return err },
				func(s sandbox.Snapshot) bool { return !s.Active(sandbox.FaultClusterUnreachable) }},
			{"another's fault, no Refresh", 0, nil, false,
				func(f *sandbox.Faults) error { _, err := f.Inject(ctx, unreachable); return err },
				func(s sandbox.Snapshot) bool { return s.Active(sandbox.FaultClusterUnreachable) }},
			{"another's count, within Refresh", time.Hour, nil, false,
				func(f *sandbox.Faults) error { _, err := f.Inject(ctx, shortage); return err },
				func(s sandbox.Snapshot) bool { return !s.Pending(sandbox.FaultResourceShortage) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, kind := range sandbox.FaultKinds() {
					if err := (&sandbox.Faults{Store: db, Clock: clock}).Clear(ctx, kind); err != nil {
						t.Fatal(err)
					}
				}
				tally := sandbox.NewTally(db)
				here := &sandbox.Faults{Store: tally, Clock: clock, Refresh: tt.refresh}
				other := &sandbox.Faults{Store: db, Clock: clock}
				if tt.before != nil {
					if _, err := other.Inject(ctx, *tt.before); err != nil {
						t.Fatal(err)
					}
				}
				if s, err := here.Now(ctx); err != nil { // the read kept
					t.Fatal(err)
				} else if tt.before != nil && !s.Active(tt.before.Kind) {
					t.Fatal("the first read does not show the fault injected before it")
				}
				by := other
				if tt.own {
					by = here
				}
				if err := tt.do(by); err != nil {
					t.Fatal(err)
				}
				s, err := here.Now(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !tt.want(s) {
					t.Errorf("the snapshot after the change does not show what it should")
				}
				// Until something changes here, calls within Refresh read
				// nothing more.
				reads, _ := tally.Calls()
				for range 3 {
					if _, err := here.Now(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if again, _ := tally.Calls(); tt.refresh > 0 && again != reads {
					t.Errorf("%d reads for 3 calls within Refresh, want none", again-reads)
				} else if tt.refresh == 0 && again != reads+3 {
					t.Errorf("%d reads for 3 calls with no Refresh, want 3", again-reads)
				}
			})
		}

		// A count another process used up is not used again here, though
		// the kept snapshot still shows it pending.
		t.Run("count used up by another", func(t *testing.T) {
			here := &sandbox.Faults{Store: db, Clock: clock, Refresh: time.Hour}
			other := &sandbox.Faults{Store: db, Clock: clock}
			if _, err := here.Inject(ctx, shortage); err != nil {
				t.Fatal(err)
			}
			s, err := here.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if fail, err := other.Consume(ctx, s, sandbox.FaultResourceShortage); err != nil || !fail {
				t.Fatalf("the other process's call: fail %v, %v; want the one failure", fail, err)
			}
			if !s.Pending(sandbox.FaultResourceShortage) {
				t.Fatal("the kept snapshot no longer shows the count pending")
			}
			if fail, err := here.Consume(ctx, s, sandbox.FaultResourceShortage); err != nil || fail {
				t.Errorf("this process's call: fail %v, %v; want none, the count is used up", fail, err)
			}
			if s, err = here.Now(ctx); err != nil || s.Pending(sandbox.FaultResourceShortage) {
				t.Errorf("after the use: pending %v, %v; want read again and none", s.Pending(sandbox.FaultResourceShortage), err)
			}
		})
	})
}
