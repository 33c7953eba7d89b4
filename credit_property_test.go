package tierup_test

import (
	"testing"
	"time"

	"github.com/tierup/tierup"
	"pgregory.net/rapid"
)

// drawSubscription is a subscription to a random plan that started up to
// two periods before now (active or ended), worth its price.
func drawSubscription(t *rapid.T, plans []tierup.Plan, now time.Time, loc *time.Location) (tierup.Plan, tierup.Subscription) {
	from := rapid.SampledFrom(plans).Draw(t, "from")
	var back int64
	if !from.Free() {
		back = rapid.Int64Range(0, maxBack(from)).Draw(t, "back")
	}
	return from, subscriptionOn(from, now, back, from.Price, loc)
}

// maxBack is how long ago, in seconds, a subscription to p may have started
// in the quote engine's tests: two periods, so that it is active or ended.
func maxBack(p tierup.Plan) int64 { return int64(p.IntervalMonths) * 62 * 86400 }

// subscriptionOn is a subscription to p that started back seconds before
// now and is worth value, its end computed the way the store does it.
func subscriptionOn(p tierup.Plan, now time.Time, back int64, value tierup.Money, loc *time.Location) tierup.Subscription {
	s := tierup.Subscription{PlanID: p.ID}
	if !p.Free() {
		start := now.Add(-time.Duration(back) * time.Second)
		s.PeriodStart, s.PeriodEnd, s.Value = start, tierup.AddMonths(start, p.IntervalMonths, loc), value
	}
	return s
}

func drawNow(t *rapid.T) (time.Time, *time.Location) {
	loc, _ := time.LoadLocation(rapid.SampledFrom(zones).Draw(t, "zone"))
	now := time.Unix(rapid.Int64Range(ts("2024-01-01T00:00:00Z").Unix(), ts("2032-01-01T00:00:00Z").Unix()).Draw(t, "now"), 0).UTC()
	return now, loc
}

// TestCreditQuoteProperties: applied credit never exceeds the balance or
// the amount due, never leaves the amount due or the balance negative,
// and, under the credit policy, charge + credit used (the unused value and
// the account's credit) − credit kept = the new plan's price, the value of
// the new period.
func TestCreditQuoteProperties(t *testing.T) {
	cat := tierup.DefaultCatalog()
	plans := cat.Plans()
	rapid.Check(t, func(t *rapid.T) {
		now, loc := drawNow(t)
		from, current := drawSubscription(t, plans, now, loc)
		to := rapid.SampledFrom(plans).Draw(t, "to")
		policy := rapid.SampledFrom([]tierup.Policy{tierup.PolicyCarryover, tierup.PolicyValue, tierup.PolicyCredit}).Draw(t, "policy")
		balance := tierup.Money{Amount: rapid.Int64Range(0, 200000).Draw(t, "balance"), Currency: to.Price.Currency}
		in := tierup.QuoteInput{Now: now, Location: loc, Current: current, From: &from, To: &to, Policy: policy}
		bare, err := cat.PriceUpgrade(in)
		if err != nil {
			return
		}
		in.Credit = balance
		q, err := cat.PriceUpgrade(in)
		if err != nil {
			t.Fatalf("refused only with credit: %v", err)
		}
		if err := creditInvariants(in, bare, q); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCreditChainProperties: a chain of upgrades in one go (the same
// instant) never charges more, net of the credit it leaves, than one
// upgrade straight to the last plan under the credit policy; whatever
// happens to each upgrade, the ledger never goes negative.
func TestCreditChainProperties(t *testing.T) {
	cat := tierup.DefaultCatalog()
	plans := cat.Plans()
	rapid.Check(t, func(t *rapid.T) {
		now, loc := drawNow(t)
		from, start := drawSubscription(t, plans, now, loc)
		var ledger []tierup.CreditEntry
		cur, plan, charged, last := start, from, int64(0), tierup.PolicyCredit
		n := rapid.IntRange(1, 4).Draw(t, "upgrades")
		for i := range n {
			var options []tierup.Plan
			for _, p := range plans {
				if cat.CheckUpgrade(&plan, &p) == nil && !p.Free() {
					options = append(options, p)
				}
			}
			if len(options) == 0 {
				break
			}
			to := rapid.SampledFrom(options).Draw(t, "to")
			// The time it carries over (or its value) is taken over; only
			// the last upgrade must credit money. A deduction forfeits the
			// overlap by design, so it is not drawn.
			policy := tierup.PolicyCredit
			if i < n-1 {
				policy = rapid.SampledFrom([]tierup.Policy{tierup.PolicyCarryover, tierup.PolicyValue, tierup.PolicyCredit}).Draw(t, "policy")
				if policy == tierup.PolicyCarryover && to.IntervalMonths <= plan.IntervalMonths && cur.Remaining(now) > 0 {
					policy = tierup.PolicyValue
				}
			}
			q, err := cat.PriceUpgrade(tierup.QuoteInput{Now: now, Location: loc, Current: cur, From: &plan, To: &to, Policy: policy,
				Credit: tierup.CreditBalance(ledger, to.Price.Currency)})
			if err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
			q.ID, q.AccountID = "quo", "acct_1"
			id := string(rune('a' + i))
			add, err := tierup.ActivationCredit(ledger, q, id, now)
			if err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
			ledger = append(ledger, add...)
			// A cancel undoes it all: the ledger is as before and nothing is charged.
			if rapid.Bool().Draw(t, "cancel") {
				before := tierup.CreditBalance(ledger, to.Price.Currency)
				undone := append(tierup.CancelCredit(ledger, id, now), ledger...)
				if b := tierup.CreditBalance(undone, to.Price.Currency); b.Amount < 0 || b.Amount != before.Amount+amount(q.CreditApplied)-amount(q.AccountCredit) {
					t.Fatalf("after a cancel the balance is %v (it was %v)", b, before)
				}
				if again := tierup.CancelCredit(undone, id, now); len(again) > 0 {
					t.Fatalf("a second cancel writes %q", kinds(again))
				}
				ledger = undone
				continue // the next upgrade starts from the same plan: this one never happened
			}
			if again, _ := tierup.ActivationCredit(ledger, q, id, now); len(again) > 0 {
				t.Fatalf("a repeated activation writes %q", kinds(again))
			}
			if b := tierup.CreditBalance(ledger, to.Price.Currency); b.Amount < 0 {
				t.Fatalf("balance %v", b)
			}
			charged += q.AmountDue.Amount
			cur, plan, last = q.Activated(&to), to, policy
		}
		if plan.ID == from.ID || last != tierup.PolicyCredit {
			return // nothing bought, or the last upgrade gave time, not money, for what was left
		}
		straight, err := cat.PriceUpgrade(tierup.QuoteInput{Now: now, Location: loc, Current: start, From: &from, To: &plan, Policy: tierup.PolicyCredit})
		if err != nil {
			t.Fatalf("straight: %v", err)
		}
		left := tierup.CreditBalance(ledger, plan.Price.Currency).Amount
		if chain, one := charged-left, straight.AmountDue.Amount-amount(straight.AccountCredit); chain > one {
			t.Fatalf("the chain charges %d net (%d charged, %d credit left); straight to %s: %d", chain, charged, left, plan.ID, one)
		}
	})
}
