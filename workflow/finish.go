package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

// failure classifies a step error.
type failure int

const (
	failRetry       failure = iota // transient: retry with backoff, then support
	failUnreachable                // a dependency is down: pause, probe, resume
	failDeclined                   // the card was refused: wait for another card
	failFatal                      // retrying cannot help: support
)

func classify(err error) (failure, string, string) {
	var pe *tierup.PaymentError
	if errors.As(err, &pe) {
		switch {
		case pe.Unavailable:
			return failUnreachable, string(pe.Code), pe.Message
		case pe.Retryable:
			return failRetry, string(pe.Code), pe.Message
		case pe.Code == "idempotency_key_reused":
			return failFatal, string(pe.Code), pe.Message
		}
		return failDeclined, string(pe.Code), pe.Message
	}
	code := tierup.ErrorCode(err)
	switch code {
	case tierup.CodeClusterUnreachable, tierup.CodeGatewayUnavailable:
		return failUnreachable, string(code), err.Error()
	case tierup.CodeQuoteInvalid:
		return failFatal, string(code), err.Error()
	case tierup.CodeInternal:
		return failRetry, "step_failed", err.Error()
	}
	return failRetry, string(code), err.Error()
}

// finish records a step's outcome in tx and schedules what comes next. It
// returns work to do after the commit (the support email), or nil.
func (e *Engine) finish(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, res result) (func(), error) {
	st := u.Step(step)
	now := e.Clock.Now().UTC()
	if res.apply != nil {
		if err := res.apply(ctx, tx, u); err != nil {
			return nil, err
		}
	}
	if u.CancelRequestedAt != nil {
		if done, err := e.concludeForCancel(ctx, tx, u, st, res, now); done || err != nil {
			return nil, err
		}
	}
	if res.err == nil {
		if u.Status == tierup.UpgradePaused {
			u.Status, u.PausedReason = tierup.UpgradeProcessing, ""
			if err := e.event(ctx, tx, u, "system", tierup.ActionResumed, "the connection is back; the upgrade continues"); err != nil {
				return nil, err
			}
		}
		st.Error = nil
		if res.more {
			if err := e.schedule(ctx, tx, u, step, now); err != nil {
				return nil, err
			}
			return nil, e.save(ctx, tx, u, "system", tierup.ActionStepProgress, res.msg)
		}
		if st.Status != tierup.StepSkipped {
			st.Status = tierup.StepSucceeded
		}
		st.FinishedAt, st.NextRetryAt = &now, nil
		next := tierup.NextStep(step)
		if next == "" {
			u.Status, u.CurrentStep, u.CompletedAt = tierup.UpgradeCompleted, "", &now
			return nil, e.save(ctx, tx, u, "system", tierup.ActionCompleted, "upgrade to "+u.ToPlan+" completed: "+res.msg)
		}
		u.CurrentStep = next
		if err := e.schedule(ctx, tx, u, next, now); err != nil {
			return nil, err
		}
		return nil, e.save(ctx, tx, u, "system", tierup.ActionStepSucceeded, fmt.Sprintf("%s: %s", step, res.msg))
	}

	kind, code, msg := classify(res.err)
	st.Error = &tierup.StepError{Code: code, Message: msg}
	if kind == failRetry && st.Attempts >= e.cfg.MaxAttempts {
		kind = failFatal
	}
	switch {
	case kind == failUnreachable:
		st.Attempts-- // waiting for a dependency is not a failed attempt
		st.Status = tierup.StepRetrying
		probe := now.Add(e.cfg.PauseProbe)
		st.NextRetryAt = &probe
		if err := e.schedule(ctx, tx, u, step, probe); err != nil {
			return nil, err
		}
		if u.Status == tierup.UpgradePaused {
			return nil, e.saveQuiet(ctx, tx, u) // still down: no event for every probe
		}
		u.Status, u.PausedReason = tierup.UpgradePaused, msg
		return nil, e.save(ctx, tx, u, "system", tierup.ActionPaused, fmt.Sprintf("%s paused: %s; it resumes by itself", step, msg))

	case step == tierup.StepPayment && kind == failDeclined:
		// Only a refusal waits for another card. A payment whose transient
		// errors ran out may have gone through: a new card would mean a new
		// idempotency key and perhaps a second charge, so support decides.
		st.Status, st.FinishedAt = tierup.StepFailed, &now
		u.Status = tierup.UpgradePaymentFailed
		u.Payment.Status, u.Payment.FailureCode, u.Payment.Message = tierup.PaymentFailed, tierup.PaymentCode(code), msg
		u.Payment.DeclineCode = ""
		var pe *tierup.PaymentError
		if errors.As(res.err, &pe) {
			u.Payment.DeclineCode = pe.DeclineCode
		}
		return nil, e.save(ctx, tx, u, "system", tierup.ActionPaymentFailed,
			fmt.Sprintf("payment attempt %d failed (%s): %s", u.Payment.Attempt, code, msg))

	case kind == failRetry:
		st.Status = tierup.StepRetrying
		next := now.Add(e.backoff(st.Attempts))
		st.NextRetryAt = &next
		if err := e.schedule(ctx, tx, u, step, next); err != nil {
			return nil, err
		}
		return nil, e.save(ctx, tx, u, "system", tierup.ActionStepRetryScheduled,
			fmt.Sprintf("%s failed (%s: %s); attempt %d of %d at %s", step, code, msg, st.Attempts+1, e.cfg.MaxAttempts, next.Format(time.RFC3339)))

	default: // retries exhausted, or retrying cannot help
		st.Status, st.FinishedAt, st.NextRetryAt = tierup.StepFailed, &now, nil
		u.Status = tierup.UpgradeNeedsSupport
		ticket := &tierup.SupportTicket{ID: tierup.NewID("tkt"), UpgradeID: u.ID, AccountID: u.AccountID, Step: step,
			Error: fmt.Sprintf("%s: %s", code, msg), Status: "open", CreatedAt: now}
		if err := tx.CreateSupportTicket(ctx, ticket); err != nil {
			return nil, err
		}
		u.SupportTicket = ticket.ID
		if err := tx.CreateNotification(ctx, &tierup.Notification{ID: tierup.NewID("ntf"), AccountID: u.AccountID, Kind: "upgrade_needs_support",
			Title: "Your upgrade needs a hand from our team",
			Body: fmt.Sprintf("The %s step could not finish after %d attempts (%s). Our support team has been notified (ticket %s) and will finish it; nothing else is needed from you.",
				step, st.Attempts, msg, ticket.ID), CreatedAt: now}); err != nil {
			return nil, err
		}
		if err := e.save(ctx, tx, u, "system", tierup.ActionNeedsSupport,
			fmt.Sprintf("%s failed after %d attempts (%s: %s); support ticket %s opened", step, st.Attempts, code, msg, ticket.ID)); err != nil {
			return nil, err
		}
		return func() {
			mail := tierup.Email{To: e.cfg.SupportEmail, Subject: fmt.Sprintf("[tierup] upgrade %s needs support (%s)", u.ID, ticket.ID),
				Text: fmt.Sprintf("Upgrade %s of account %s from %s to %s stopped at step %s after %d attempts.\nLast error: %s: %s\n\nRetry: POST /v1/upgrades/%s/retry\nCancel and refund: POST /v1/upgrades/%s/cancel\n",
					u.ID, u.AccountID, u.FromPlan, u.ToPlan, step, st.Attempts, code, msg, u.ID, u.ID)}
			if err := e.Mailer.Send(context.WithoutCancel(ctx), mail); err != nil {
				e.Log.ErrorContext(ctx, "support email not sent", "upgrade", u.ID, "ticket", ticket.ID, "err", err)
			}
		}, nil
	}
}

