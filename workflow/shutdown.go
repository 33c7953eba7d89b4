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

// errHandBack is the cause with which Stop cancels the steps still
// running: they are handed back, not failed.
var errHandBack = errors.New("the process is shutting down: the step is handed back")

// Stop stops taking jobs and lets the running steps finish. It returns by
// ctx's deadline: in its last fifth (at most handBackReserve), or as soon
// as ctx is cancelled, the steps still running are cancelled and handed
// back. Then the steps still marked running in this process (a
// continuation whose job it will not take) are handed back too, and last
// the heartbeat stops and is deleted.
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
		defer time.AfterFunc(left-min(left/5, handBackReserve), handBack).Stop()
		wait, cancel = context.WithDeadline(wait, dl)
		defer cancel()
	}
	defer context.AfterFunc(ctx, func() {
		handBack()
		time.AfterFunc(handBackReserve, cancel)
	})()

	e.Log.InfoContext(ctx, "workflow stopping: no new steps; the running ones may finish", "process", e.process)
	err := e.Queue.Stop(wait)
	fin := wait
	if wait.Err() != nil { // the wait took it all: a second for the rest
		var cancel context.CancelFunc
		fin, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
	}
	if rerr := e.releaseSteps(fin); rerr != nil {
		err = errors.Join(err, fmt.Errorf("handing back the steps marked running here: %w", rerr))
	}
	// The heartbeat stops last: while steps finish, other processes must
	// not take them for orphans.
	if e.stop != nil {
		e.stop()
		<-e.done
	}
	if derr := e.Store.DeleteHeartbeat(fin, e.process); derr != nil {
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
	committed, err := e.commit(ctx, d, func(ctx context.Context, tx tierup.Store, fresh *tierup.Upgrade) error {
		return e.giveBack(ctx, tx, fresh, j.Step, before)
	})
	if err != nil || !committed {
		return err
	}
	e.Publish(j.UpgradeID)
	e.report(j.Step, &observed{outcome: "handed_back"}, took)
	return nil
}

// releaseSteps hands back the steps the store still marks running in this
// process once its queue stopped: a continuation whose job another process
// takes, or a run that did not end in time. Otherwise the others would
// resume them only once this process's heartbeat is gone.
func (e *Engine) releaseSteps(ctx context.Context) error {
	ups, err := e.Store.RunningIn(ctx, e.process)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range ups {
		_, err := e.change(ctx, u.ID, func(tx tierup.Store, fresh *tierup.Upgrade) (bool, error) {
			if fresh.RunningWorker() != e.process {
				return false, nil // another process took it up meanwhile
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
