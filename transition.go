package tierup

import (
	"fmt"
	"slices"
	"time"
)

// The upgrade's state machine. Every change of an upgrade's status, of a
// step's status or of the payment's status happens through one of the
// methods below. Each checks the table in (Transition).rule first and, when
// the move is not allowed from where the upgrade stands, returns a
// *TransitionError and changes nothing.

// Transition names one move of the state machine.
type Transition string

// Transitions.
const (
	TransitionStartStep       Transition = "start_step"          // a job claims the current step
	TransitionTakeOverStep    Transition = "take_over_step"      // a live process continues a dead one's running step
	TransitionHandBackStep    Transition = "hand_back_step"      // a stopping process gives its running step back unfinished
	TransitionStepProgressed  Transition = "step_progressed"     // the step did part of its work and goes on
	TransitionStepSucceeded   Transition = "step_succeeded"      // the step is done; the next starts, or the upgrade completes
	TransitionStepFailed      Transition = "step_failed"         // a transient failure: another attempt at a set time
	TransitionPause           Transition = "pause"               // a dependency is unreachable: probe until it is back
	TransitionResume          Transition = "resume"              // the dependency is back
	TransitionPaymentDeclined Transition = "payment_declined"    // the card was refused: wait for another
	TransitionNeedSupport     Transition = "need_support"        // retries ran out or cannot help: a person takes over
	TransitionRetry           Transition = "retry"               // support resumes the failed step with a fresh budget
	TransitionRetryPayment    Transition = "retry_payment"       // the user pays again with another card
	TransitionRequestCancel   Transition = "request_cancel"      // compensation is to follow
	TransitionConcludeStep    Transition = "conclude_for_cancel" // the step in flight at a cancel ends; compensation follows
	TransitionCanceled        Transition = "canceled"            // compensation is complete
	TransitionPaymentCharged  Transition = "payment_charged"     // the gateway took the money
	TransitionPaymentNotDue   Transition = "payment_not_due"     // nothing was due: no charge
	TransitionRefunded        Transition = "refunded"            // a cancel gave the money back
	// The customer's bank asks them to authenticate the charge (3-D
	// Secure): wait for them, checking the charge again now and then.
	TransitionPaymentActionRequired Transition = "payment_action_required"
	// A cancel abandoned the charge awaiting authentication.
	TransitionPaymentAbandoned Transition = "payment_abandoned"
)

// statusSet is a set of upgrade statuses.
type statusSet uint8

func setOf(ss ...UpgradeStatus) statusSet {
	var s statusSet
	for _, x := range ss {
		s |= 1 << x.bit()
	}
	return s
}

func (s statusSet) has(x UpgradeStatus) bool { return s&(1<<x.bit()) != 0 }

func (x UpgradeStatus) bit() uint {
	switch x {
	case UpgradeProcessing:
		return 0
	case UpgradePaymentFailed:
		return 1
	case UpgradePaused:
		return 2
	case UpgradeNeedsSupport:
		return 3
	case UpgradeCompleted:
		return 4
	case UpgradeCanceled:
		return 5
	case UpgradePaymentActionRequired:
		return 6
	}
	return 7 // unknown: in no set
}

// cancelRule says how a transition relates to a requested cancel.
type cancelRule uint8

const (
	cancelAny       cancelRule = iota // allowed with or without a cancel requested
	cancelNone                        // only while no cancel is requested
	cancelRequested                   // only once a cancel is requested
)

type rule struct {
	from   statusSet
	cancel cancelRule
	// step is the status the current step must be in (any when empty).
	step []StepStatus
	// payment is the status the payment must be in (any when empty).
	payment []PaymentStatus
	// why tells a person what is allowed instead, for the refusal.
	why string
}

