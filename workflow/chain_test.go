package workflow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestStepsRunInTheSameWorker: while the engine works jobs, a step whose
// successor is due at once claims it in its own commit and the same worker
// runs it, so that one job runs the whole upgrade, every step started and
// ended in order, each with a run of its own. A stopping engine gives each
// next step to the queue instead, and a linked run that fails to commit is
// tried again in place: no job stands behind it.
func TestStepsRunInTheSameWorker(t *testing.T) {
	transient := errors.New("database is locked")
	tests := []struct {
		name    string
		holding bool
		failIn  tierup.StepName // the first commit of this step fails
		// done is whether the first job completes the upgrade.
		done bool
	}{
		{name: "a running engine runs the upgrade from one job", holding: true, done: true},
		{name: "a stopping engine hands the next step to the queue", holding: false, done: false},
		{name: "a linked run that fails to commit runs again", holding: true, done: true, failIn: tierup.StepEnableFeatures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.e.cfg.BaseDelay = time.Millisecond // the in-place retry's pause
			r.e.running.Store(tt.holding)
			r.create(t)
			failed := false
			r.store.txFault = func(int) error {
				// The step was claimed in the commit before: the first
				// transaction that finds it current is its own commit.
				if u := r.store.st.upgrades["upg_1"]; tt.failIn != "" && u.CurrentStep == tt.failIn && !failed {
					failed = true
					return transient
				}
				return nil
			}
			if !r.runOne(t) {
				t.Fatal("no job for the payment")
			}
			u := r.upgrade(t)
			if done := u.Status == tierup.UpgradeCompleted; done != tt.done {
				t.Fatalf("after one job the upgrade is %s (%s); want completed: %v", u.Status, u.CurrentStep, tt.done)
			}
			if !tt.done {
				if jobs := r.store.st.jobs; len(jobs) != 1 || jobs[0].job.Step != tierup.StepActivatePlan {
					t.Fatalf("jobs %+v, want one for %s", jobs, tierup.StepActivatePlan)
				}
				return
			}
			if failed != (tt.failIn != "") {
				t.Errorf("the commit of %q failed: %v", tt.failIn, failed)
			}
			if len(r.store.st.jobs) != 0 {
				t.Errorf("jobs left %+v, want none", r.store.st.jobs)
			}
			// Every step started once, in order, each right after the one
			// before it ended, by this process.
			var started []tierup.StepName
			for _, e := range r.store.st.events {
				if e.Action == tierup.ActionStepStarted {
					started = append(started, e.Upgrade.CurrentStep)
				}
			}
			if want := tierup.Steps(); !slices.Equal(started, want) {
				t.Errorf("steps started %v, want %v", started, want)
			}
			for _, st := range u.Steps {
				if st.Status != tierup.StepSucceeded && st.Status != tierup.StepSkipped || st.Worker != r.e.process || st.Attempts != 1 {
					t.Errorf("step %s: %s, worker %q, %d attempts", st.Name, st.Status, st.Worker, st.Attempts)
				}
			}
		})
	}
}

// TestCommitReadsAgainWhenTheUpgradeChanged: a commit on the upgrade as
// this process last stored it is refused by the version check when
// another writer changed it meanwhile, and is then decided on the upgrade
// as it is: the other writer's change is kept.
func TestCommitReadsAgainWhenTheUpgradeChanged(t *testing.T) {
	for _, changed := range []bool{false, true} {
		t.Run(map[bool]string{false: "unchanged", true: "changed meanwhile"}[changed], func(t *testing.T) {
			r := newRig(t)
			known := claimed(t, r, nil)
			if changed {
				other := r.upgrade(t)
				other.Zone = "zone-b" // say, a pre-flight's record
				if err := r.store.UpdateUpgrade(context.Background(), other); err != nil {
					t.Fatal(err)
				}
			}
			var saw *tierup.Upgrade
			committed, err := r.e.commit(context.Background(), fakeDelivery{tierup.Job{UpgradeID: known.ID, Step: tierup.StepPayment, Run: known.Step(tierup.StepPayment).Run}},
				known, func(ctx context.Context, tx tierup.Store, fresh *tierup.Upgrade) error {
					saw = fresh
					return r.e.save(ctx, tx, fresh, "system", tierup.ActionStepProgress, "half")
				})
			if err != nil || !committed {
				t.Fatalf("committed %v, %v", committed, err)
			}
			if (saw == known) == changed {
				t.Errorf("recorded on the known upgrade: %v; want %v", saw == known, !changed)
			}
			if got := r.upgrade(t); changed && got.Zone != "zone-b" {
				t.Errorf("the other writer's change was lost: zone %q", got.Zone)
			}
		})
	}
}

// TestResumeOrphansGoesOnPastAConflict: an orphan another process resumed
// first (the write meets a conflict) does not hold up the next one.
func TestResumeOrphansGoesOnPastAConflict(t *testing.T) {
	r := newRig(t)
	u := claimedBy(t, r, "proc_dead", nil)
	other := cloneUpgrade(u)
	other.ID = "upg_2"
	r.store.st.upgrades[other.ID] = cloneUpgrade(other)
	r.store.candidates = []*tierup.Upgrade{u, other}
	first := r.store.txs + 1
	r.store.txFault = func(n int) error {
		if n == first {
			return tierup.Errorf(tierup.CodeConflict, "upgrade %s changed meanwhile", u.ID)
		}
		return nil
	}
	if err := r.e.resumeOrphans(context.Background()); err != nil {
		t.Fatalf("a conflict on one orphan failed the pass: %v", err)
	}
	if jobs := r.store.st.jobs; len(jobs) != 1 || jobs[0].job.UpgradeID != other.ID {
		t.Errorf("jobs %+v, want one for %s", jobs, other.ID)
	}
}
