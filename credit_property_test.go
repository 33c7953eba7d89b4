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
	s := tierup.Subscription{PlanID: from.ID}
	if !from.Free() {
		back := rapid.Int64Range(0, int64(from.IntervalMonths)*62*86400).Draw(t, "back")
		start := now.Add(-time.Duration(back) * time.Second)
		s.PeriodStart, s.PeriodEnd, s.Value = start, tierup.AddMonths(start, from.IntervalMonths, loc), from.Price
	}
	return from, s
}

func drawNow(t *rapid.T) (time.Time, *time.Location) {
	loc, _ := time.LoadLocation(rapid.SampledFrom(zones).Draw(t, "zone"))
	now := time.Unix(rapid.Int64Range(ts("2024-01-01T00:00:00Z").Unix(), ts("2032-01-01T00:00:00Z").Unix()).Draw(t, "now"), 0).UTC()
	return now, loc
}

func amount(m *tierup.Money) int64 {
	if m == nil {
		return 0
	}
	return m.Amount
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
		applied := amount(q.CreditApplied)
		switch {
		case q.CreditApplied != nil && applied <= 0:
			t.Fatalf("a non-positive credit applied: %v", q.CreditApplied)
		case applied > balance.Amount || applied > bare.AmountDue.Amount:
			t.Fatalf("applied %d of a balance of %d to %d due", applied, balance.Amount, bare.AmountDue.Amount)
		case q.AmountDue.Amount < 0 || q.AmountDue.Amount+applied != bare.AmountDue.Amount:
			t.Fatalf("due %d with %d applied, %d without", q.AmountDue.Amount, applied, bare.AmountDue.Amount)
		case applied < balance.Amount && q.AmountDue.Amount != 0:
			t.Fatalf("credit left (%d of %d) while %d is still due", balance.Amount-applied, balance.Amount, q.AmountDue.Amount)
		case balance.Amount-applied+amount(q.AccountCredit) < 0:
			t.Fatal("the balance would go negative")
		}
		var sum int64
		for _, l := range q.Lines {
			sum += l.Amount.Amount
		}
		if sum != q.AmountDue.Amount {
			t.Fatalf("lines sum to %d, %d is due", sum, q.AmountDue.Amount)
		}
		if q.Policy == tierup.PolicyCredit {
			unused := amount(q.Adjustment.Amount)
			if got := q.AmountDue.Amount + applied + unused - amount(q.AccountCredit); got != to.Price.Amount {
				t.Fatalf("charge %d + credit applied %d + unused %d − kept %d = %d, want the price %d",
					q.AmountDue.Amount, applied, unused, amount(q.AccountCredit), got, to.Price.Amount)
			}
			if q.ValueOfNewPeriod(&to) != to.Price {
				t.Fatalf("value of the new period %v, want the price %v", q.PeriodValue, to.Price)
			}
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
