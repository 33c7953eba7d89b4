package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

// Retry resumes an upgrade that needs support from its failed step, with a
// fresh retry budget. Retrying an upgrade that is already running again is
// a no-op. Errors: CodeInvalidState (a *tierup.TransitionError) for
// finished upgrades and those being canceled.
func (e *Engine) Retry(ctx context.Context, id, actor string) (*tierup.Upgrade, error) {
	return e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		if u.Status == tierup.UpgradeProcessing || u.Status == tierup.UpgradePaused {
			return false, nil
		}
		if err := u.Retry(); err != nil {
			return false, err
		}
		if err := e.schedule(ctx, tx, u, u.CurrentStep, e.Clock.Now()); err != nil {
			return false, err
		}
		return true, e.save(ctx, tx, u, actor, tierup.ActionAdminRetry, fmt.Sprintf("retry of %s requested (ticket %s)", u.CurrentStep, u.SupportTicket))
	})
}

// Cancel compensates an active upgrade: refund the charge, move workloads
// back, release the node, restore the previous plan and tell the user. It
// runs as a durable job; canceling again is a no-op. Errors:
// CodeInvalidState (a *tierup.TransitionError) for a completed upgrade.
func (e *Engine) Cancel(ctx context.Context, id, actor string) (*tierup.Upgrade, error) {
	return e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		if u.Status == tierup.UpgradeCanceled || u.CancelRequestedAt != nil {
			return false, nil
		}
		now := e.Clock.Now().UTC()
		if err := u.RequestCancel(now); err != nil {
			return false, err
		}
		if err := e.scheduleCancel(ctx, tx, u, now); err != nil {
			return false, err
		}
		return true, e.save(ctx, tx, u, actor, tierup.ActionCancelRequested, "cancel requested: refunding and restoring the previous plan")
	})
}

// scheduleCancel lets the step in flight conclude first, so that what it
// did (a charge, a node) is known and undone; then compensation follows.
func (e *Engine) scheduleCancel(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, now time.Time) error {
	st := u.Step(u.CurrentStep)
	switch {
	case st != nil && st.Status == tierup.StepRunning:
		return nil // its job concludes it
	case st != nil && st.Status == tierup.StepRetrying && u.Moving():
		return e.schedule(ctx, tx, u, u.CurrentStep, now) // an earlier attempt may have taken effect: conclude it now
	case st != nil:
		st.Run++ // a queued job for the step is now stale
	}
	return e.schedule(ctx, tx, u, stepCompensate, now)
}

// RetryPayment continues an upgrade whose payment failed with another (or
// corrected) card; it is a new payment attempt with its own idempotency
// key. Errors: CodeInvalidState (a *tierup.TransitionError) unless the
// payment failed.
func (e *Engine) RetryPayment(ctx context.Context, id string, pm *tierup.PaymentMethod, actor string) (*tierup.Upgrade, error) {
	return e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		if err := u.RetryPayment(pm); err != nil {
			return false, err
		}
		if err := e.schedule(ctx, tx, u, tierup.StepPayment, e.Clock.Now()); err != nil {
			return false, err
		}
		return true, e.save(ctx, tx, u, actor, tierup.ActionPaymentRetry, fmt.Sprintf("payment attempt %d with %s •••• %s", u.Payment.Attempt, pm.Brand, pm.Last4))
	})
}

// change applies f to the upgrade in a transaction and wakes listeners.
func (e *Engine) change(ctx context.Context, id string, f func(tx tierup.Store, u *tierup.Upgrade) (bool, error)) (*tierup.Upgrade, error) {
	var u *tierup.Upgrade
	var changed bool
	var err error
	for range 5 { // a step may commit meanwhile: read again and decide again
		err = e.Store.InTx(ctx, func(tx tierup.Store) error {
			var err error
			if u, err = tx.Upgrade(ctx, id); err != nil {
				return err
			}
			changed, err = f(tx, u)
			return err
		})
		if !errors.Is(err, tierup.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if changed {
		e.Publish(id)
	}
	return u, nil
}