// rule is the table of what is allowed from where.
func (t Transition) rule() rule {
	moving := setOf(UpgradeProcessing, UpgradePaused, UpgradePaymentActionRequired)
	active := setOf(UpgradeProcessing, UpgradePaused, UpgradePaymentActionRequired, UpgradePaymentFailed, UpgradeNeedsSupport)
	switch t {
	case TransitionStartStep:
		return rule{from: moving, step: []StepStatus{StepPending, StepRetrying}}
	case TransitionTakeOverStep, TransitionHandBackStep, TransitionStepProgressed, TransitionStepSucceeded, TransitionStepFailed,
		TransitionPause, TransitionNeedSupport:
		return rule{from: moving, step: []StepStatus{StepRunning}}
	case TransitionPaymentDeclined:
		return rule{from: moving, cancel: cancelNone, step: []StepStatus{StepRunning}}
	case TransitionConcludeStep:
		return rule{from: moving, cancel: cancelRequested, step: []StepStatus{StepRunning}}
	case TransitionResume:
		return rule{from: setOf(UpgradePaused)}
	case TransitionRetry:
		return rule{from: setOf(UpgradeNeedsSupport), cancel: cancelNone, why: "only an upgrade that needs support can be retried"}
	case TransitionRetryPayment:
		return rule{from: setOf(UpgradePaymentFailed), cancel: cancelNone, why: "a payment can only be retried after it failed"}
	case TransitionRequestCancel:
		return rule{from: active, cancel: cancelNone, why: "only an active upgrade can be canceled"}
	case TransitionCanceled:
		return rule{from: active, cancel: cancelRequested}
	case TransitionPaymentCharged:
		return rule{from: moving, step: []StepStatus{StepRunning}, payment: []PaymentStatus{PaymentPending, PaymentRequiresAction}}
	case TransitionPaymentNotDue:
		return rule{from: moving, step: []StepStatus{StepRunning}, payment: []PaymentStatus{PaymentPending}}
	case TransitionPaymentActionRequired:
		return rule{from: moving, cancel: cancelNone, step: []StepStatus{StepRunning}, payment: []PaymentStatus{PaymentPending, PaymentRequiresAction}}
	case TransitionPaymentAbandoned:
		return rule{from: moving, cancel: cancelRequested, step: []StepStatus{StepRunning}, payment: []PaymentStatus{PaymentRequiresAction}}
	case TransitionRefunded:
		return rule{from: active, cancel: cancelRequested, payment: []PaymentStatus{PaymentSucceeded}}
	}
	return rule{}
}

// Transitions returns every transition (a new slice each time).
func Transitions() []Transition {
	return []Transition{TransitionStartStep, TransitionTakeOverStep, TransitionHandBackStep, TransitionStepProgressed, TransitionStepSucceeded,
		TransitionStepFailed, TransitionPause, TransitionResume, TransitionPaymentDeclined, TransitionNeedSupport,
		TransitionRetry, TransitionRetryPayment, TransitionRequestCancel, TransitionConcludeStep, TransitionCanceled,
		TransitionPaymentCharged, TransitionPaymentNotDue, TransitionRefunded, TransitionPaymentActionRequired, TransitionPaymentAbandoned}
}

// TransitionError is a move the state machine does not allow from where
// the upgrade stands. It matches ErrInvalidState with errors.Is.
type TransitionError struct {
	UpgradeID  string
	Transition Transition
	Status     UpgradeStatus
	Step       StepName
	StepStatus StepStatus
	Canceling  bool
}

func (e *TransitionError) Error() string {
	where := string(e.Status)
	if e.Canceling {
		where += ", being canceled"
	}
	if e.Step != "" {
		where += fmt.Sprintf(", step %s %s", e.Step, e.StepStatus)
	}
	why := e.Transition.rule().why
	if why == "" {
		why = string(e.Transition) + " is not allowed now"
	}
	return fmt.Sprintf("upgrade %s is %s; %s", e.UpgradeID, where, why)
}

// Unwrap makes the error a CodeInvalidState domain error.
func (e *TransitionError) Unwrap() error { return &Error{Code: CodeInvalidState, Message: e.Error()} }

