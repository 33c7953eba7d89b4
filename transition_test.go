package tierup_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

var (
	allStatuses = []tierup.UpgradeStatus{tierup.UpgradeProcessing, tierup.UpgradePaymentFailed, tierup.UpgradePaused,
		tierup.UpgradeNeedsSupport, tierup.UpgradeCompleted, tierup.UpgradeCanceled, tierup.UpgradePaymentActionRequired}
	allStepStatuses = []tierup.StepStatus{tierup.StepPending, tierup.StepRunning, tierup.StepRetrying, tierup.StepFailed,
		tierup.StepSucceeded, tierup.StepSkipped}
	allPaymentStatuses = []tierup.PaymentStatus{tierup.PaymentPending, tierup.PaymentSucceeded, tierup.PaymentFailed,
		tierup.PaymentSkipped, tierup.PaymentRefunded, tierup.PaymentRequiresAction}
)

// spec is the test's own statement of what is allowed from where: the
// statuses, whether a cancel must (true) or must not (false) be requested
// (nil: either), the current step's status and the payment's (nil: any).
type spec struct {
	from    []tierup.UpgradeStatus
	cancel  *bool
	step    []tierup.StepStatus
	payment []tierup.PaymentStatus
}

func ptr[T any](v T) *T { return &v }

func specs() map[tierup.Transition]spec {
	moving := []tierup.UpgradeStatus{tierup.UpgradeProcessing, tierup.UpgradePaused, tierup.UpgradePaymentActionRequired}
	active := []tierup.UpgradeStatus{tierup.UpgradeProcessing, tierup.UpgradePaused, tierup.UpgradePaymentActionRequired,
		tierup.UpgradePaymentFailed, tierup.UpgradeNeedsSupport}
	running := []tierup.StepStatus{tierup.StepRunning}
	return map[tierup.Transition]spec{
		tierup.TransitionStartStep:       {from: moving, step: []tierup.StepStatus{tierup.StepPending, tierup.StepRetrying}},
		tierup.TransitionTakeOverStep:    {from: moving, step: running},
		tierup.TransitionHandBackStep:    {from: moving, step: running},
		tierup.TransitionStepProgressed:  {from: moving, step: running},
		tierup.TransitionStepSucceeded:   {from: moving, step: running},
		tierup.TransitionStepFailed:      {from: moving, step: running},
		tierup.TransitionPause:           {from: moving, step: running},
		tierup.TransitionNeedSupport:     {from: moving, step: running},
		tierup.TransitionPaymentDeclined: {from: moving, cancel: ptr(false), step: running},
		tierup.TransitionConcludeStep:    {from: moving, cancel: ptr(true), step: running},
		tierup.TransitionResume:          {from: []tierup.UpgradeStatus{tierup.UpgradePaused}},
		tierup.TransitionRetry:           {from: []tierup.UpgradeStatus{tierup.UpgradeNeedsSupport}, cancel: ptr(false)},
		tierup.TransitionRetryPayment:    {from: []tierup.UpgradeStatus{tierup.UpgradePaymentFailed}, cancel: ptr(false)},
		tierup.TransitionRequestCancel:   {from: active, cancel: ptr(false)},
		tierup.TransitionCanceled:        {from: active, cancel: ptr(true)},
		tierup.TransitionPaymentCharged:  {from: moving, step: running, payment: []tierup.PaymentStatus{tierup.PaymentPending, tierup.PaymentRequiresAction}},
		tierup.TransitionPaymentNotDue:   {from: moving, step: running, payment: []tierup.PaymentStatus{tierup.PaymentPending}},
		tierup.TransitionRefunded:        {from: active, cancel: ptr(true), payment: []tierup.PaymentStatus{tierup.PaymentSucceeded}},
		tierup.TransitionPaymentActionRequired: {from: moving, cancel: ptr(false), step: running,
			payment: []tierup.PaymentStatus{tierup.PaymentPending, tierup.PaymentRequiresAction}},
		tierup.TransitionPaymentAbandoned: {from: moving, cancel: ptr(true), step: running, payment: []tierup.PaymentStatus{tierup.PaymentRequiresAction}},
	}
}

