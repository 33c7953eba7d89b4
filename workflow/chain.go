package workflow

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// A step whose successor is due at once does not go through the job queue
// when this process may keep it: the commit that ends the step also claims
// the next one for this worker (its run bumped, so that any older job of it
// is stale), and the same worker runs it at once. That saves the queue's
// insert, fetch and completion, and the queue's poll between two steps.
//
// Nothing is less durable for it. The linked step is marked running in
// this process, as any running step is: when the process dies, its
// heartbeat stops and another process resumes the step (resumeOrphans);
// when it shuts down, Stop hands the step back; and a run that fails to
// commit is tried again here, since no job would retry it.

// link is a step the previous step's commit linked for this worker.
type link struct {
	job     tierup.Job
	before  tierup.Step     // the step as the claim found it, to hand it back
	upgrade *tierup.Upgrade // as that commit left it
}

// linked is the delivery of a linked step: no job of the queue stands
// behind it, so there is nothing to complete.
type linked tierup.Job

func (c linked) Job() tierup.Job                            { return tierup.Job(c) }
func (linked) Complete(context.Context, tierup.Store) error { return nil }

// holds reports whether this process may keep a step for its own worker:
// it works jobs and is not shutting down.
func (e *Engine) holds() bool { return e.running.Load() && e.leaving.Err() == nil }

// dispatch makes step's next run due at once, in the commit of the step
// before it: for this worker when this process holds it (claimHere then
// claims it, after the commit's own event), otherwise through the queue.
// Call it before storing u, which carries the new run.
func (e *Engine) dispatch(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, ob *observed) error {
	st := u.Step(step)
	if st == nil || !e.holds() {
		return e.schedule(ctx, tx, u, step, e.Clock.Now())
	}
	before := *st // copied before bump changes its run
	ob.next = &link{job: tierup.Job{UpgradeID: u.ID, Step: step, Run: bump(u, step)}, before: before}
	return nil
}

// claimHere claims the step dispatch kept for this worker in u, and
// returns the claim's event (nil when there is none), which the commit
// stores after its own with one write of the upgrade: both events show
// the upgrade with the next step running.
func (e *Engine) claimHere(u *tierup.Upgrade, ob *observed) (*tierup.UpgradeEvent, error) {
	if ob.next == nil {
		return nil, nil
	}
	_, ev, err := e.start(u, ob.next.job)
	return ev, err
}

// runHere runs a linked step, timed as every step is (run). A run that
// does not commit (the database is unreachable, say) is tried again after
// a backoff, as the queue would a job, on the upgrade read afresh (the
// failed commit may have changed it in memory), until it commits, goes
// stale or this process stops holding steps: then Stop hands it back.
func (e *Engine) runHere(ctx context.Context, l *link) (*link, error) {
	u := l.upgrade
	var failed error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if !e.holds() {
				return nil, failed
			}
			wait := time.NewTimer(e.backoff(attempt))
			select {
			case <-wait.C:
			case <-e.leaving.Done():
				wait.Stop()
				return nil, failed
			}
			fresh, err := e.Store.Upgrade(ctx, l.job.UpgradeID)
			if err != nil {
				continue // still unreachable: wait again
			}
			if !current(fresh, l.job) {
				return nil, nil // superseded meanwhile (a cancel, an admin)
			}
			u = fresh
		}
		next, err := e.run(ctx, linked(l.job), u, l.before)
		if err == nil {
			return next, nil
		}
		failed = err
		e.Log.WarnContext(ctx, "a step run in this worker did not commit; trying it again", "upgrade", l.job.UpgradeID,
			"step", l.job.Step, "attempt", attempt+1, "err", err)
	}
}
