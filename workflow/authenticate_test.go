package workflow

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestAuthentication walks a payment that needs 3-D Secure through what
// the customer may do: authenticate after a while (more checks than the
// step's attempt budget), fail, be declined after authenticating, never
// answer, or see the upgrade canceled meanwhile.
func TestAuthentication(t *testing.T) {
	authFailed := &tierup.PaymentError{Code: tierup.PayCodeAuthenticationFailed, Message: "Your bank could not confirm it was you."}
	declined := &tierup.PaymentError{Code: tierup.PayCodeCardDeclined, DeclineCode: "insufficient_funds", Message: "Insufficient funds."}
	tests := []struct {
		name      string
		checks    int // checks that find the charge still waiting
		customer  func(r *rig)
		cancel    bool
		status    tierup.UpgradeStatus
		payment   tierup.PaymentStatus
		failure   tierup.PaymentCode
		cancels   int
		refunds   int
		sinceWait time.Duration // at most this long between the wait and the outcome
	}{
		{"authenticated", 5, func(r *rig) { r.gateway.authenticate(nil) }, false,
			tierup.UpgradeCompleted, tierup.PaymentSucceeded, "", 0, 0, 6 * 15 * time.Second},
		{"authentication failed", 1, func(r *rig) { r.gateway.authenticate(authFailed) }, false,
			tierup.UpgradePaymentFailed, tierup.PaymentFailed, tierup.PayCodeAuthenticationFailed, 0, 0, time.Minute},
		{"declined after authenticating", 0, func(r *rig) { r.gateway.authenticate(declined) }, false,
			tierup.UpgradePaymentFailed, tierup.PaymentFailed, tierup.PayCodeCardDeclined, 0, 0, time.Minute},
		{"never answered", 0, nil, false,
			tierup.UpgradePaymentFailed, tierup.PaymentFailed, tierup.PayCodeAuthenticationExpired, 1, 0, 30 * time.Minute},
		{"canceled while waiting", 2, nil, true,
			tierup.UpgradeCanceled, tierup.PaymentFailed, tierup.PayCodeAuthenticationExpired, 1, 0, time.Minute},
		{"authenticated just before the cancel", 2, func(r *rig) { r.gateway.authenticate(nil) }, true,
			tierup.UpgradeCanceled, tierup.PaymentRefunded, "", 0, 1, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.e.cfg.Receipts.BaseURL = "https://tierup.example.com"
			r.gateway.needsAuth = true
			r.create(t)
			r.runOne(t) // the charge: it waits for the customer
			u := r.upgrade(t)
			if u.Status != tierup.UpgradePaymentActionRequired || u.Payment.Status != tierup.PaymentRequiresAction ||
				u.Payment.NextAction == nil || u.Payment.NextAction.URL != "/challenge" || u.Payment.Intent != "pi_upg_1:payment:1" {
				t.Fatalf("after the charge: upgrade %s, payment %+v", u.Status, u.Payment)
			}
			if want := start.Add(r.e.cfg.AuthenticationTimeout); !u.Payment.ActionExpiresAt.Equal(want) {
				t.Errorf("expires at %v, want %v", u.Payment.ActionExpiresAt, want)
			}
			if r.gateway.returnURL != "https://tierup.example.com/upgrades/upg_1" {
				t.Errorf("return URL %q", r.gateway.returnURL)
			}
			waitedAt := r.clock.now
			for range tt.checks {
				r.runOne(t)
				if s := r.upgrade(t).Status; s != tierup.UpgradePaymentActionRequired {
					t.Fatalf("a check that found the charge waiting left the upgrade %s", s)
				}
			}
			if tt.customer != nil {
				tt.customer(r)
			}
			if tt.cancel {
				if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
					t.Fatal(err)
				}
			}
			r.drain(t, 200)
			u = r.upgrade(t)
			if u.Status != tt.status || u.Payment.Status != tt.payment || u.Payment.FailureCode != tt.failure || u.Payment.NextAction != nil {
				t.Errorf("upgrade %s, payment %s (%s) %+v; want %s, %s (%s)", u.Status, u.Payment.Status, u.Payment.FailureCode, u.Payment.NextAction,
					tt.status, tt.payment, tt.failure)
			}
			if !slices.Equal(r.gateway.charges, []string{"upg_1:payment:1"}) {
				t.Errorf("charges %v: the payment must be charged once and then read again", r.gateway.charges)
			}
			if len(r.gateway.cancels) != tt.cancels || len(r.gateway.refunds) != tt.refunds {
				t.Errorf("cancels %v, refunds %v; want %d and %d", r.gateway.cancels, r.gateway.refunds, tt.cancels, tt.refunds)
			}
			if n := countActions(r, tierup.ActionPaymentActionRequired); n != 1 {
				t.Errorf("%d payment_action_required events, want 1: the checks are quiet", n)
			}
			if tt.status == tierup.UpgradePaymentFailed {
				if took := u.Step(tierup.StepPayment).FinishedAt.Sub(waitedAt); took > tt.sinceWait {
					t.Errorf("the outcome came %v after the wait began, want at most %v", took, tt.sinceWait)
				}
			}
		})
	}
}

// TestCheckPayment: the challenge page's answer or a webhook makes the
// waiting step check at once; for an upgrade not waiting it does nothing.
func TestCheckPayment(t *testing.T) {
	r := newRig(t)
	r.gateway.needsAuth = true
	r.create(t)
	r.runOne(t)
	if err := r.e.CheckPayment(context.Background(), "upg_1"); err != nil {
		t.Fatal(err)
	}
	due := 0
	for _, q := range r.store.st.jobs {
		if !q.at.After(r.clock.now) {
			due++
		}
	}
	if due != 1 {
		t.Fatalf("%d jobs due now, want the payment's check: %+v", due, r.store.st.jobs)
	}
	r.gateway.authenticate(nil)
	r.drain(t, 50)
	before := r.upgrade(t)
	if before.Status != tierup.UpgradeCompleted {
		t.Fatalf("upgrade %s", before.Status)
	}
	// A late or repeated event about the same payment changes nothing.
	if err := r.e.CheckPayment(context.Background(), "upg_1"); err != nil {
		t.Fatal(err)
	}
	if after := r.upgrade(t); after.Version != before.Version || len(r.store.st.jobs) != 0 {
		t.Errorf("a check of a completed upgrade changed it (version %d → %d, %d jobs)", before.Version, after.Version, len(r.store.st.jobs))
	}
}

func countActions(r *rig, a tierup.Action) int {
	n := 0
	for _, x := range r.actions() {
		if x == a {
			n++
		}
	}
	return n
}
