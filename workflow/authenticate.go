package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

// 3-D Secure. A charge the customer's bank wants them to authenticate
// leaves the payment step waiting (payment_action_required): it reads the
// charge again every AuthenticationCheck, and at once when the challenge
// page or a webhook says something changed, until the charge ends or
// AuthenticationTimeout passes. The charge keeps its idempotency key and
// gateway ID throughout: it is the same payment, never a second one.

// chargeOutcome turns what the gateway says of the charge into the step's
// result.
func (e *Engine) chargeOutcome(ctx context.Context, u *tierup.Upgrade, charge *tierup.Charge) result {
	switch charge.Status {
	case tierup.ChargeRequiresAction:
		now := e.Clock.Now()
		expired := u.Payment.ActionExpiresAt != nil && !now.Before(*u.Payment.ActionExpiresAt)
		if u.CancelRequestedAt == nil && !expired {
			return result{await: charge, msg: "your bank asks you to confirm the payment"}
		}
		// Abandon it, so that a late authentication cannot take money.
		ended, err := e.Gateway.CancelCharge(ctx, charge.ID)
		if err != nil {
			return result{err: err}
		}
		if ended.Status == tierup.ChargeSucceeded {
			return e.charged(u, ended) // the customer was faster
		}
		return e.abandoned(u)
	case tierup.ChargeCanceled:
		return e.abandoned(u)
	}
	return e.charged(u, charge)
}

// charged records the charge and, in the same commit, its receipt.
func (e *Engine) charged(u *tierup.Upgrade, charge *tierup.Charge) result {
	return e.withReceipt(result{msg: fmt.Sprintf("charged %s to %s •••• %s", charge.Amount, u.Payment.Brand, u.Payment.Last4),
		apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
			return u.PaymentCharged(charge.ID)
		}})
}

// abandoned ends a charge nobody authenticated: the payment fails, as a
// decline does, and another card (or the same) can be tried.
func (e *Engine) abandoned(u *tierup.Upgrade) result {
	pe := &tierup.PaymentError{Code: tierup.PayCodeAuthenticationExpired,
		Message: fmt.Sprintf("The payment was not confirmed with your bank within %s, so nothing was charged. Try again, or use another card.", minutes(e.cfg.AuthenticationTimeout))}
	if u.CancelRequestedAt != nil {
		pe.Message = "The upgrade was canceled before you confirmed the payment with your bank; nothing was charged."
		return result{err: pe, apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
			return u.PaymentAbandoned(pe.Code, pe.Message)
		}}
	}
	return result{err: pe}
}

func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return d.String()
}

// awaitCustomer records that the payment waits for the customer and
// schedules the next check, never later than the expiry. Only the first
// wait is an event: the checks are quiet.
func (e *Engine) awaitCustomer(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, charge *tierup.Charge, now time.Time) error {
	already, err := u.PaymentActionRequired(charge.ID, charge.NextAction, now.Add(e.cfg.AuthenticationTimeout), now.Add(e.cfg.AuthenticationCheck))
	if err != nil {
		return err
	}
	at := *u.Step(tierup.StepPayment).NextRetryAt
	if exp := *u.Payment.ActionExpiresAt; exp.Before(at) {
		at = exp
	}
	if err := e.schedule(ctx, tx, u, tierup.StepPayment, at); err != nil {
		return err
	}
	if already {
		return e.saveQuiet(ctx, tx, u)
	}
	loc := time.UTC
	if acct, err := tx.Account(ctx, u.AccountID); err == nil {
		loc = acct.Location()
	}
	return e.save(ctx, tx, u, "system", tierup.ActionPaymentActionRequired,
		fmt.Sprintf("your bank asks you to confirm the payment of %s (3-D Secure); waiting until %s", u.Payment.Amount,
			u.Payment.ActionExpiresAt.In(loc).Format("15:04 MST")))
}

// CheckPayment makes a payment that waits for the customer's
// authentication read its charge now: the challenge page was answered, or
// the gateway reported a change by webhook. The webhook is only a hint —
// the charge as the gateway has it now decides — so an old or repeated
// event cannot move the upgrade backwards. For an upgrade that is not
// waiting it does nothing. Errors: tierup.ErrNotFound.
func (e *Engine) CheckPayment(ctx context.Context, id string) error {
	_, err := e.change(ctx, id, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		st := u.Step(tierup.StepPayment)
		if u.Status != tierup.UpgradePaymentActionRequired || u.CurrentStep != tierup.StepPayment || st.Status != tierup.StepRetrying {
			return false, nil
		}
		now := e.Clock.Now().UTC()
		st.NextRetryAt = &now
		if err := e.schedule(ctx, tx, u, tierup.StepPayment, now); err != nil {
			return false, err
		}
		return true, e.saveQuiet(ctx, tx, u)
	})
	return err
}
