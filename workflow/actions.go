package workflow

import (
	"context"
	"fmt"

	"github.com/tierup/tierup"
)

// Retry resumes an upgrade that needs support from its failed step, with a
// fresh retry budget. Retrying an upgrade that is already running again is
// a no-op. Errors: CodeInvalidState for finished upgrades.
func (e *Engine) Retry(ctx context.Context, id, actor string) (*tierup.Upgrade, error) {
	return e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		switch {
		case u.Status == tierup.UpgradeProcessing || u.Status == tierup.UpgradePaused:
			return false, nil
		case u.Status != tierup.UpgradeNeedsSupport || u.CancelRequestedAt != nil:
			return false, tierup.Errorf(tierup.CodeInvalidState, "upgrade %s is %s; only an upgrade that needs support can be retried", u.ID, u.Status)
		}
		st := u.Step(u.CurrentStep)
		st.Status, st.Attempts, st.NextRetryAt, st.FinishedAt = tierup.StepRetrying, 0, nil, nil
		u.Status = tierup.UpgradeProcessing
		if err := e.schedule(ctx, tx, u, u.CurrentStep, e.Clock.Now()); err != nil {
			return false, err
		}
		return true, e.save(ctx, tx, u, actor, tierup.ActionAdminRetry, fmt.Sprintf("retry of %s requested (ticket %s)", u.CurrentStep, u.SupportTicket))
	})
}

// Cancel compensates an active upgrade: refund the charge, move workloads
// back, release the node, restore the previous plan and tell the user. It
// runs as a durable job; canceling again is a no-op. Errors:
// CodeInvalidState for a completed upgrade.
func (e *Engine) Cancel(ctx context.Context, id, actor string) (*tierup.Upgrade, error) {
	return e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		if u.Status == tierup.UpgradeCanceled || u.CancelRequestedAt != nil {
			return false, nil
		}
		if !u.Status.Active() {
			return false, tierup.Errorf(tierup.CodeInvalidState, "upgrade %s is %s and cannot be canceled", u.ID, u.Status)
		}
		now := e.Clock.Now().UTC()
		u.CancelRequestedAt = &now
		st := u.Step(u.CurrentStep)
		var err error
		switch {
		case st != nil && st.Status == tierup.StepRunning:
			// In flight: it concludes first, so that what it did (a charge,
			// a node) is known and undone; then compensation follows.
		case st != nil && st.Status == tierup.StepRetrying && (u.Status == tierup.UpgradeProcessing || u.Status == tierup.UpgradePaused):
			// An earlier attempt may have taken effect: conclude it now.
			err = e.schedule(ctx, tx, u, u.CurrentStep, now)
		default:
			if st != nil {
				st.Run++ // a queued job for the step is now stale
			}
			err = e.schedule(ctx, tx, u, stepCompensate, now)
		}
		if err != nil {
			return false, err
		}
		return true, e.save(ctx, tx, u, actor, tierup.ActionCancelRequested, "cancel requested: refunding and restoring the previous plan")
	})
}

// RetryPayment continues an upgrade whose payment failed with another (or
// corrected) card; it is a new payment attempt with its own idempotency
// key. Errors: CodeInvalidState unless the payment failed.
func (e *Engine) RetryPayment(ctx context.Context, id string, pm *tierup.PaymentMethod, actor string) (*tierup.Upgrade, error) {
	return e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		if u.Status != tierup.UpgradePaymentFailed || u.CancelRequestedAt != nil {
			return false, tierup.Errorf(tierup.CodeInvalidState, "upgrade %s is %s; a payment can only be retried after it failed", u.ID, u.Status)
		}
		u.Payment.Attempt++
		u.Payment.Status, u.Payment.PaymentMethodID, u.Payment.Brand, u.Payment.Last4 = tierup.PaymentPending, pm.ID, pm.Brand, pm.Last4
		u.Payment.DeclineCode, u.Payment.FailureCode, u.Payment.Message = "", "", ""
		st := u.Step(tierup.StepPayment)
		st.Status, st.Attempts, st.Error, st.FinishedAt = tierup.StepPending, 0, nil, nil
		u.Status = tierup.UpgradeProcessing
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
		if tierup.ErrorCode(err) != tierup.CodeConflict {
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