func (s spec) allows(st tierup.UpgradeStatus, canceling bool, step tierup.StepStatus, pay tierup.PaymentStatus) bool {
	return slices.Contains(s.from, st) && (s.cancel == nil || *s.cancel == canceling) &&
		(s.step == nil || slices.Contains(s.step, step)) && (s.payment == nil || slices.Contains(s.payment, pay))
}

var t0 = time.Date(2026, 3, 22, 10, 0, 0, 0, time.UTC)

// fire runs transition t on u on its current step with fixed arguments.
func fire(u *tierup.Upgrade, t tierup.Transition) error {
	step, later := u.CurrentStep, t0.Add(time.Minute)
	cause := tierup.StepError{Code: "boom", Message: "it broke"}
	switch t {
	case tierup.TransitionStartStep:
		return u.StartStep(step, "proc_b", t0)
	case tierup.TransitionTakeOverStep:
		return u.TakeOverStep(step, "proc_b")
	case tierup.TransitionHandBackStep:
		return u.HandBackStep(step, tierup.Step{Name: step, Status: tierup.StepPending})
	case tierup.TransitionStepProgressed:
		return u.StepProgressed(step)
	case tierup.TransitionStepSucceeded:
		_, err := u.StepSucceeded(step, false, t0)
		return err
	case tierup.TransitionStepFailed:
		return u.StepFailed(step, cause, later)
	case tierup.TransitionPause:
		_, err := u.Pause(step, cause, later)
		return err
	case tierup.TransitionResume:
		return u.Resume()
	case tierup.TransitionPaymentDeclined:
		return u.PaymentDeclined(cause, "insufficient_funds", t0)
	case tierup.TransitionNeedSupport:
		return u.NeedSupport(step, cause, "tkt_1", t0)
	case tierup.TransitionRetry:
		return u.Retry()
	case tierup.TransitionRetryPayment:
		return u.RetryPayment(&tierup.PaymentMethod{ID: "pm_2", Brand: "visa", Last4: "4242"})
	case tierup.TransitionRequestCancel:
		return u.RequestCancel(t0)
	case tierup.TransitionConcludeStep:
		return u.ConcludeForCancel(step, nil, t0)
	case tierup.TransitionCanceled:
		return u.Canceled()
	case tierup.TransitionPaymentCharged:
		return u.PaymentCharged("ch_1")
	case tierup.TransitionPaymentNotDue:
		return u.PaymentNotDue()
	case tierup.TransitionRefunded:
		return u.Refunded("re_1")
	case tierup.TransitionPaymentActionRequired:
		_, err := u.PaymentActionRequired("pi_1", &tierup.NextAction{Type: tierup.NextActionRedirect, URL: "http://127.0.0.1/3ds"}, later, later)
		return err
	case tierup.TransitionPaymentAbandoned:
		return u.PaymentAbandoned(tierup.PayCodeAuthenticationExpired, "abandoned")
	}
	panic("no call for " + string(t))
}

// upgradeAt builds an upgrade on its payment step in the given state.
func upgradeAt(st tierup.UpgradeStatus, canceling bool, step tierup.StepStatus, pay tierup.PaymentStatus) *tierup.Upgrade {
	q := &tierup.Quote{ID: "quo_1", AccountID: "acct_1", FromPlan: "hobby", ToPlan: "pro-1m", AmountDue: tierup.Money{Amount: 2900, Currency: "USD"}}
	u := tierup.NewUpgrade("upg_1", q, &tierup.PaymentMethod{ID: "pm_1", Brand: "visa", Last4: "0002"}, tierup.TermsAcceptance{}, t0)
	u.Status, u.Payment.Status = st, pay
	u.Step(u.CurrentStep).Status = step
	u.Step(u.CurrentStep).Worker = "proc_a"
	if canceling {
		u.CancelRequestedAt = ptr(t0)
	}
	return u
}

