package workflow

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/tierup/tierup"
)

// River rescues a job whose process died only after its timeout, its
// leader's lease and its rescuer's interval have all passed — easily a
// minute. tierup resumes much sooner: each process keeps a heartbeat in
// the store, and a step left running by a process whose heartbeat stopped
// is scheduled again by any live process. The step's new run makes the
// dead process's job stale, and every step is idempotent, so nothing is
// done twice.

const (
	processScope      = "workflow:process"
	heartbeatInterval = time.Second
	// A process is presumed dead after this long without a heartbeat.
	heartbeatTimeout = 5 * time.Second
)

type heartbeatRecord struct {
	Seen time.Time `json:"seen"`
}

// heartbeat records that this process is alive.
func (e *Engine) heartbeat(ctx context.Context) error {
	b, _ := json.Marshal(heartbeatRecord{Seen: time.Now().UTC()})
	for range 5 {
		_, version, err := e.Store.Record(ctx, processScope, e.process)
		if err != nil && tierup.ErrorCode(err) != tierup.CodeNotFound {
			return err
		}
		err = e.Store.PutRecord(ctx, processScope, e.process, b, version)
		if tierup.ErrorCode(err) != tierup.CodeConflict {
			return err
		}
	}
	return nil
}

// stalled reports whether an upgrade that should be moving has not changed
// for longer than any step may take: no job will move it any more.
func (e *Engine) stalled(u *tierup.Upgrade, st *tierup.Step) bool {
	if u.Status != tierup.UpgradeProcessing && u.Status != tierup.UpgradePaused && u.CancelRequestedAt == nil {
		return false // waiting for a person (a card, support)
	}
	if u.Status == tierup.UpgradeCanceled || !u.Status.Active() {
		return false
	}
	due := u.UpdatedAt
	if st != nil && st.NextRetryAt != nil && st.NextRetryAt.After(due) {
		due = *st.NextRetryAt
	}
	return e.Clock.Now().Sub(due) > e.cfg.JobTimeout+e.cfg.RescueMargin+heartbeatTimeout
}

// alive reports whether a process's heartbeat is recent.
func (e *Engine) alive(ctx context.Context, process string) (bool, error) {
	if process == e.process {
		return true, nil
	}
	b, _, err := e.Store.Record(ctx, processScope, process)
	if tierup.ErrorCode(err) == tierup.CodeNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var hb heartbeatRecord
	if err := json.Unmarshal(b, &hb); err != nil {
		return false, err
	}
	return time.Since(hb.Seen) < heartbeatTimeout, nil
}

// watch beats the heart and, separately so that a slow pass cannot delay
// the heartbeat, resumes orphaned steps until ctx ends.
func (e *Engine) watch(ctx context.Context) {
	defer close(e.done)
	var wg sync.WaitGroup
	every := func(f func(context.Context) error, what string) {
		t := time.NewTicker(heartbeatInterval)
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
	wg.Go(func() { every(e.heartbeat, "workflow heartbeat") })
	wg.Go(func() { every(e.resumeOrphans, "resuming orphaned steps") })
	wg.Wait()
}

// resumeOrphans schedules again every running step whose process died.
func (e *Engine) resumeOrphans(ctx context.Context) error {
	ups, err := e.Store.ActiveUpgrades(ctx)
	if err != nil {
		return err
	}
	for _, u := range ups {
		st := u.Step(u.CurrentStep)
		what := u.CurrentStep
		switch {
		case st != nil && st.Status == tierup.StepRunning:
			if ok, err := e.alive(ctx, st.Worker); err != nil || ok {
				continue
			}
		case e.stalled(u, st):
			// Its job vanished with a process before the step was claimed,
			// or a compensation stopped midway.
			if u.CancelRequestedAt != nil && (st == nil || st.Status != tierup.StepRetrying) {
				what = stepCompensate
			}
		default:
			continue
		}
		dead := ""
		if st != nil {
			dead = st.Worker
		}
		err = e.Store.InTx(ctx, func(tx tierup.Store) error {
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
			return e.save(ctx, tx, fresh, "system", tierup.ActionResumedAfterCrash,
				fmt.Sprintf("%s had stopped (process %s); resuming it", what, cmp.Or(dead, "unknown")))
		})
		if err != nil {
			return err
		}
		e.Publish(u.ID)
	}
	return nil
}
