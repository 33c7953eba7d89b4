package workflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tierup/tierup"
)

func usd(n int64) tierup.Money   { return tierup.Money{Amount: n, Currency: "USD"} }
func usdp(n int64) *tierup.Money { m := usd(n); return &m }

// earlier is the credit an earlier upgrade of the rig's account kept.
var earlier = tierup.CreditEntry{ID: "cred_0", AccountID: "acct_1", Kind: tierup.CreditGranted, Amount: usd(1441), UpgradeID: "upg_0", QuoteID: "quo_0"}

// ledger lists the rig's upgrade's entries as "kind amount", oldest first.
func (r *rig) ledger() string {
	var out []string
	for _, e := range r.store.st.credit {
		if e.UpgradeID == "upg_1" {
			out = append(out, string(e.Kind)+" "+e.Amount.String())
		}
	}
	return strings.Join(out, ", ")
}

func (r *rig) balance() int64 { return tierup.CreditBalance(r.store.st.credit, "USD").Amount }

// TestCredit runs upgrades whose quotes apply or keep account credit: the
// ledger moves when the plan is activated, once, and a cancel undoes it.
func TestCredit(t *testing.T) {
	applies := func(q *tierup.Quote) { q.CreditApplied, q.AmountDue, q.PeriodValue = usdp(1000), usd(1900), usdp(2900) }
	keeps := func(q *tierup.Quote) { q.AccountCredit, q.AmountDue, q.PeriodValue = usdp(500), usd(0), usdp(2900) }
	covers := func(q *tierup.Quote) { q.CreditApplied, q.AmountDue = usdp(1441), usd(1459) } // 1441 of 2900, no period_value: the plan's price
	declined := &tierup.PaymentError{Code: "card_declined", DeclineCode: "generic_decline", Message: "declined"}
	tests := []struct {
		name       string
		ledger     []tierup.CreditEntry // before, beside earlier
		quote      func(q *tierup.Quote)
		chargeErrs []error
		cancelAt   tierup.StepName // cancel once this step is current; "" never
		status     tierup.UpgradeStatus
		entries    string // the upgrade's entries at the end
		balance    int64
		charges    int
		value      int64 // the subscription's value at the end, 0 when none
	}{
		{name: "credit applied on activation", quote: applies, status: tierup.UpgradeCompleted,
			entries: "applied -$10.00", balance: 441, charges: 1, value: 2900},
		{name: "a quote made before period_value is worth the plan's price", quote: covers, status: tierup.UpgradeCompleted,
			entries: "applied -$14.41", balance: 0, charges: 1, value: 2900},
		{name: "credit kept on activation", quote: keeps, status: tierup.UpgradeCompleted,
			entries: "granted $5.00", balance: 1941, charges: 0, value: 2900},
		{name: "a declined card and a cancel take nothing", quote: applies, chargeErrs: []error{declined}, cancelAt: tierup.StepPayment,
			status: tierup.UpgradeCanceled, balance: 1441, charges: 1},
		{name: "canceled after the charge, before activation: refund only", quote: applies, cancelAt: tierup.StepActivatePlan,
			status: tierup.UpgradeCanceled, balance: 1441, charges: 1},
		{name: "canceled after activation: the credit comes back with the refund", quote: applies, cancelAt: tierup.StepEnableFeatures,
			status: tierup.UpgradeCanceled, entries: "applied -$10.00, returned $10.00", balance: 1441, charges: 1},
		{name: "canceled after activation: the credit kept is taken back", quote: keeps, cancelAt: tierup.StepEnableFeatures,
			status: tierup.UpgradeCanceled, entries: "granted $5.00, revoked -$5.00", balance: 1441},
		{name: "credit another upgrade spent: nothing charged, support decides", quote: applies,
			ledger: []tierup.CreditEntry{{ID: "cred_9", AccountID: "acct_1", Kind: tierup.CreditApplied, Amount: usd(-1000), UpgradeID: "upg_9", QuoteID: "quo_9"}},
			status: tierup.UpgradeNeedsSupport, balance: 441, charges: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.store.st.credit = append([]tierup.CreditEntry{earlier}, tt.ledger...)
			r.gateway.chargeErrs = tt.chargeErrs
			r.createFrom(t, tt.quote)
			if tt.cancelAt != "" {
				for r.upgrade(t).CurrentStep != tt.cancelAt || (tt.cancelAt == tierup.StepPayment && r.upgrade(t).Status != tierup.UpgradePaymentFailed) {
					if !r.runOne(t) {
						t.Fatalf("never reached %s", tt.cancelAt)
					}
				}
				if got := r.ledger(); tt.cancelAt != tierup.StepEnableFeatures && got != "" {
					t.Errorf("the ledger moved before activation: %s", got)
				}
				if _, err := r.e.Cancel(context.Background(), "upg_1", "acct_1"); err != nil {
					t.Fatal(err)
				}
			}
			r.drain(t, 50)
			u := r.upgrade(t)
			if u.Status != tt.status || r.ledger() != tt.entries || r.balance() != tt.balance || len(r.gateway.charges) != tt.charges {
				t.Errorf("status %s, entries %q, balance %d, %d charges; want %s, %q, %d, %d",
					u.Status, r.ledger(), r.balance(), len(r.gateway.charges), tt.status, tt.entries, tt.balance, tt.charges)
			}
			if v := r.store.st.accounts["acct_1"].Subscription.Value; v.Amount != tt.value {
				t.Errorf("subscription value %v, want %d", v, tt.value)
			}
			if tt.status == tierup.UpgradeNeedsSupport {
				if st := u.Step(tierup.StepPayment); st.Error == nil || st.Error.Code != string(tierup.CodeQuoteInvalid) || !strings.Contains(st.Error.Message, "only $4.41 is left") {
					t.Errorf("payment step error %+v", st.Error)
				}
			}
		})
	}
}

// TestCreditSurvivesAFailedCommit: activation's commit fails after the
// ledger was written; it rolls back with it, and the repeated job takes
// the credit once.
func TestCreditSurvivesAFailedCommit(t *testing.T) {
	r := newRig(t)
	r.store.st.credit = []tierup.CreditEntry{earlier}
	r.createFrom(t, func(q *tierup.Quote) { q.CreditApplied, q.AmountDue = usdp(1000), usd(1900) })
	for r.upgrade(t).CurrentStep != tierup.StepActivatePlan {
		r.runOne(t)
	}
	job := r.store.st.jobs[0]
	r.store.st.jobs = nil
	boom := errors.New("connection lost")
	r.store.setSubErr = boom
	if err := r.e.work(context.Background(), fakeDelivery{job.job}); !errors.Is(err, boom) {
		t.Fatalf("work = %v, want the failed commit", err)
	}
	if got := r.ledger(); got != "" {
		t.Fatalf("a failed commit left %s", got)
	}
	// The queue delivers the job again, twice even.
	for range 2 {
		if err := r.e.work(context.Background(), fakeDelivery{job.job}); err != nil {
			t.Fatal(err)
		}
	}
	r.drain(t, 50)
	if got := r.ledger(); got != "applied -$10.00" || r.upgrade(t).Status != tierup.UpgradeCompleted {
		t.Errorf("entries %q, status %s", got, r.upgrade(t).Status)
	}
	if !slices.ContainsFunc(r.store.st.events, func(e *tierup.UpgradeEvent) bool {
		return strings.Contains(e.Message, "$10.00 of account credit applied")
	}) {
		t.Error("no event says the credit was applied")
	}
}