// TestTransitionTable tries every transition from every combination of
// upgrade status, cancel, current step status and payment status: the
// allowed ones succeed and the others are refused with a TransitionError
// that leaves the upgrade exactly as it was.
func TestTransitionTable(t *testing.T) {
	all := specs()
	if len(all) != len(tierup.Transitions()) {
		t.Fatalf("the test's spec covers %d transitions, the state machine has %d", len(all), len(tierup.Transitions()))
	}
	for _, tr := range tierup.Transitions() {
		sp, ok := all[tr]
		if !ok {
			t.Fatalf("no spec for transition %s", tr)
		}
		allowedSomewhere := false
		for _, st := range allStatuses {
			for _, canceling := range []bool{false, true} {
				for _, step := range allStepStatuses {
					for _, pay := range allPaymentStatuses {
						u := upgradeAt(st, canceling, step, pay)
						before := upgradeAt(st, canceling, step, pay)
						name := fmt.Sprintf("%s/from %s cancel=%v step=%s payment=%s", tr, st, canceling, step, pay)
						want := sp.allows(st, canceling, step, pay)
						if got := u.Can(tr, ""); got != want {
							t.Errorf("%s: Can = %v, want %v", name, got, want)
						}
						err := fire(u, tr)
						if want {
							allowedSomewhere = true
							if err != nil {
								t.Errorf("%s: refused: %v", name, err)
							}
							continue
						}
						var te *tierup.TransitionError
						if !errors.As(err, &te) || te.Transition != tr || !errors.Is(err, &tierup.Error{Code: tierup.CodeInvalidState}) {
							t.Errorf("%s: got %v, want a TransitionError matching invalid_state", name, err)
						}
						if !reflect.DeepEqual(u, before) {
							t.Errorf("%s: a refused transition changed the upgrade", name)
						}
					}
				}
			}
		}
		if !allowedSomewhere {
			t.Errorf("%s is allowed from nowhere", tr)
		}
	}
}

// inFlight is an upgrade whose payment step's run 3, its second attempt,
// runs in proc_a.
func inFlight() *tierup.Upgrade {
	u := upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending)
	st := u.Step(tierup.StepPayment)
	st.Attempts, st.Run = 2, 3
	return u
}

