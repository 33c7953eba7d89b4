package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestMigrationShares: after the listing's own commit, moves quicker than
// ProgressEvery share one commit of the upgrade, each recorded with an
// event of its own at the time it ended and showing the upgrade as it left
// it (the dashboard's move times and "k of n" read them); a move that
// fails midway keeps the moves before it; a cancel that came during the
// moves finds each of them recorded, and compensation returns them all.
func TestMigrationShares(t *testing.T) {
	four := []tierup.Workload{{Kind: "Deployment", Name: "a", Replicas: 1, Node: "shared"}, {Kind: "Deployment", Name: "b", Replicas: 1, Node: "shared"},
		{Kind: "Deployment", Name: "c", Replicas: 1, Node: "shared"}, {Kind: "Deployment", Name: "d", Replicas: 1, Node: "shared"}}
	tests := []struct {
		name      string
		prep      func(r *rig)
		moved     []string          // migrated when the first migration run committed
		state     tierup.StepStatus // the migration step then
		notes     int               // progress events that run recorded
		canceled  bool
		returned  []string // the workloads compensation returned
		finalMove int      // moves made in all
	}{
		{name: "every move in one commit", moved: []string{"a", "b", "c", "d"}, state: tierup.StepSucceeded, notes: 3, finalMove: 4},
		{name: "a move that fails keeps the moves before it",
			prep: func(r *rig) {
				r.cluster.migrateErrs = map[string]error{"c": tierup.Errorf(tierup.CodeMigrationFailed, "c did not become ready; rolled back")}
			},
			moved: []string{"a", "b"}, state: tierup.StepRetrying, notes: 2, finalMove: 5},
		{name: "a cancel during the moves",
			prep: func(r *rig) {
				r.cluster.onMigrate = func(_ context.Context, w tierup.Workload) {
					if w.Name == "b" {
						if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
							panic(err)
						}
					}
				}
			},
			moved: []string{"a", "b", "c", "d"}, state: tierup.StepSucceeded, notes: 3, canceled: true, returned: []string{"a", "b", "c", "d"}, finalMove: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.e.cfg.ProgressEvery = time.Hour
			r.cluster.workloads = four
			if tt.prep != nil {
				tt.prep(r)
			}
			hook := r.cluster.onMigrate
			r.cluster.onMigrate = func(ctx context.Context, w tierup.Workload) {
				r.clock.now = r.clock.now.Add(time.Second) // each move takes a second of the test's time
				if hook != nil {
					hook(ctx, w)
				}
			}
			r.create(t)
			for r.upgrade(t).CurrentStep != tierup.StepMigrateWorkloads {
				r.runOne(t)
			}
			// The provisioning listed them, committed with its nodes.
			if u := r.upgrade(t); len(u.Workloads) != len(four) || u.NextToMove(-1) != 0 || len(r.cluster.placed) != 0 {
				t.Fatalf("after the provisioning: %+v, %v moved", u.Workloads, r.cluster.placed)
			}
			writes, events := r.store.st.writes, len(r.store.st.events)
			r.runOne(t) // the migration's job: its claim, then the moves

			u := r.upgrade(t)
			var moved []string
			for _, w := range u.Workloads {
				if w.State == tierup.WorkloadMigrated {
					moved = append(moved, w.Name)
				}
			}
			if !slices.Equal(moved, tt.moved) || u.Step(tierup.StepMigrateWorkloads).Status != tt.state {
				t.Errorf("after the run: moved %v, step %s; want %v, %s", moved, u.Step(tierup.StepMigrateWorkloads).Status, tt.moved, tt.state)
			}
			if tt.canceled {
				writes++ // the cancel's own write
			}
			if got := r.store.st.writes - writes; got != 2 {
				t.Errorf("the claim and the run wrote the upgrade %d times, want twice", got)
			}
			var notes []*tierup.UpgradeEvent
			for _, e := range r.store.st.events[events:] {
				if e.Action == tierup.ActionStepProgress {
					notes = append(notes, e)
				}
			}
			if len(notes) != tt.notes {
				t.Fatalf("%d progress events, want %d: %v", len(notes), tt.notes, r.actions()[events:])
			}
			for k, e := range notes {
				// Each move as it ended, a second apart.
				if want := notes[0].At.Add(time.Duration(k) * time.Second); !e.At.Equal(want) {
					t.Errorf("event %d %q at %v, want %v", k, e.Message, e.At, want)
				}
				done := 0
				for _, w := range e.Upgrade.Workloads {
					if w.State == tierup.WorkloadMigrated {
						done++
					}
				}
				if done != k+1 || len(e.Upgrade.Workloads) != len(four) {
					t.Errorf("event %d %q shows %d of %d moved, want %d of %d", k, e.Message, done, len(e.Upgrade.Workloads), k+1, len(four))
				}
				if e.Message != fmt.Sprintf("Deployment %s moved to node-1", four[k].Name) {
					t.Errorf("event %d says %q", k, e.Message)
				}
			}

			r.drain(t, 40)
			u = r.upgrade(t)
			want := tierup.UpgradeCompleted
			if tt.canceled {
				want = tierup.UpgradeCanceled
			}
			if u.Status != want {
				t.Fatalf("upgrade %s, want %s: %v", u.Status, want, r.actions())
			}
			var returned []string
			migrations := 0
			for _, c := range r.cluster.calls {
				var name string
				if _, err := fmt.Sscanf(c, "return %s", &name); err == nil {
					returned = append(returned, name)
				}
				if _, err := fmt.Sscanf(c, "migrate %s", &name); err == nil {
					migrations++
				}
			}
			if !slices.Equal(returned, tt.returned) || migrations != tt.finalMove {
				t.Errorf("returned %v after %d moves, want %v after %d", returned, migrations, tt.returned, tt.finalMove)
			}
		})
	}
}

