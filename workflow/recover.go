package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tierup/tierup"
)

// A job queue rescues a job whose process died only after its timeout and
// more. tierup resumes much sooner: each process keeps a heartbeat in the
// store, and a step left running by a process whose heartbeat stopped is
// scheduled again by any live process. The step's new run makes the dead
// process's job stale, and every step is idempotent, so nothing is done
// twice. Heartbeats are leases: the store stamps and judges them with the
// database's clock, so clock skew between hosts cannot make a live step
// look orphaned.

const (
	heartbeatInterval = time.Second
	// A process is presumed dead after this long without a heartbeat.
	heartbeatTimeout = 5 * time.Second
	sweepInterval    = time.Minute
)

// stallAfter is how long past its due time a moving upgrade that no job
// moved counts as stalled: longer than any step may take.
func (e *Engine) stallAfter() time.Duration {
	return e.cfg.JobTimeout + e.cfg.RescueMargin + heartbeatTimeout
}

// resumeWhat decides what to schedule again for a candidate the store
// found (by the database's clock: dead or stalled): its running step when
// another process ran it, or, for a stalled upgrade, its current step or
// the cancel's compensation. ok is false when nothing is to be done.
func (e *Engine) resumeWhat(u *tierup.Upgrade) (what tierup.StepName, ok bool) {
	if w := u.RunningWorker(); w != "" {
		// The store lists a running step only when its process stopped
		// beating; this process is alive whatever the store saw.
		if w == e.process {
			return "", false
		}
		return u.CurrentStep, true
	}
	if !u.Moving() {
		return "", false
	}
	// Its job vanished with a process before the step was claimed, or a
	// compensation stopped midway.
	st := u.Step(u.CurrentStep)
	if u.CancelRequestedAt != nil && (st == nil || st.Status != tierup.StepRetrying) {
		return stepCompensate, true
	}
	return u.CurrentStep, true
}

// watch beats the heart and, separately so that a slow pass cannot delay
// the heartbeat, resumes orphaned steps until ctx ends.
func (e *Engine) watch(ctx context.Context) {
	defer close(e.done)
	var wg sync.WaitGroup
	every := func(interval time.Duration, f func(context.Context) error, what string) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := f(ctx); err != nil && ctx.Err() == nil {
				e.Log.WarnContext(ctx, what, "err", err)
			}
		}
	}
	wg.Go(func() { every(heartbeatInterval, e.refreshBeat, "workflow heartbeat") })
	wg.Go(func() { every(heartbeatInterval, e.resumeOrphans, "resuming orphaned steps") })
	wg.Go(func() { every(heartbeatTimeout, e.resumeIdle, "resuming steps this process no longer runs") })
	wg.Go(func() { every(sweepInterval, e.sweepProcesses, "sweeping dead processes' heartbeats") })
	wg.Wait()
}

func (e *Engine) beat(ctx context.Context) error { return e.Store.Heartbeat(ctx, e.process) }

// refreshBeat is a beat after the first: a refresh, so that one cut short
// by Stop and committed late cannot bring back the deleted heartbeat. The
// heartbeat is made again only when it went while the engine runs (swept
// after a pause longer than the retention).
func (e *Engine) refreshBeat(ctx context.Context) error {
	found, err := e.Store.RefreshHeartbeat(ctx, e.process)
	if err != nil || found || !e.Running() {
		return err
	}
	e.Log.WarnContext(ctx, "workflow: this process's heartbeat was gone, as a dead process's; beating again", "process", e.process)
	return e.beat(ctx)
}

// sweepProcesses deletes the heartbeats of processes dead for long.
func (e *Engine) sweepProcesses(ctx context.Context) error {
	n, err := e.Store.SweepProcesses(ctx, e.cfg.HeartbeatRetention)
	if n > 0 {
		e.Log.InfoContext(ctx, "swept dead processes' heartbeats", "processes", n)
	}
	return err
}

// resumeOrphans schedules again every running step whose process died and
// every stalled upgrade; the store narrows the candidates.
func (e *Engine) resumeOrphans(ctx context.Context) error {
	ups, err := e.Store.ResumeCandidates(ctx, heartbeatTimeout, e.stallAfter())
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range ups {
		what, ok := e.resumeWhat(u)
		if !ok {
			continue
		}
		dead := cmp.Or(u.RunningWorker(), "unknown")
		errs = append(errs, e.resume(ctx, u, what, fmt.Sprintf("%s had stopped (process %s); resuming it", what, dead)))
	}
	return errors.Join(errs...)
}

// resumeIdle schedules again the steps the store marks running in this
// process that no run here works on and that have not changed for longer
// than a step may take: their job was lost (the queue could not record a
// run's end while the database was away, say). This process's heartbeat
// keeps the other processes from resuming them, so no one else would.
// The times compared are this process's own stamps, by its own clock.
func (e *Engine) resumeIdle(ctx context.Context) error {
	ups, err := e.Store.RunningIn(ctx, e.process)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range ups {
		if e.worksOn(u.ID) || e.Clock.Now().Sub(u.DueAt()) < e.stallAfter() {
			continue
		}
		msg := fmt.Sprintf("%s was marked running in process %s, which no longer ran it; resuming it", u.CurrentStep, e.process)
		errs = append(errs, e.resume(ctx, u, u.CurrentStep, msg))
	}
	return errors.Join(errs...)
}

// resume schedules what again for u, with an event that says why, unless
// u moved since it was read. One that cannot be resumed now (another
// process resumed it first, say) is no error: it holds up no other.
func (e *Engine) resume(ctx context.Context, u *tierup.Upgrade, what tierup.StepName, why string) error {
	err := e.Store.InTx(ctx, func(tx tierup.Store) error {
		fresh, err := tx.Upgrade(ctx, u.ID)
		if err != nil {
			return err
		}
		if fresh.Version != u.Version {
			return nil // it moved meanwhile
		}
		if err := e.schedule(ctx, tx, fresh, what, e.Clock.Now()); err != nil {
			return err
		}
		return e.save(ctx, tx, fresh, "system", tierup.ActionResumedAfterCrash, why)
	})
	if errors.Is(err, tierup.ErrConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	e.Publish(u.ID)
	return nil
}
