package tierup_test

import (
	"fmt"
	"math/big"
	"reflect"
	"time"

	"github.com/tierup/tierup"
)

// The invariants of the quote engine, shared by the property tests (rapid
// draws the inputs) and FuzzQuote (the fuzzer does): each returns nil or
// the first invariant the quote breaks.

// quoteInvariants holds for every quote PriceUpgrade gives for in: the same
// input gives the same quote; the new period starts now and ends later, at
// the new plan's length plus the adjustment; the amount due is within
// [0, price] and the new period is worth at least its price; the adjustment has its kind's sign, and the value policy never
// gives more time than the unused value buys, nor a whole second less.
func quoteInvariants(cat *tierup.Catalog, in tierup.QuoteInput, q *tierup.Quote) error {
	if again, _ := cat.PriceUpgrade(in); !reflect.DeepEqual(q, again) {
		return fmt.Errorf("the same inputs gave different quotes")
	}
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	now := in.Now.Truncate(time.Second)
	from, to := in.From, in.To
	if !q.NewPeriod.End.After(now) || !q.NewPeriod.Start.Equal(now) {
		return fmt.Errorf("new period %v does not start now (%s) and end later", q.NewPeriod, now)
	}
	if q.AmountDue.Amount < 0 || q.AmountDue.Amount > to.Price.Amount {
		return fmt.Errorf("amount due %d outside [0, %d]", q.AmountDue.Amount, to.Price.Amount)
	}
	if v := q.ValueOfNewPeriod(to); v.Amount < to.Price.Amount || v.Currency != to.Price.Currency {
		return fmt.Errorf("the new period is worth %v, less than its price %v", v, to.Price)
	}
	if q.RemainingSeconds < 0 || q.RemainingSeconds != int64(in.Current.Remaining(now)/time.Second) {
		return fmt.Errorf("remaining %d s, the subscription has %s", q.RemainingSeconds, in.Current.Remaining(now))
	}
	base := tierup.AddMonths(now, to.IntervalMonths, loc)
	switch q.Adjustment.Kind {
	case tierup.AdjustExtension:
		if q.Adjustment.Seconds < 0 {
			return fmt.Errorf("negative extension %d", q.Adjustment.Seconds)
		}
	case tierup.AdjustDeduction:
		if q.Adjustment.Seconds > 0 {
			return fmt.Errorf("positive deduction %d", q.Adjustment.Seconds)
		}
	case tierup.AdjustTimeCredit:
		// Never more time than the money buys: s·p_new·len_old ≤ value·rem·len_new,
		// and not a whole second less either.
		// In Unix seconds: time.Duration would saturate or wrap as the
		// engine might.
		oldLen := in.Current.PeriodEnd.Unix() - in.Current.PeriodStart.Unix()
		newLen := base.Unix() - now.Unix()
		rate := mul(to.Price.Amount, oldLen)
		lhs := new(big.Int).Mul(big.NewInt(q.Adjustment.Seconds), rate)
		rhs := new(big.Int).Mul(mul(in.Current.ValueOn(from).Amount, q.RemainingSeconds), big.NewInt(newLen))
		if to.Price.Amount == 0 { // time at no price is not bought
			if q.Adjustment.Seconds != 0 {
				return fmt.Errorf("value policy gave %d s of a plan at no price", q.Adjustment.Seconds)
			}
			break
		}
		if lhs.Cmp(rhs) > 0 {
			return fmt.Errorf("value policy gave %d s, more than the money buys", q.Adjustment.Seconds)
		}
		if lhs.Add(lhs, rate).Cmp(rhs) <= 0 {
			return fmt.Errorf("value policy gave %d s, a whole second short", q.Adjustment.Seconds)
		}
	case tierup.AdjustCredit:
		if q.Adjustment.Amount == nil || q.Adjustment.Amount.Amount < 0 {
			return fmt.Errorf("credit without a non-negative amount")
		}
	case tierup.AdjustNone:
		if q.RemainingSeconds != 0 {
			return fmt.Errorf("no adjustment with %d s remaining", q.RemainingSeconds)
		}
	default:
		return fmt.Errorf("unknown adjustment kind %q", q.Adjustment.Kind)
	}
	if q.NewPeriod.End.Nanosecond() != now.Nanosecond() || q.NewPeriod.End.Unix()-base.Unix() != q.Adjustment.Seconds {
		return fmt.Errorf("end %s, want base %s + adjustment %d s", q.NewPeriod.End, base, q.Adjustment.Seconds)
	}
	return nil
}

// creditInvariants holds between bare, the quote for in without the
// account's credit, and q, the quote with in.Credit: applied credit never
// exceeds the balance or the amount due, never leaves the amount due or the
// balance negative, no credit is left unused while something is due, the
// lines add up to the amount due, and, under the credit policy, charge +
// credit used (the unused value and the account's credit) − credit kept =
// the new plan's price, the value of the new period.
func creditInvariants(in tierup.QuoteInput, bare, q *tierup.Quote) error {
	balance, to := in.Credit, in.To
	applied := amount(q.CreditApplied)
	switch {
	case q.CreditApplied != nil && applied <= 0:
		return fmt.Errorf("a non-positive credit applied: %v", q.CreditApplied)
	case applied > balance.Amount || applied > bare.AmountDue.Amount:
		return fmt.Errorf("applied %d of a balance of %d to %d due", applied, balance.Amount, bare.AmountDue.Amount)
	case q.AmountDue.Amount < 0 || q.AmountDue.Amount+applied != bare.AmountDue.Amount:
		return fmt.Errorf("due %d with %d applied, %d without", q.AmountDue.Amount, applied, bare.AmountDue.Amount)
	case applied < balance.Amount && q.AmountDue.Amount != 0 && balance.Currency == q.AmountDue.Currency:
		return fmt.Errorf("credit left (%d of %d) while %d is still due", balance.Amount-applied, balance.Amount, q.AmountDue.Amount)
	case balance.Amount-applied+amount(q.AccountCredit) < 0:
		return fmt.Errorf("the balance would go negative")
	}
	var sum int64
	for _, l := range q.Lines {
		sum += l.Amount.Amount
	}
	if sum != q.AmountDue.Amount {
		return fmt.Errorf("lines sum to %d, %d is due", sum, q.AmountDue.Amount)
	}
	if q.Policy == tierup.PolicyCredit {
		unused := amount(q.Adjustment.Amount)
		if got := q.AmountDue.Amount + applied + unused - amount(q.AccountCredit); got != to.Price.Amount {
			return fmt.Errorf("charge %d + credit applied %d + unused %d − kept %d = %d, want the price %d",
				q.AmountDue.Amount, applied, unused, amount(q.AccountCredit), got, to.Price.Amount)
		}
		if q.ValueOfNewPeriod(to) != to.Price {
			return fmt.Errorf("value of the new period %v, want the price %v", q.PeriodValue, to.Price)
		}
	}
	return nil
}

func mul(a, b int64) *big.Int { return new(big.Int).Mul(big.NewInt(a), big.NewInt(b)) }

func amount(m *tierup.Money) int64 {
	if m == nil {
		return 0
	}
	return m.Amount
}