// TestMigrationLists: the workloads are listed with the provisioning's
// commit; when the cluster could not list them then, the migration lists
// them and commits the list before it moves any.
func TestMigrationLists(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(fmt.Sprintf("listing fails at the provisioning: %v", failing), func(t *testing.T) {
			r := newRig(t)
			r.e.cfg.ProgressEvery = time.Hour
			if failing {
				r.cluster.workloadsErrs = []error{tierup.ErrClusterUnreachable}
			}
			r.create(t)
			for r.upgrade(t).CurrentStep != tierup.StepMigrateWorkloads {
				r.runOne(t)
			}
			if got := len(r.upgrade(t).Workloads); (got == 2) == failing {
				t.Fatalf("%d workloads listed by the provisioning", got)
			}
			r.runOne(t)
			u := r.upgrade(t)
			want := tierup.StepSucceeded
			if failing {
				want = tierup.StepRunning // the list committed, no move yet
			}
			if st := u.Step(tierup.StepMigrateWorkloads); st.Status != want || len(u.Workloads) != 2 || len(r.cluster.placed) != 2 && !failing {
				t.Errorf("after the migration's first run: step %s, workloads %+v, placed %v", st.Status, u.Workloads, r.cluster.placed)
			}
			r.drain(t, 20)
			if u := r.upgrade(t); u.Status != tierup.UpgradeCompleted {
				t.Errorf("upgrade %s", u.Status)
			}
		})
	}
}

// TestMigrationCommitsEachSlowMove: a move that takes longer than
// ProgressEvery is committed before the next starts, as the dashboard shows
// each as it ends.
func TestMigrationCommitsEachSlowMove(t *testing.T) {
	r := newRig(t)
	r.e.cfg.ProgressEvery = time.Millisecond
	r.cluster.onMigrate = func(context.Context, tierup.Workload) { time.Sleep(2 * time.Millisecond) } // ProgressEvery is real time
	r.create(t)
	moved := func() int {
		n := 0
		for _, w := range r.upgrade(t).Workloads {
			if w.State == tierup.WorkloadMigrated {
				n++
			}
		}
		return n
	}
	runs := 0
	for r.upgrade(t).Step(tierup.StepMigrateWorkloads).Status != tierup.StepSucceeded {
		if r.upgrade(t).CurrentStep == tierup.StepMigrateWorkloads {
			runs++
		}
		before := moved()
		r.runOne(t)
		if got := moved() - before; got > 1 {
			t.Fatalf("one run committed %d moves", got)
		}
	}
	if moved() != 2 || runs < 2 {
		t.Errorf("%d moved in %d runs", moved(), runs)
	}
}

