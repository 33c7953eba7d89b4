package workflow

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestHandBack cuts a step short with a shutdown, mid-charge or between
// the claim and the action: the step is handed back as it was before the
// run (no attempt spent, no process holding it), its next run is due at
// once and the job completes. Another process's engine then finishes the
// upgrade with every step run once and one idempotency key for the charge.
func TestHandBack(t *testing.T) {
	retryable := &tierup.PaymentError{Code: "processing_error", Retryable: true, Message: "try again"}
	midCharge := func(r *rig) {
		r.gateway.during = func(ctx context.Context) error {
			r.e.leave(errHandBack) // Stop gives up waiting while the charge is out
			<-ctx.Done()
			return ctx.Err()
		}
	}
	tests := []struct {
		name string
		// prep brings the upgrade to the job the shutdown cuts short
		// and arms the cut.
		prep     func(t *testing.T, r *rig)
		step     tierup.StepName
		status   tierup.StepStatus
		attempts int
		errCode  string // the step's error kept from before
		charges  int    // charge calls made before the hand-back
		payments int    // the payment step's attempts in the end
	}{
		{"mid-charge, the first attempt", func(t *testing.T, r *rig) { midCharge(r) },
			tierup.StepPayment, tierup.StepPending, 0, "", 1, 1},
		{"mid-charge, after a failed attempt", func(t *testing.T, r *rig) {
			r.gateway.chargeErrs = []error{retryable}
			r.runOne(t)
			midCharge(r)
		}, tierup.StepPayment, tierup.StepRetrying, 1, "processing_error", 2, 2},
		{"before the action of a migration's continuation", func(t *testing.T, r *rig) {
			r.untilMigrating(t)
			r.e.leave(errHandBack)
		}, tierup.StepMigrateWorkloads, tierup.StepRunning, 1, "", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.create(t)
			tt.prep(t, r)
			before := r.upgrade(t)
			calls := len(r.cluster.calls)
			r.runOne(t)

			u := r.upgrade(t)
			st, was := u.Step(tt.step), before.Step(tt.step)
			worker := was.Worker // the last process that ran it, as before
			if tt.status == tierup.StepRunning {
				worker = "" // running, by no process
			}
			if u.CurrentStep != tt.step || st.Status != tt.status || st.Attempts != tt.attempts || st.Worker != worker ||
				st.Run != was.Run+1 || u.RunningWorker() != "" {
				t.Errorf("handed back: current %s, step %+v; want %s, attempts %d, worker %q, run %d",
					u.CurrentStep, st, tt.status, tt.attempts, worker, was.Run+1)
			}
			var code string
			if st.Error != nil {
				code = st.Error.Code
			}
			if code != tt.errCode {
				t.Errorf("step error %q, want %q", code, tt.errCode)
			}
			want := queued{tierup.Job{UpgradeID: u.ID, Step: tt.step, Run: st.Run}, r.clock.now}
			if !slices.Equal(r.store.st.jobs, []queued{want}) {
				t.Errorf("jobs %+v, want only %+v (due at once)", r.store.st.jobs, want)
			}
			if acts := r.actions(); acts[len(acts)-1] != tierup.ActionStepHandedBack {
				t.Errorf("events %v, want step_handed_back last", acts)
			}
			if len(r.gateway.charges) != tt.charges || len(r.cluster.calls) != calls {
				t.Errorf("%d charges (want %d), cluster calls %v after %d", len(r.gateway.charges), tt.charges, r.cluster.calls, calls)
			}
			if got := r.metrics.seen[len(r.metrics.seen)-1]; got != "step "+string(tt.step)+" handed_back" {
				t.Errorf("last metric %q", got)
			}

			// Another process takes the step up.
			r.gateway.during = nil
			e, err := New(r.e.Deps, r.e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r.e = e
			r.drain(t, 50)
			u = r.upgrade(t)
			if u.Status != tierup.UpgradeCompleted {
				t.Fatalf("upgrade %s after the hand-back; events %v", u.Status, r.actions())
			}
			for _, s := range u.Steps {
				want := 1
				if s.Name == tierup.StepPayment {
					want = tt.payments
				}
				if s.Attempts != want {
					t.Errorf("step %s: %d attempts, want %d", s.Name, s.Attempts, want)
				}
			}
			for _, k := range r.gateway.charges {
				if k != r.gateway.charges[0] {
					t.Errorf("charge idempotency keys %v, want one", r.gateway.charges)
				}
			}
			if slices.Contains(r.actions(), tierup.ActionResumedAfterCrash) || slices.Contains(r.actions(), tierup.ActionNeedsSupport) {
				t.Errorf("events %v", r.actions())
			}
		})
	}
}

