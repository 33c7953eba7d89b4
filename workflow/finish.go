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

// classify says how a step's error is handled, with the code and message
// recorded on the step.
func classify(err error) (kind failure, code, msg string) {
	var pe *tierup.PaymentError
	if errors.As(err, &pe) {
		switch {
		case pe.Unavailable:
			return failUnreachable, string(pe.Code), pe.Message
		case pe.Retryable:
			return failRetry, string(pe.Code), pe.Message
		case pe.Code == tierup.PayCodeIdempotencyKeyReused:
			return failFatal, string(pe.Code), pe.Message
		}
		return failDeclined, string(pe.Code), pe.Message
	}
	var de *tierup.Error
	switch {
	case !errors.As(err, &de):
		return failRetry, "step_failed", err.Error()
	case errors.Is(err, tierup.ErrClusterUnreachable), errors.Is(err, tierup.ErrGatewayUnavailable), errors.Is(err, tierup.ErrDatabaseUnavailable):
		return failUnreachable, string(de.Code), err.Error()
	case errors.Is(err, tierup.ErrQuoteInvalid), errors.Is(err, tierup.ErrMigrationNotPossible):
		return failFatal, string(de.Code), err.Error()
	}
	return failRetry, string(de.Code), err.Error()
}

// outcomeUnknown reports whether a failed payment may have gone through
// all the same (tierup.PaymentError.OutcomeUnknown): only the gateway,
// asked again with the same idempotency key, can tell.
func outcomeUnknown(step tierup.StepName, err error) bool {
	pe := (*tierup.PaymentError)(nil)
	return step == tierup.StepPayment && errors.As(err, &pe) && pe.OutcomeUnknown
}

// finish records a step's outcome in tx and schedules what comes next. It
// returns work to do after the commit (the support email), or nil.
//
// ob collects what happened for the metrics, which work reports only once
// the transaction committed.
func (e *Engine) finish(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, res result, ob *observed) (func(), error) {
	for _, p := range res.done {
		if err := e.note(ctx, tx, u, p); err != nil {
			return nil, err
		}
	}
	now := e.Clock.Now().UTC()
	if res.apply != nil {
		if err := res.apply(ctx, tx, u); err != nil {
			return nil, err
		}
	}
	if u.CancelRequestedAt != nil {
		if done, err := e.concludeForCancel(ctx, tx, u, step, res, now); done || err != nil {
			ob.outcome = "canceled"
			return nil, err
		}
	}
	if res.err != nil {
		return e.fail(ctx, tx, u, step, res.err, now, ob)
	}
	if res.await != nil {
		ob.outcome = "awaiting_customer"
		return nil, e.awaitCustomer(ctx, tx, u, res.await, now)
	}
	if u.Status == tierup.UpgradePaused {
		if err := u.Resume(); err != nil {
			return nil, err
		}
		if err := e.event(ctx, tx, u, "system", tierup.ActionResumed, "the connection is back; the upgrade continues"); err != nil {
			return nil, err
		}
	}
	return nil, e.succeed(ctx, tx, u, step, res, now, ob)
}

// succeed records a step that did its work (or a part of it: res.more) and
// schedules the next job.
func (e *Engine) succeed(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, res result, now time.Time, ob *observed) error {
	if res.more {
		ob.outcome = "progress"
		if err := u.StepProgressed(step); err != nil {
			return err
		}
		if err := e.dispatch(ctx, tx, u, step, ob); err != nil {
			return err
		}
		return e.save(ctx, tx, u, "system", tierup.ActionStepProgress, res.msg) // a continuation: the claim records nothing
	}
	next, err := u.StepSucceeded(step, res.skipped, now)
	if err != nil {
		return err
	}
	ob.outcome = "succeeded"
	if res.skipped {
		ob.outcome = "skipped"
	}
	if step == tierup.StepPayment && !res.skipped {
		ob.payment = "succeeded"
	}
	if next == "" {
		ob.finished = "completed"
		return e.save(ctx, tx, u, "system", tierup.ActionCompleted, "upgrade to "+u.ToPlan+" completed: "+res.msg)
	}
	if err := e.dispatch(ctx, tx, u, next, ob); err != nil {
		return err
	}
	evs := []*tierup.UpgradeEvent{e.newEvent(u, "system", tierup.ActionStepSucceeded, fmt.Sprintf("%s: %s", step, res.msg))}
	if ev, err := e.claimHere(u, ob); err != nil {
		return err
	} else if ev != nil {
		evs = append(evs, ev)
	}
	return e.saveEvents(ctx, tx, u, evs...)
}