// Can reports whether t is allowed now on the given step ("" for the
// current one).
func (u *Upgrade) Can(t Transition, step StepName) bool { return u.check(t, step) == nil }

// check returns a *TransitionError unless t is allowed now on step.
func (u *Upgrade) check(t Transition, step StepName) error {
	r := t.rule()
	if step == "" {
		step = u.CurrentStep
	}
	st := u.Step(step)
	bad := &TransitionError{UpgradeID: u.ID, Transition: t, Status: u.Status, Step: step, Canceling: u.CancelRequestedAt != nil}
	if st != nil {
		bad.StepStatus = st.Status
	}
	switch {
	case !r.from.has(u.Status):
		return bad
	case r.cancel == cancelNone && u.CancelRequestedAt != nil, r.cancel == cancelRequested && u.CancelRequestedAt == nil:
		return bad
	case r.payment != nil && !slices.Contains(r.payment, u.Payment.Status):
		return bad
	case r.step == nil:
		return nil
	case st == nil || step != u.CurrentStep || !slices.Contains(r.step, st.Status):
		return bad
	}
	return nil
}

// StartStep marks the current step running in worker: a new attempt.
func (u *Upgrade) StartStep(step StepName, worker string, now time.Time) error {
	if err := u.check(TransitionStartStep, step); err != nil {
		return err
	}
	st := u.Step(step)
	st.Status, st.NextRetryAt, st.Worker = StepRunning, nil, worker
	st.Attempts++
	if st.StartedAt == nil {
		st.StartedAt = &now
	}
	return nil
}

// TakeOverStep makes worker the process running the step, which a process
// that stopped had started; the attempt goes on.
func (u *Upgrade) TakeOverStep(step StepName, worker string) error {
	if err := u.check(TransitionTakeOverStep, step); err != nil {
		return err
	}
	u.Step(step).Worker = worker
	return nil
}

// HandBackStep gives the running step back unfinished, as it was before
// the run now ending claimed it (before: the step as that claim read it),
// because the process is shutting down: the run spends no attempt, and a
// step that was already running before (a continuation, or one taken over)
// stays running with no process, so that any process continues it at once.
// Errors: a *TransitionError, or one saying before is another step.
func (u *Upgrade) HandBackStep(step StepName, before Step) error {
	if err := u.check(TransitionHandBackStep, step); err != nil {
		return err
	}
	if before.Name != step {
		return fmt.Errorf("handing back %s with the record of %s", step, before.Name)
	}
	st := u.Step(step)
	run := st.Run
	*st = before
	st.Run = run
	if st.Status == StepRunning {
		st.Worker = ""
	}
	return nil
}

// StepProgressed records that the running step did part of its work and
// runs again; a paused upgrade resumes.
func (u *Upgrade) StepProgressed(step StepName) error {
	if err := u.check(TransitionStepProgressed, step); err != nil {
		return err
	}
	u.Step(step).Error = nil
	u.resume()
	return nil
}

// StepSucceeded ends the running step (as skipped when it had nothing to
// do) and makes the next step current, or completes the upgrade after the
// last; a paused upgrade resumes. It returns the next step, "" when the
// upgrade completed.
func (u *Upgrade) StepSucceeded(step StepName, skipped bool, now time.Time) (next StepName, err error) {
	if err := u.check(TransitionStepSucceeded, step); err != nil {
		return "", err
	}
	u.resume()
	st := u.Step(step)
	st.Status, st.Error, st.FinishedAt, st.NextRetryAt = StepSucceeded, nil, &now, nil
	if skipped {
		st.Status = StepSkipped
	}
	next = NextStep(step)
	u.CurrentStep = next
	if next == "" {
		u.Status, u.CompletedAt = UpgradeCompleted, &now
	}
	return next, nil
}