// TestStopReleasesSteps stops an engine while a migration's continuation
// waits in the queue, its step marked running in this process: Stop hands
// it back (running by no process, a new run due at once, which makes the
// queued job stale) and deletes the heartbeat, so that no other process
// waits for it to age. Another engine finishes the upgrade.
func TestStopReleasesSteps(t *testing.T) {
	r := newRig(t)
	r.create(t)
	r.untilMigrating(t)
	if err := r.e.beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	stale := r.store.st.jobs[0].job
	if err := r.e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := r.upgrade(t)
	st := u.Step(tierup.StepMigrateWorkloads)
	if st.Status != tierup.StepRunning || st.Worker != "" || st.Attempts != 1 || st.Run != stale.Run+1 || u.RunningWorker() != "" {
		t.Errorf("after Stop: step %+v", st)
	}
	if acts := r.actions(); acts[len(acts)-1] != tierup.ActionStepHandedBack {
		t.Errorf("events %v", acts)
	}
	if r.store.st.beats[r.e.process] {
		t.Error("the heartbeat is still there")
	}
	if len(r.store.st.jobs) != 2 || r.e.Running() {
		t.Errorf("jobs %+v, running %v; want the stale one and the new run", r.store.st.jobs, r.e.Running())
	}

	e, err := New(r.e.Deps, r.e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	r.drain(t, 50)
	if u := r.upgrade(t); u.Status != tierup.UpgradeCompleted || u.Step(tierup.StepMigrateWorkloads).Attempts != 1 ||
		slices.Contains(r.actions(), tierup.ActionResumedAfterCrash) {
		t.Errorf("upgrade %s, migration %+v, events %v", u.Status, u.Step(tierup.StepMigrateWorkloads), r.actions())
	}
}

// TestStopOutlivesLateBeat stops the engine while a periodic beat is in
// flight and the database commits it only after Stop deleted the
// heartbeat (PostgreSQL runs a statement it has read even when the client
// gave up on it): the stopped process leaves no heartbeat behind.
func TestStopOutlivesLateBeat(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan struct{})
	r.store.mu.Lock()
	r.store.lateBeats = inFlight
	r.store.mu.Unlock()
	<-inFlight // the next periodic beat, within heartbeatInterval
	if err := r.e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	if r.store.afterDelete != nil || r.store.st.beats[r.e.process] {
		t.Errorf("after Stop: late beats pending %d, heartbeat kept %v; want none", len(r.store.afterDelete), r.store.st.beats[r.e.process])
	}
}

// TestBeatAfterSweep: a running engine whose heartbeat was swept (a pause
// past the retention) beats it back; once stopped, it does not.
func TestBeatAfterSweep(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, running := range []bool{true, false} {
		if !running {
			if err := r.e.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.store.DeleteHeartbeat(ctx, r.e.process); err != nil {
			t.Fatal(err)
		}
		if err := r.e.refreshBeat(ctx); err != nil {
			t.Fatal(err)
		}
		r.store.mu.Lock()
		beating := r.store.st.beats[r.e.process]
		r.store.mu.Unlock()
		if beating != running {
			t.Errorf("running %v: heartbeat there %v after a refresh", running, beating)
		}
	}
}

func TestReserve(t *testing.T) {
	for _, tt := range []struct{ left, want time.Duration }{
		{25 * time.Second, 5 * time.Second}, // the default timeout
		{time.Minute, 5 * time.Second},
		{10 * time.Second, 2 * time.Second},
		{2 * time.Second, time.Second},
		{time.Second, 500 * time.Millisecond},
		{0, 0},
	} {
		if got := reserve(tt.left); got != tt.want {
			t.Errorf("reserve(%s) = %s, want %s", tt.left, got, tt.want)
		}
	}
}

// TestResumeIdle: a step marked running in this live process whose job was
// lost (no run here works on it) is scheduled again once it has not
// changed for longer than a step may take, and the upgrade then finishes;
// one that is younger, or that a run here works on, is left alone.
func TestResumeIdle(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.create(t)
	r.untilMigrating(t)
	lost := r.store.st.jobs[0].job
	r.store.st.jobs = nil // the queue lost the step's job
	resumed := func() bool {
		t.Helper()
		if err := r.e.resumeIdle(ctx); err != nil {
			t.Fatal(err)
		}
		return len(r.store.st.jobs) > 0
	}
	if resumed() {
		t.Fatalf("resumed while younger than a step may run: jobs %+v", r.store.st.jobs)
	}
	r.clock.now = r.clock.now.Add(r.e.stallAfter() + time.Second)
	done := r.e.track(lost.UpgradeID)
	if resumed() {
		t.Fatalf("resumed while a run here works on it: jobs %+v", r.store.st.jobs)
	}
	done()
	if !resumed() {
		t.Fatal("an idle step of this process was not resumed")
	}
	if job := r.store.st.jobs[0].job; job.Step != lost.Step || job.Run != lost.Run+1 {
		t.Errorf("resumed as %+v, want %s run %d", job, lost.Step, lost.Run+1)
	}
	if acts := r.actions(); acts[len(acts)-1] != tierup.ActionResumedAfterCrash {
		t.Errorf("events %v", acts)
	}
	r.drain(t, 50)
	if u := r.upgrade(t); u.Status != tierup.UpgradeCompleted {
		t.Errorf("upgrade %s after resuming, want completed", u.Status)
	}
}
