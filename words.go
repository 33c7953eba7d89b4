package tierup

import (
	"fmt"
	"time"
)

// The words customers read — in the dashboard, notifications and emails —
// for what the domain names with codes. One place each, so that a step or
// a brand is called the same everywhere.

// BrandName is how a card brand is written for people: "Visa",
// "American Express"; an unknown brand as it is.
func BrandName(brand string) string {
	if n := brandName(brand); n != "card" {
		return n
	}
	return brand
}

// CardWords is a card as a customer recognises it: "Visa •••• 4242".
func CardWords(brand, last4 string) string { return BrandName(brand) + " •••• " + last4 }

// StepTitle names a workflow step for customers, e.g. "Dedicated node";
// nodes is how many dedicated nodes the upgrade provisions.
func StepTitle(s StepName, nodes int) string {
	switch s {
	case StepPayment:
		return "Payment"
	case StepActivatePlan:
		return "Plan switch"
	case StepProvisionNode:
		if nodes > 1 {
			return fmt.Sprintf("%d dedicated nodes", nodes)
		}
		return "Dedicated node"
	case StepMigrateWorkloads:
		return "Moving your workloads"
	case StepEnableFeatures:
		return "New features"
	case StepNotify:
		return "Confirmation"
	}
	return string(s)
}

// DateWords writes a day in loc, "1 Mar 2027": periods are shown as dates,
// the minute matters only for what happens within the day.
func DateWords(t time.Time, loc *time.Location) string { return t.In(loc).Format("2 Jan 2006") }

// TimeWords writes an instant in loc to the second, "1 Mar 2027, 14:03:09 JST".
func TimeWords(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006, 15:04:05 MST")
}

// PriceLine says what the quote's payment buys: "$81.00 today — Pro (3
// months) until 1 Mar 2027".
func (q *Quote) PriceLine(toName string, loc *time.Location) string {
	return fmt.Sprintf("%s today — %s until %s", q.AmountDue, toName, DateWords(q.NewPeriod.End, loc))
}

// NoRenewal says what happens at the end of a period bought with a quote:
// tierup charges once and renews nothing.
func NoRenewal(end time.Time, loc *time.Location) string {
	return fmt.Sprintf("This is a one-time payment: tierup does not renew plans and will not charge you again. The period ends on %s.", DateWords(end, loc))
}

// Outcome says in one sentence what the new plan gets and why, e.g. "Team
// (1 month) runs 21 days and 1 hour, until 1 Mar 2027, because the 9 days
// and 23 hours left on Pro (1 month) count as time already spent on Team
// (1 month)." The new period's length is said where the time left shortens
// it.
func (q *Quote) Outcome(fromName, toName string, loc *time.Location) string {
	until := DateWords(q.NewPeriod.End, loc)
	a := q.Adjustment
	switch a.Kind {
	case AdjustDeduction:
		return fmt.Sprintf("%s runs %s, until %s, because the %s left on %s count as time already spent on %s.",
			toName, HumanDuration(int64(q.NewPeriod.End.Sub(q.NewPeriod.Start)/time.Second)), until, HumanDuration(a.Seconds), fromName, toName)
	case AdjustExtension:
		return fmt.Sprintf("%s runs until %s: the %s left on %s are added to it.", toName, until, HumanDuration(a.Seconds), fromName)
	case AdjustTimeCredit:
		return fmt.Sprintf("%s runs until %s: the value of the %s left on %s buys %s more.", toName, until,
			HumanDuration(q.RemainingSeconds), fromName, HumanDuration(a.Seconds))
	case AdjustCredit:
		s := fmt.Sprintf("%s runs until %s; the %s left on %s", toName, until, HumanDuration(q.RemainingSeconds), fromName)
		if a.Amount != nil {
			s += fmt.Sprintf(", worth %s,", a.Amount)
		}
		return s + " are taken off the price."
	}
	return fmt.Sprintf("%s runs until %s.", toName, until)
}

// MonthlyPrice is the plan's price for one month of its period: the price
// over the months, computed exactly and rounded half-up once ($290 over 12
// months is $24.17). A free plan's is zero.
func (p *Plan) MonthlyPrice() Money {
	if p.Free() {
		return Money{Currency: p.Price.Currency}
	}
	m, _ := MulDivHalfUp(p.Price.Amount, 1, int64(p.IntervalMonths)) // a quotient of an int64: cannot overflow
	return Money{Amount: m, Currency: p.Price.Currency}
}

// SavingPercent is how much less the plan costs than monthly plans of its
// tier for the same months, in whole percent rounded half-up; 0 when it
// saves nothing or monthly is not comparable.
func (p *Plan) SavingPercent(monthly *Plan) int64 {
	if p.Free() || monthly == nil || monthly.IntervalMonths != 1 || monthly.Price.Currency != p.Price.Currency || monthly.Price.Amount <= 0 {
		return 0
	}
	full := monthly.Price.Amount * int64(p.IntervalMonths)
	pct, err := MulDivHalfUp(full-p.Price.Amount, 100, full)
	if err != nil || pct < 0 {
		return 0
	}
	return pct
}