// fail records a step's failure by its kind: a pause, a decline, a retry
// later, or a hand-off to support.
func (e *Engine) fail(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, cause error, now time.Time, ob *observed) (func(), error) {
	kind, code, msg := classify(cause)
	if step == tierup.StepPayment {
		ob.payment = "error" // a decline says so below
	}
	se := tierup.StepError{Code: code, Message: msg}
	switch {
	case kind == failRetry && u.Step(step).Attempts >= e.cfg.MaxAttempts && outcomeUnknown(step, cause):
		// Support could only guess whether the money moved, and a cancel
		// would refund nothing: keep asking with the same key, paused.
		kind = failUnreachable
		se.Message = "the payment provider has not said whether the payment went through; asking it again until it does (" + msg + ")"
	case kind == failRetry && u.Step(step).Attempts >= e.cfg.MaxAttempts:
		kind = failFatal
	case kind == failDeclined && step != tierup.StepPayment:
		kind = failFatal // only a payment waits for a person's new input
	}
	switch kind {
	case failUnreachable:
		ob.outcome = "paused"
		return nil, e.pause(ctx, tx, u, step, se, now, ob)
	case failDeclined:
		// Only a refusal waits for another card. A payment whose transient
		// errors ran out may have gone through: a new card would mean a new
		// idempotency key and perhaps a second charge, so support decides.
		decline := ""
		if pe := (*tierup.PaymentError)(nil); errors.As(cause, &pe) {
			decline = pe.DeclineCode
		}
		ob.outcome, ob.payment, ob.decline = "declined", "declined", decline
		if err := u.PaymentDeclined(se, decline, now); err != nil {
			return nil, err
		}
		return nil, e.save(ctx, tx, u, "system", tierup.ActionPaymentFailed,
			fmt.Sprintf("payment attempt %d failed (%s): %s", u.Payment.Attempt, code, msg))
	case failRetry:
		ob.outcome = "retry"
		st := u.Step(step)
		next := now.Add(e.backoff(st.Attempts))
		if err := u.StepFailed(step, se, next); err != nil {
			return nil, err
		}
		if err := e.schedule(ctx, tx, u, step, next); err != nil {
			return nil, err
		}
		return nil, e.save(ctx, tx, u, "system", tierup.ActionStepRetryScheduled,
			fmt.Sprintf("%s failed (%s: %s); attempt %d of %d at %s", step, code, msg, st.Attempts+1, e.cfg.MaxAttempts, next.Format(time.RFC3339)))
	}
	ob.outcome, ob.support = "needs_support", true
	return e.handToSupport(ctx, tx, u, step, se, now)
}

// pause waits for an unreachable dependency: the step probes again soon,
// and only the first failed probe is an event.
func (e *Engine) pause(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, se tierup.StepError, now time.Time, ob *observed) error {
	probe := now.Add(e.cfg.PauseProbe)
	already, err := u.Pause(step, se, probe)
	if err != nil {
		return err
	}
	if !already {
		ob.pausedBy = se.Code // a pause counts once, not every probe
	}
	if err := e.schedule(ctx, tx, u, step, probe); err != nil {
		return err
	}
	if already {
		return e.saveQuiet(ctx, tx, u) // still down: no event for every probe
	}
	return e.save(ctx, tx, u, "system", tierup.ActionPaused, fmt.Sprintf("%s paused: %s; it resumes by itself", step, se.Message))
}

