package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tierup/tierup"
)

// A process that shuts down gives its work back instead of leaving it to
// leases: the steps still running when it must go are cancelled and handed
// back, each as it was before its run (no attempt spent) with its next run
// due at once, and its heartbeat is deleted. Another process takes each
// step up at once, without waiting for a heartbeat to age or for the
// queue's rescuer. What a cancelled step did outside is done again by its
// next run, idempotently: the same idempotency keys.

// handBackReserve is the most of a stop's time kept for handing the
// running steps back: a cancelled step returns and commits in far less.
const handBackReserve = 5 * time.Second

// reserve is the part of the time left kept for handing steps back: a
// fifth, but at least a second (a loaded database is slow to take the
// hand-backs) and at most handBackReserve, and never more than half.
func reserve(left time.Duration) time.Duration {
	return min(max(left/5, time.Second), handBackReserve, left/2)
}

// errHandBack is the cause with which Stop cancels the steps still
// running: they are handed back, not failed.
var errHandBack = errors.New("the process is shutting down: the step is handed back")

// Stop stops taking jobs and lets the running steps finish. The steps this
// process holds between two runs (a continuation whose job it no longer
// takes) are handed back at once; in the last fifth of the time to ctx's
// deadline (at least a second, at most handBackReserve), or as soon as ctx
// is cancelled, the steps still running are cancelled and handed back too.
// Last, the heartbeat stops and is deleted. Stop returns by ctx's deadline,
// up to a second later only when the database is too slow for the
// hand-backs.
func (e *Engine) Stop(ctx context.Context) error {
	e.running.Store(false)
	handBack := sync.OnceFunc(func() {
		e.Log.InfoContext(ctx, "workflow: handing back the steps still running", "process", e.process)
		e.leave(errHandBack)
	})
	// wait bounds what follows by ctx's deadline, or by handBackReserve
	// after ctx is cancelled early: the hand-backs take that long at most.
	wait, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		defer time.AfterFunc(left-reserve(left), handBack).Stop()
		wait, cancel = context.WithDeadline(wait, dl)
		defer cancel()
	}
	defer context.AfterFunc(ctx, func() {
		handBack()
		time.AfterFunc(handBackReserve, cancel)
	})()

	e.Log.InfoContext(ctx, "workflow stopping: no new steps; the running ones may finish", "process", e.process)
	stopped := make(chan error, 1)
	go func() { stopped <- e.Queue.Stop(wait) }()
	// The steps held between two runs go at once: this process no longer
	// takes their jobs. (One it took just before is stale then, harmless.)
	early := e.releaseSteps(wait, false)
	err := <-stopped
	// What follows is quick; when the wait took all the time, it gets a
	// moment more, rather than leaving steps and a heartbeat to age.
	rest := func() (context.Context, context.CancelFunc) {
		if wait.Err() == nil {
			return wait, func() {}
		}
		return context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	}
	rctx, rcancel := rest()
	defer rcancel()
	// Then those the running steps left between two runs, and any run that
	// did not end in time.
	if rerr := errors.Join(early, e.releaseSteps(rctx, true)); rerr != nil {
		err = errors.Join(err, fmt.Errorf("handing back the steps marked running here: %w", rerr))
	}
	// The heartbeat stops last: while steps finish, other processes must
	// not take them for orphans. Deleted even when some step could not be
	// handed back: the others then resume it at once, as a dead process's.
	if e.stop != nil {
		e.stop()
		<-e.done
	}
	dctx, dcancel := rest()
	defer dcancel()
	if derr := e.Store.DeleteHeartbeat(dctx, e.process); derr != nil {
		err = errors.Join(err, fmt.Errorf("deleting the heartbeat: %w", derr))
	}
	e.Log.InfoContext(ctx, "workflow stopped", "process", e.process, "err", err)
	return err
}

// stepContext is ctx, also cancelled (with cause errHandBack) when Stop
// hands the running steps back.
func (e *Engine) stepContext(ctx context.Context) (context.Context, func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(e.leaving, func() { cancel(errHandBack) })
	return sctx, func() { stop(); cancel(nil) }
}

// handBack gives the job's step back unfinished, before being the step as
// the claim found it, and completes the job in the same transaction.
func (e *Engine) handBack(ctx context.Context, d tierup.Delivery, j tierup.Job, before tierup.Step, took time.Duration) error {
	committed, err := e.commit(ctx, d, nil, func(ctx context.Context, tx tierup.Store, fresh *tierup.Upgrade) error {
		return e.giveBack(ctx, tx, fresh, j.Step, before)
	})
	if err != nil || !committed {
		return err
	}
	e.Publish(j.UpgradeID)
	e.report(j.Step, &observed{outcome: "handed_back"}, took)
	return nil
}

// track counts a job of the upgrade as worked in this process until the
// returned function is called.
func (e *Engine) track(upgradeID string) (done func()) {
	e.mu.Lock()
	e.working[upgradeID]++
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.working[upgradeID]--; e.working[upgradeID] == 0 {
			delete(e.working, upgradeID)
		}
	}
}

func (e *Engine) worksOn(upgradeID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.working[upgradeID] > 0
}

// releaseSteps hands back the steps the store marks running in this
// process and that no job of it works (with evenWorked, those too: runs
// that did not end in time): a continuation whose job another process
// takes. Otherwise the others would resume them only once this process's
// heartbeat is gone, as a dead one's.
func (e *Engine) releaseSteps(ctx context.Context, evenWorked bool) error {
	ups, err := e.Store.RunningIn(ctx, e.process)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range ups {
		_, err := e.change(ctx, u.ID, func(tx tierup.Store, fresh *tierup.Upgrade) (bool, error) {
			if fresh.RunningWorker() != e.process || !evenWorked && e.worksOn(fresh.ID) {
				return false, nil // another process took it up meanwhile, or a run here
			}
			return true, e.giveBack(ctx, tx, fresh, fresh.CurrentStep, *fresh.Step(fresh.CurrentStep))
		})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// giveBack hands step back in tx: as it was before this process's run
// (tierup.Upgrade.HandBackStep), with its next run due at once, which
// makes any older job of it stale.
func (e *Engine) giveBack(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, before tierup.Step) error {
	if step != stepCompensate { // a compensation claims nothing
		if err := u.HandBackStep(step, before); err != nil {
			return err
		}
	}
	if err := e.schedule(ctx, tx, u, step, e.Clock.Now()); err != nil {
		return err
	}
	return e.save(ctx, tx, u, "system", tierup.ActionStepHandedBack,
		fmt.Sprintf("%s handed back unfinished: process %s is shutting down; another process continues it", step, e.process))
}