// StepFailed records a transient failure of the running step: another
// attempt is due at retryAt.
func (u *Upgrade) StepFailed(step StepName, cause StepError, retryAt time.Time) error {
	if err := u.check(TransitionStepFailed, step); err != nil {
		return err
	}
	st := u.Step(step)
	st.Status, st.Error, st.NextRetryAt = StepRetrying, &cause, &retryAt
	return nil
}

// Pause records that the running step's dependency is unreachable: the
// upgrade is paused and the step probes again at probeAt. Waiting for a
// dependency is not a failed attempt. It reports whether the upgrade was
// already paused (a probe that found it still down).
func (u *Upgrade) Pause(step StepName, cause StepError, probeAt time.Time) (already bool, err error) {
	if err := u.check(TransitionPause, step); err != nil {
		return false, err
	}
	st := u.Step(step)
	st.Attempts--
	st.Status, st.Error, st.NextRetryAt = StepRetrying, &cause, &probeAt
	already = u.Status == UpgradePaused
	u.Status, u.PausedReason = UpgradePaused, cause.Message
	return already, nil
}

// Resume moves a paused upgrade on: its dependency is back.
func (u *Upgrade) Resume() error {
	if err := u.check(TransitionResume, ""); err != nil {
		return err
	}
	u.resume()
	return nil
}

// resume makes a paused upgrade, or one that waited for the customer's
// authentication, processing again.
func (u *Upgrade) resume() {
	if u.Status == UpgradePaused || u.Status == UpgradePaymentActionRequired {
		u.Status, u.PausedReason = UpgradeProcessing, ""
	}
}

// PaymentDeclined records that the card was refused: the upgrade waits
// for another card (RetryPayment).
func (u *Upgrade) PaymentDeclined(cause StepError, declineCode string, now time.Time) error {
	if err := u.check(TransitionPaymentDeclined, StepPayment); err != nil {
		return err
	}
	st := u.Step(StepPayment)
	st.Status, st.Error, st.FinishedAt, st.NextRetryAt = StepFailed, &cause, &now, nil
	u.Status, u.PausedReason = UpgradePaymentFailed, ""
	u.Payment.Status, u.Payment.FailureCode, u.Payment.Message = PaymentFailed, PaymentCode(cause.Code), cause.Message
	u.Payment.DeclineCode, u.Payment.NextAction, u.Payment.ActionExpiresAt = declineCode, nil, nil
	return nil
}

// PaymentActionRequired records that the charge intent waits for the
// customer to authenticate it (next says how) until expiresAt (kept from
// the first time: checking again does not extend it). The step checks the
// charge again at checkAt; waiting for the customer is not a failed
// attempt. It reports whether the upgrade was already waiting.
func (u *Upgrade) PaymentActionRequired(intent string, next *NextAction, expiresAt, checkAt time.Time) (already bool, err error) {
	if err := u.check(TransitionPaymentActionRequired, StepPayment); err != nil {
		return false, err
	}
	already = u.Status == UpgradePaymentActionRequired && u.Payment.Intent == intent
	st := u.Step(StepPayment)
	st.Attempts--
	st.Status, st.Error, st.NextRetryAt = StepRetrying, nil, &checkAt
	u.Status, u.PausedReason = UpgradePaymentActionRequired, ""
	p := &u.Payment
	if p.Intent != intent || p.ActionExpiresAt == nil {
		p.ActionExpiresAt = &expiresAt
	}
	p.Status, p.Intent, p.NextAction = PaymentRequiresAction, intent, next
	return already, nil
}

// PaymentAbandoned records that a cancel abandoned the charge awaiting
// authentication: nothing was charged.
func (u *Upgrade) PaymentAbandoned(code PaymentCode, message string) error {
	if err := u.check(TransitionPaymentAbandoned, StepPayment); err != nil {
		return err
	}
	p := &u.Payment
	p.Status, p.FailureCode, p.Message, p.NextAction, p.ActionExpiresAt = PaymentFailed, code, message, nil, nil
	return nil
}