// handToSupport opens a ticket and tells the user; the returned function
// emails support after the commit.
func (e *Engine) handToSupport(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, se tierup.StepError, now time.Time) (func(), error) {
	attempts := u.Step(step).Attempts
	ticket := &tierup.SupportTicket{ID: tierup.NewID("tkt"), UpgradeID: u.ID, AccountID: u.AccountID, Step: step,
		Error: fmt.Sprintf("%s: %s", se.Code, se.Message), Status: tierup.TicketOpen, CreatedAt: now}
	if err := u.NeedSupport(step, se, ticket.ID, now); err != nil {
		return nil, err
	}
	if err := tx.CreateSupportTicket(ctx, ticket); err != nil {
		return nil, err
	}
	plan, _ := e.Catalog.Plan(u.ToPlan) // nil when retired: one node
	body := fmt.Sprintf("Your upgrade stopped at “%s”: it could not finish after %d attempts (%s). Our support team has been notified (ticket %s) and will finish it; nothing else is needed from you.",
		tierup.StepTitle(step, u.NodeCount(plan)), attempts, se.Message, ticket.ID)
	if se.Code == string(tierup.CodeMigrationNotPossible) {
		body = fmt.Sprintf("Your upgrade is on hold before any charge: %s Once that is fixed, our support team (ticket %s) resumes it; or cancel it, which costs nothing.",
			se.Message, ticket.ID)
	}
	if err := tx.CreateNotification(ctx, &tierup.Notification{ID: tierup.NewID("ntf"), AccountID: u.AccountID, Kind: "upgrade_needs_support",
		Title: "Your upgrade needs a hand from our team", Body: body, CreatedAt: now}); err != nil {
		return nil, err
	}
	if err := e.save(ctx, tx, u, "system", tierup.ActionNeedsSupport,
		fmt.Sprintf("%s failed after %d attempts (%s: %s); support ticket %s opened", step, attempts, se.Code, se.Message, ticket.ID)); err != nil {
		return nil, err
	}
	mail := tierup.Email{To: e.cfg.SupportEmail, Subject: fmt.Sprintf("[tierup] upgrade %s needs support (%s)", u.ID, ticket.ID),
		Text: fmt.Sprintf("Upgrade %s of account %s from %s to %s stopped at step %s after %d attempts.\nLast error: %s: %s\n\nRetry: POST /v1/upgrades/%s/retry\nCancel and refund: POST /v1/upgrades/%s/cancel\n",
			u.ID, u.AccountID, u.FromPlan, u.ToPlan, step, attempts, se.Code, se.Message, u.ID, u.ID)}
	return func() {
		if err := e.Mailer.Send(context.WithoutCancel(ctx), mail); err != nil {
			e.Log.ErrorContext(ctx, "support email not sent", "upgrade", u.ID, "ticket", ticket.ID, "err", err)
		}
	}, nil
}

// concludeForCancel ends a step that was in flight when a cancel came:
// its outcome is recorded (a charge that went through must be known to be
// refunded) and compensation follows. A step that could not conclude yet
// (its dependency is down, or a retry is due) goes on as usual and comes
// back here; done is false then.
func (e *Engine) concludeForCancel(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, res result, now time.Time) (bool, error) {
	var cause *tierup.StepError
	switch {
	case res.err != nil:
		kind, code, msg := classify(res.err)
		if kind == failUnreachable || (kind == failRetry && (u.Step(step).Attempts < e.cfg.MaxAttempts || outcomeUnknown(step, res.err))) {
			return false, nil // the step goes on: a cancel waits for its outcome
		}
		cause = &tierup.StepError{Code: code, Message: msg}
	case res.more:
		cause = &tierup.StepError{Code: "canceled", Message: "stopped by a cancel before it finished"}
	}
	if err := u.ConcludeForCancel(step, cause, now); err != nil {
		return true, err
	}
	if err := e.schedule(ctx, tx, u, stepCompensate, now); err != nil {
		return true, err
	}
	return true, e.save(ctx, tx, u, "system", tierup.ActionStepConcludedForCancel, fmt.Sprintf("%s concluded (%s); compensating", step, u.Step(step).Status))
}

// finishCompensation records one part of the cancel's compensation and
// schedules the next; compensation retries until it has undone everything.
func (e *Engine) finishCompensation(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, res result, ob *observed) error {
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
	if err := u.Canceled(); err != nil {
		return err
	}
	ob.finished = "canceled"
	return e.save(ctx, tx, u, "system", tierup.ActionCanceled, res.msg)
}

// saveQuiet stores the upgrade without an event.
func (e *Engine) saveQuiet(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
	u.UpdatedAt = e.Clock.Now().UTC()
	u.UpdateProgress()
	return tx.UpdateUpgrade(ctx, u)
}

// observed is what one job's commit did, for tierup.Metrics. It is
// reported after the commit, so that a rolled-back outcome is not counted.
type observed struct {
	outcome  string // the step's: see tierup.Metrics.StepFinished
	payment  string // a payment step's final outcome: succeeded, declined or error
	decline  string // the gateway's decline code
	pausedBy string // the code of a new pause
	finished string // completed or canceled: the upgrade ended
	support  bool   // handed to support
	// next is the step the commit claimed for this worker to run next,
	// without the queue (dispatch).
	next *link
}

// report tells Metrics what a committed job did.
func (e *Engine) report(step tierup.StepName, ob *observed, took time.Duration) {
	m := e.Metrics
	if ob.outcome != "" && step != stepCompensate {
		m.StepFinished(step, ob.outcome, took)
	}
	if ob.payment != "" {
		m.PaymentAttempt(ob.payment, ob.decline)
	}
	if ob.pausedBy != "" {
		m.Paused(ob.pausedBy)
	}
	if ob.support {
		m.NeedsSupport(step)
	}
	if ob.finished != "" {
		m.UpgradeFinished(ob.finished)
	}
}