// TestTransitionEffects checks what each allowed transition does.
func TestTransitionEffects(t *testing.T) {
	p := tierup.StepPayment
	tests := []struct {
		name  string
		from  *tierup.Upgrade
		fire  func(u *tierup.Upgrade) error
		check func(t *testing.T, u *tierup.Upgrade)
	}{
		{"start a pending step", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepPending, tierup.PaymentPending),
			func(u *tierup.Upgrade) error { return u.StartStep(p, "proc_b", t0) },
			func(t *testing.T, u *tierup.Upgrade) {
				st := u.Step(p)
				if st.Status != tierup.StepRunning || st.Attempts != 1 || st.Worker != "proc_b" || !st.StartedAt.Equal(t0) {
					t.Errorf("step = %+v", st)
				}
			}},
		{"take over", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending),
			func(u *tierup.Upgrade) error { return u.TakeOverStep(p, "proc_b") },
			func(t *testing.T, u *tierup.Upgrade) {
				if st := u.Step(p); st.Worker != "proc_b" || st.Status != tierup.StepRunning {
					t.Errorf("step = %+v", st)
				}
			}},
		{"hand back a started attempt: the step is as before it", inFlight(),
			func(u *tierup.Upgrade) error {
				return u.HandBackStep(p, tierup.Step{Name: p, Status: tierup.StepRetrying, Attempts: 1, Worker: "proc_old",
					Error: &tierup.StepError{Code: "timeout"}, NextRetryAt: ptr(t0), StartedAt: ptr(t0.Add(-time.Hour)), Run: 2})
			},
			func(t *testing.T, u *tierup.Upgrade) {
				st := u.Step(p)
				if st.Status != tierup.StepRetrying || st.Attempts != 1 || st.Worker != "proc_old" || st.Error == nil || st.Error.Code != "timeout" ||
					!st.NextRetryAt.Equal(t0) || !st.StartedAt.Equal(t0.Add(-time.Hour)) || st.Run != 3 {
					t.Errorf("step = %+v", st)
				}
			}},
		{"hand back a continuation: still running, by no process", inFlight(),
			func(u *tierup.Upgrade) error {
				return u.HandBackStep(p, tierup.Step{Name: p, Status: tierup.StepRunning, Attempts: 2, Worker: "proc_a", Run: 2})
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if st := u.Step(p); st.Status != tierup.StepRunning || st.Attempts != 2 || st.Worker != "" || st.Run != 3 || u.RunningWorker() != "" {
					t.Errorf("step = %+v", st)
				}
			}},
		{"success moves to the next step and resumes", upgradeAt(tierup.UpgradePaused, false, tierup.StepRunning, tierup.PaymentSucceeded),
			func(u *tierup.Upgrade) error {
				next, err := u.StepSucceeded(p, false, t0)
				if next != tierup.StepActivatePlan {
					return fmt.Errorf("next %q", next)
				}
				return err
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeProcessing || u.CurrentStep != tierup.StepActivatePlan || u.Step(p).Status != tierup.StepSucceeded || u.PausedReason != "" {
					t.Errorf("upgrade %s at %s, payment step %s", u.Status, u.CurrentStep, u.Step(p).Status)
				}
			}},
		{"the last step completes", lastStepRunning(),
			func(u *tierup.Upgrade) error { _, err := u.StepSucceeded(tierup.StepNotify, false, t0); return err },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeCompleted || u.CurrentStep != "" || u.CompletedAt == nil {
					t.Errorf("upgrade %s at %q", u.Status, u.CurrentStep)
				}
			}},
		{"a skipped step", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentSkipped),
			func(u *tierup.Upgrade) error { _, err := u.StepSucceeded(p, true, t0); return err },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Step(p).Status != tierup.StepSkipped {
					t.Errorf("step %s", u.Step(p).Status)
				}
			}},
		{"a transient failure retries", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending),
			func(u *tierup.Upgrade) error {
				return u.StepFailed(p, tierup.StepError{Code: "x"}, t0.Add(time.Minute))
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if st := u.Step(p); st.Status != tierup.StepRetrying || !st.NextRetryAt.Equal(t0.Add(time.Minute)) || st.Error.Code != "x" {
					t.Errorf("step %+v", st)
				}
			}},
		{"a pause does not count the attempt", startedOnce(),
			func(u *tierup.Upgrade) error {
				_, err := u.Pause(p, tierup.StepError{Code: "gateway_unavailable", Message: "down"}, t0)
				return err
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradePaused || u.PausedReason != "down" || u.Step(p).Attempts != 0 {
					t.Errorf("upgrade %s (%q), attempts %d", u.Status, u.PausedReason, u.Step(p).Attempts)
				}
			}},
		{"a decline waits for a card", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending),
			func(u *tierup.Upgrade) error {
				return u.PaymentDeclined(tierup.StepError{Code: "card_declined", Message: "no"}, "insufficient_funds", t0)
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradePaymentFailed || u.Payment.Status != tierup.PaymentFailed || u.Payment.DeclineCode != "insufficient_funds" || u.Step(p).Status != tierup.StepFailed {
					t.Errorf("upgrade %s, payment %+v", u.Status, u.Payment)
				}
			}},
		{"support", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending),
			func(u *tierup.Upgrade) error { return u.NeedSupport(p, tierup.StepError{Code: "x"}, "tkt_9", t0) },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeNeedsSupport || u.SupportTicket != "tkt_9" || u.Step(p).Status != tierup.StepFailed {
					t.Errorf("upgrade %s %q", u.Status, u.SupportTicket)
				}
			}},
		{"retry gives a fresh budget", upgradeAt(tierup.UpgradeNeedsSupport, false, tierup.StepFailed, tierup.PaymentPending),
			func(u *tierup.Upgrade) error { u.Step(p).Attempts = 5; return u.Retry() },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeProcessing || u.Step(p).Attempts != 0 || u.Step(p).Status != tierup.StepRetrying {
					t.Errorf("upgrade %s, step %+v", u.Status, u.Step(p))
				}
			}},
		{"a new card is a new attempt", upgradeAt(tierup.UpgradePaymentFailed, false, tierup.StepFailed, tierup.PaymentFailed),
			func(u *tierup.Upgrade) error {
				return u.RetryPayment(&tierup.PaymentMethod{ID: "pm_2", Brand: "visa", Last4: "4242"})
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeProcessing || u.Payment.Attempt != 2 || u.Payment.PaymentMethodID != "pm_2" ||
					u.Payment.Status != tierup.PaymentPending || u.Payment.Amount.Amount != 2900 || u.Step(p).Status != tierup.StepPending {
					t.Errorf("upgrade %s, payment %+v", u.Status, u.Payment)
				}
			}},
		{"a cancel concludes the step in flight", upgradeAt(tierup.UpgradePaused, true, tierup.StepRunning, tierup.PaymentPending),
			func(u *tierup.Upgrade) error {
				return u.ConcludeForCancel(p, &tierup.StepError{Code: "canceled"}, t0)
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeProcessing || u.Step(p).Status != tierup.StepFailed {
					t.Errorf("upgrade %s, step %s", u.Status, u.Step(p).Status)
				}
			}},
		{"canceled", upgradeAt(tierup.UpgradeNeedsSupport, true, tierup.StepFailed, tierup.PaymentRefunded),
			func(u *tierup.Upgrade) error { return u.Canceled() },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeCanceled || u.Active() {
					t.Errorf("upgrade %s", u.Status)
				}
			}},
		{"charged", upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending),
			func(u *tierup.Upgrade) error { return u.PaymentCharged("ch_1") },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Payment.Status != tierup.PaymentSucceeded || u.Payment.ChargeID != "ch_1" {
					t.Errorf("payment %+v", u.Payment)
				}
			}},
		{"authentication is waited for, not counted as an attempt", startedOnce(),
			func(u *tierup.Upgrade) error {
				already, err := u.PaymentActionRequired("pi_1", &tierup.NextAction{Type: tierup.NextActionRedirect, URL: "u"}, t0.Add(30*time.Minute), t0.Add(time.Minute))
				if already {
					return errors.New("already waiting the first time")
				}
				return err
			},
			func(t *testing.T, u *tierup.Upgrade) {
				st := u.Step(p)
				if u.Status != tierup.UpgradePaymentActionRequired || u.Payment.Status != tierup.PaymentRequiresAction || u.Payment.Intent != "pi_1" ||
					u.Payment.NextAction == nil || !u.Payment.ActionExpiresAt.Equal(t0.Add(30*time.Minute)) ||
					st.Status != tierup.StepRetrying || st.Attempts != 0 || !st.NextRetryAt.Equal(t0.Add(time.Minute)) || !u.Moving() || !u.Active() {
					t.Errorf("upgrade %s, payment %+v, step %+v", u.Status, u.Payment, st)
				}
			}},
		{"checking again keeps the first expiry", waitingForAuthentication(),
			func(u *tierup.Upgrade) error {
				already, err := u.PaymentActionRequired("pi_1", &tierup.NextAction{Type: tierup.NextActionRedirect, URL: "u"}, t0.Add(time.Hour), t0.Add(2*time.Minute))
				if !already {
					return errors.New("not already waiting")
				}
				return err
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if !u.Payment.ActionExpiresAt.Equal(t0.Add(30 * time.Minute)) {
					t.Errorf("expiry moved to %v", u.Payment.ActionExpiresAt)
				}
			}},
		{"authenticated: charged, processing again", waitingForAuthentication(),
			func(u *tierup.Upgrade) error {
				if err := u.PaymentCharged("pi_1"); err != nil {
					return err
				}
				_, err := u.StepSucceeded(p, false, t0)
				return err
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradeProcessing || u.Payment.Status != tierup.PaymentSucceeded || u.Payment.NextAction != nil || u.Payment.ActionExpiresAt != nil {
					t.Errorf("upgrade %s, payment %+v", u.Status, u.Payment)
				}
			}},
		{"failed authentication waits for another card", waitingForAuthentication(),
			func(u *tierup.Upgrade) error {
				return u.PaymentDeclined(tierup.StepError{Code: string(tierup.PayCodeAuthenticationFailed), Message: "no"}, "", t0)
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Status != tierup.UpgradePaymentFailed || u.Payment.Status != tierup.PaymentFailed || u.Payment.NextAction != nil {
					t.Errorf("upgrade %s, payment %+v", u.Status, u.Payment)
				}
			}},
		{"a cancel abandons the authentication", func() *tierup.Upgrade { u := waitingForAuthentication(); u.CancelRequestedAt = ptr(t0); return u }(),
			func(u *tierup.Upgrade) error {
				return u.PaymentAbandoned(tierup.PayCodeAuthenticationExpired, "canceled before you authenticated")
			},
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Payment.Status != tierup.PaymentFailed || u.Payment.NextAction != nil {
					t.Errorf("payment %+v", u.Payment)
				}
			}},
		{"refunded", upgradeAt(tierup.UpgradeProcessing, true, tierup.StepSucceeded, tierup.PaymentSucceeded),
			func(u *tierup.Upgrade) error { return u.Refunded("re_1") },
			func(t *testing.T, u *tierup.Upgrade) {
				if u.Payment.Status != tierup.PaymentRefunded || u.Payment.RefundID != "re_1" {
					t.Errorf("payment %+v", u.Payment)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.fire(tt.from); err != nil {
				t.Fatal(err)
			}
			tt.check(t, tt.from)
		})
	}
	// Handing a step back with another step's record is refused.
	u := inFlight()
	if err := u.HandBackStep(p, tierup.Step{Name: tierup.StepActivatePlan, Status: tierup.StepPending}); err == nil || u.Step(p).Status != tierup.StepRunning {
		t.Errorf("handed back with another step's record: %v, step %+v", err, u.Step(p))
	}
}

func startedOnce() *tierup.Upgrade {
	u := upgradeAt(tierup.UpgradeProcessing, false, tierup.StepRunning, tierup.PaymentPending)
	u.Step(tierup.StepPayment).Attempts = 1
	return u
}

func lastStepRunning() *tierup.Upgrade {
	u := upgradeAt(tierup.UpgradeProcessing, false, tierup.StepSucceeded, tierup.PaymentSucceeded)
	for i := range u.Steps {
		u.Steps[i].Status = tierup.StepSucceeded
	}
	u.CurrentStep = tierup.StepNotify
	u.Step(tierup.StepNotify).Status = tierup.StepRunning
	return u
}

// waitingForAuthentication is an upgrade whose payment waits for 3-D
// Secure, with its check running again.
func waitingForAuthentication() *tierup.Upgrade {
	u := startedOnce()
	if _, err := u.PaymentActionRequired("pi_1", &tierup.NextAction{Type: tierup.NextActionRedirect, URL: "u"}, t0.Add(30*time.Minute), t0.Add(time.Minute)); err != nil {
		panic(err)
	}
	if err := u.StartStep(tierup.StepPayment, "proc_a", t0); err != nil {
		panic(err)
	}
	return u
}