// NeedSupport records that the running step cannot finish by itself: the
// upgrade waits for support, who can Retry or cancel it.
func (u *Upgrade) NeedSupport(step StepName, cause StepError, ticket string, now time.Time) error {
	if err := u.check(TransitionNeedSupport, step); err != nil {
		return err
	}
	st := u.Step(step)
	st.Status, st.Error, st.FinishedAt, st.NextRetryAt = StepFailed, &cause, &now, nil
	u.Status, u.PausedReason, u.SupportTicket = UpgradeNeedsSupport, "", ticket
	return nil
}

// Retry resumes an upgrade that needs support from its failed step, with
// a fresh budget of attempts.
func (u *Upgrade) Retry() error {
	if err := u.check(TransitionRetry, ""); err != nil {
		return err
	}
	st := u.Step(u.CurrentStep)
	st.Status, st.Attempts, st.NextRetryAt, st.FinishedAt = StepRetrying, 0, nil, nil
	u.Status = UpgradeProcessing
	return nil
}

// RetryPayment starts a new payment attempt with pm after a decline; the
// attempt number is part of the charge's idempotency key.
func (u *Upgrade) RetryPayment(pm *PaymentMethod) error {
	if err := u.check(TransitionRetryPayment, ""); err != nil {
		return err
	}
	u.Payment = Payment{Status: PaymentPending, Amount: u.Payment.Amount, PaymentMethodID: pm.ID, Brand: pm.Brand,
		Last4: pm.Last4, Attempt: u.Payment.Attempt + 1}
	st := u.Step(StepPayment)
	st.Status, st.Attempts, st.Error, st.FinishedAt = StepPending, 0, nil, nil
	u.Status = UpgradeProcessing
	return nil
}

// RequestCancel marks the upgrade for compensation.
func (u *Upgrade) RequestCancel(now time.Time) error {
	if err := u.check(TransitionRequestCancel, ""); err != nil {
		return err
	}
	u.CancelRequestedAt = &now
	return nil
}

// ConcludeForCancel ends the step that was in flight when the cancel came,
// as succeeded (cause nil) or failed, so that what it did is known and
// undone; a paused upgrade resumes for the compensation.
func (u *Upgrade) ConcludeForCancel(step StepName, cause *StepError, now time.Time) error {
	if err := u.check(TransitionConcludeStep, step); err != nil {
		return err
	}
	st := u.Step(step)
	st.Status, st.Error, st.FinishedAt, st.NextRetryAt = StepSucceeded, nil, &now, nil
	if cause != nil {
		st.Status, st.Error = StepFailed, cause
	}
	u.resume()
	return nil
}

// Canceled ends a compensated upgrade.
func (u *Upgrade) Canceled() error {
	if err := u.check(TransitionCanceled, ""); err != nil {
		return err
	}
	u.Status, u.PausedReason = UpgradeCanceled, ""
	return nil
}

// PaymentCharged records the gateway's charge for the running payment
// step.
func (u *Upgrade) PaymentCharged(chargeID string) error {
	if err := u.check(TransitionPaymentCharged, StepPayment); err != nil {
		return err
	}
	u.Payment.Status, u.Payment.ChargeID = PaymentSucceeded, chargeID
	u.Payment.DeclineCode, u.Payment.FailureCode, u.Payment.Message = "", "", ""
	u.Payment.NextAction, u.Payment.ActionExpiresAt = nil, nil
	return nil
}

// PaymentNotDue records that nothing was due, so nothing was charged.
func (u *Upgrade) PaymentNotDue() error {
	if err := u.check(TransitionPaymentNotDue, StepPayment); err != nil {
		return err
	}
	u.Payment.Status = PaymentSkipped
	return nil
}

// Refunded records a cancel's refund of the charge.
func (u *Upgrade) Refunded(refundID string) error {
	if err := u.check(TransitionRefunded, ""); err != nil {
		return err
	}
	u.Payment.Status, u.Payment.RefundID = PaymentRefunded, refundID
	return nil
}