// concludeForCancel ends a step that was in flight when a cancel came:
// its outcome is recorded (a charge that went through must be known to be
// refunded) and compensation follows. A step that could not conclude yet
// (its dependency is down, or a retry is due) goes on as usual and comes
// back here; done is false then.
func (e *Engine) concludeForCancel(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, st *tierup.Step, res result, now time.Time) (bool, error) {
	if res.err != nil {
		if kind, _, _ := classify(res.err); kind == failUnreachable || (kind == failRetry && st.Attempts < e.cfg.MaxAttempts) {
			return false, nil
		}
		_, code, msg := classify(res.err)
		st.Status, st.Error = tierup.StepFailed, &tierup.StepError{Code: code, Message: msg}
	} else if res.more {
		st.Status, st.Error = tierup.StepFailed, &tierup.StepError{Code: "canceled", Message: "stopped by a cancel before it finished"}
	} else {
		st.Status, st.Error = tierup.StepSucceeded, nil
	}
	st.FinishedAt, st.NextRetryAt = &now, nil
	if u.Status == tierup.UpgradePaused {
		u.Status, u.PausedReason = tierup.UpgradeProcessing, ""
	}
	if err := e.schedule(ctx, tx, u, stepCompensate, now); err != nil {
		return true, err
	}
	return true, e.save(ctx, tx, u, "system", tierup.ActionStepConcludedForCancel, fmt.Sprintf("%s concluded (%s); compensating", st.Name, st.Status))
}

// finishCompensation records one part of the cancel's compensation and
// schedules the next; compensation retries until it has undone everything.
func (e *Engine) finishCompensation(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, res result) error {
	now := e.Clock.Now().UTC()
	if res.err != nil {
		kind, code, msg := classify(res.err)
		delay := e.cfg.PauseProbe
		if kind != failUnreachable {
			delay = e.backoff(3)
		}
		if err := e.schedule(ctx, tx, u, stepCompensate, now.Add(delay)); err != nil {
			return err
		}
		return e.save(ctx, tx, u, "system", tierup.ActionCancelRetryScheduled, fmt.Sprintf("compensation failed (%s: %s); trying again", code, msg))
	}
	if err := res.apply(ctx, tx, u); err != nil {
		return err
	}
	if res.more {
		if err := e.schedule(ctx, tx, u, stepCompensate, now); err != nil {
			return err
		}
		return e.save(ctx, tx, u, "system", tierup.ActionCancelProgress, res.msg)
	}
	u.Status, u.PausedReason = tierup.UpgradeCanceled, ""
	return e.save(ctx, tx, u, "system", tierup.ActionCanceled, res.msg)
}

// saveQuiet stores the upgrade without an event.
func (e *Engine) saveQuiet(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
	u.UpdatedAt = e.Clock.Now().UTC()
	u.UpdateProgress()
	return tx.UpdateUpgrade(ctx, u)
}