// TestMigrationAfterLostCommit: a run moved every workload and its commit
// was lost (the process died, the database went away). The listing was
// committed before: the next run moves each again, which changes nothing,
// and each move is recorded once.
func TestMigrationAfterLostCommit(t *testing.T) {
	r := newRig(t)
	r.e.cfg.ProgressEvery = time.Hour
	r.create(t)
	for r.upgrade(t).CurrentStep != tierup.StepMigrateWorkloads {
		r.runOne(t)
	}
	job := r.store.st.jobs[0].job
	claim := r.store.txs + 1
	r.store.txFault = func(n int) error {
		if n == claim+1 {
			return errors.New("the database went away")
		}
		return nil
	}
	if err := r.e.work(context.Background(), fakeDelivery{job}); err == nil {
		t.Fatal("the run committed despite the fault")
	}
	if u := r.upgrade(t); len(u.Workloads) != 2 || u.NextToMove(-1) != 0 || len(r.cluster.placed) != 2 {
		t.Fatalf("after the lost commit: workloads %+v recorded, %v placed", u.Workloads, r.cluster.placed)
	}
	if err := r.e.work(context.Background(), fakeDelivery{job}); err != nil { // the queue's retry
		t.Fatal(err)
	}
	r.drain(t, 20)
	u := r.upgrade(t)
	if u.Status != tierup.UpgradeCompleted {
		t.Fatalf("upgrade %s: %v", u.Status, r.actions())
	}
	for _, w := range u.Workloads {
		n := 0
		for _, e := range r.store.st.events {
			if strings.Contains(e.Message, w.Kind+" "+w.Name+" moved to ") {
				n++
			}
		}
		if n != 1 || w.State != tierup.WorkloadMigrated {
			t.Errorf("%s is %s, its move recorded %d times", w.Name, w.State, n)
		}
	}
}

// TestMigrationCutShort: a shutdown cuts a move short after others moved
// in the same run: the moves made are committed with their events, the one
// cut short stays to move, and a job of the queue continues the step.
func TestMigrationCutShort(t *testing.T) {
	r := newRig(t)
	r.e.cfg.ProgressEvery = time.Hour
	r.cluster.workloads = []tierup.Workload{{Kind: "Deployment", Name: "a", Replicas: 1, Node: "shared"},
		{Kind: "Deployment", Name: "b", Replicas: 1, Node: "shared"}, {Kind: "Deployment", Name: "c", Replicas: 1, Node: "shared"}}
	r.cluster.onMigrate = func(ctx context.Context, w tierup.Workload) {
		if w.Name == "b" {
			r.e.leave(errHandBack)
			<-ctx.Done() // the step's context ends as Stop hands back
		}
	}
	r.create(t)
	for r.upgrade(t).CurrentStep != tierup.StepMigrateWorkloads {
		r.runOne(t)
	}
	r.runOne(t) // a moves; b is cut short
	u := r.upgrade(t)
	if u.Workloads[0].State != tierup.WorkloadMigrated || u.Workloads[1].State != tierup.WorkloadPending || u.Workloads[2].State != tierup.WorkloadPending {
		t.Fatalf("after the cut: %+v", u.Workloads)
	}
	if st := u.Step(tierup.StepMigrateWorkloads); st.Status != tierup.StepRunning || len(r.store.st.jobs) != 1 || r.store.st.jobs[0].job.Run != st.Run {
		t.Fatalf("step %+v, jobs %+v: want a job for its continuation", st, r.store.st.jobs)
	}
	if last := r.store.st.events[len(r.store.st.events)-1]; last.Action != tierup.ActionStepProgress || !strings.Contains(last.Message, "Deployment a moved to ") {
		t.Errorf("last event %s %q", last.Action, last.Message)
	}
}
