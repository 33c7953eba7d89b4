package tierup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Policy decides what happens to the time left on the current plan.
type Policy string

// Proration policies.
const (
	// PolicyCarryover adds the remaining time to a longer plan, or deducts it
	// from a plan that is not longer; the full new price is charged.
	PolicyCarryover Policy = "carryover"
	// PolicyValue converts the remaining value into time on the new plan at
	// the new plan's rate; the full new price is charged.
	PolicyValue Policy = "value"
	// PolicyCredit subtracts the unused value from the price; any excess is
	// kept as account credit. The new period has its full length.
	PolicyCredit Policy = "credit"
)

// ParsePolicy validates a policy name.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case PolicyCarryover, PolicyValue, PolicyCredit:
		return p, nil
	}
	return "", fmt.Errorf("unknown proration policy %q (want carryover, value or credit)", s)
}

// Adjustment kinds.
const (
	AdjustNone       = "none"
	AdjustExtension  = "extension"
	AdjustDeduction  = "deduction"
	AdjustTimeCredit = "time_credit"
	AdjustCredit     = "credit"
)

// Adjustment is what the remaining time did to the new plan: Seconds is
// signed (positive lengthens the new period); Amount is set for "credit".
type Adjustment struct {
	Kind    string `json:"kind" enum:"none,extension,deduction,time_credit,credit"`
	Seconds int64  `json:"seconds" doc:"Signed change to the new period's length, in seconds."`
	Amount  *Money `json:"amount,omitempty" doc:"Unused value credited (credit policy only)."`
}

// Period is a half-open interval [Start, End).
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Line is one item of the amount due.
type Line struct {
	Description string `json:"description"`
	Amount      Money  `json:"amount"`
}

// Quote is the priced offer for one upgrade. It records every input it
// used, is immutable once stored, and is signed so that the charge can be
// proven to match it.
type Quote struct {
	ID               string     `json:"id"`
	AccountID        string     `json:"account"`
	FromPlan         string     `json:"from_plan"`
	ToPlan           string     `json:"to_plan"`
	Policy           Policy     `json:"policy"`
	Now              time.Time  `json:"now" doc:"The instant the quote was computed for."`
	TimeZone         string     `json:"timezone" doc:"Time zone whose calendar months were used."`
	CurrentPeriod    *Period    `json:"current_period,omitempty" doc:"The current plan's period, when it has one."`
	RemainingSeconds int64      `json:"remaining_seconds"`
	RemainingDays    int64      `json:"remaining_days" doc:"Whole days remaining, rounded down, for display."`
	Adjustment       Adjustment `json:"adjustment"`
	NewPeriod        Period     `json:"new_period"`
	AmountDue        Money      `json:"amount_due"`
	AccountCredit    *Money     `json:"account_credit,omitempty" doc:"Unused value beyond the price, kept on the account (credit policy)."`
	Lines            []Line     `json:"lines"`
	Explanation      string     `json:"explanation"`
	ExpiresAt        time.Time  `json:"expires_at"`
	Signature        string     `json:"signature" doc:"HMAC-SHA256 of the quote's canonical content, hex."`
}

// QuoteInput is everything the quote engine needs; it does no I/O.
type QuoteInput struct {
	Now      time.Time
	Location *time.Location
	Current  Subscription
	From     *Plan
	To       *Plan
	Policy   Policy
}

// PriceUpgrade computes the quote for moving from in.From to in.To. It is
// a pure function: the same input always gives the same quote. The
// returned quote has no ID, account, expiry or signature yet; see Seal.
//
// Errors: ErrSamePlan, ErrNotAnUpgrade, ErrPlanUnavailable,
// ErrCurrencyMismatch, ErrRemainingExceedsNewPeriod.
func (c *Catalog) PriceUpgrade(in QuoteInput) (*Quote, error) {
	if err := c.CheckUpgrade(in.From, in.To); err != nil {
		return nil, err
	}
	if in.To.Free() {
		return nil, Errorf(CodeNotAnUpgrade, "%s is free; there is nothing to buy", in.To.Name)
	}
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	now := in.Now.Truncate(time.Second).UTC()
	remaining := int64(in.Current.Remaining(now) / time.Second)
	baseEnd := AddMonths(now, in.To.IntervalMonths, loc).UTC()

	q := &Quote{
		FromPlan:         in.From.ID,
		ToPlan:           in.To.ID,
		Policy:           in.Policy,
		Now:              now,
		TimeZone:         loc.String(),
		RemainingSeconds: remaining,
		RemainingDays:    remaining / 86400,
		Adjustment:       Adjustment{Kind: AdjustNone},
		AmountDue:        in.To.Price,
	}
	if in.Current.Paid() {
		q.CurrentPeriod = &Period{Start: in.Current.PeriodStart.UTC(), End: in.Current.PeriodEnd.UTC()}
	}
	f := formatter{loc: loc}
	planLine := func() Line {
		return Line{Description: fmt.Sprintf("%s, %s to %s", in.To.Name, f.date(now), f.date(q.NewPeriod.End)), Amount: in.To.Price}
	}

	if remaining == 0 {
		q.NewPeriod = Period{Start: now, End: baseEnd}
		q.Lines = []Line{planLine()}
		q.Explanation = explainNone(f, in, q)
		return q, nil
	}

	oldLen := int64(in.Current.PeriodEnd.Sub(in.Current.PeriodStart) / time.Second)
	var err error
	switch in.Policy {
	case PolicyCarryover, "":
		q.Policy = PolicyCarryover
		if in.To.IntervalMonths > in.From.IntervalMonths {
			q.Adjustment = Adjustment{Kind: AdjustExtension, Seconds: remaining}
		} else {
			q.Adjustment = Adjustment{Kind: AdjustDeduction, Seconds: -remaining}
		}
		end := baseEnd.Add(time.Duration(q.Adjustment.Seconds) * time.Second)
		if !end.After(now) {
			return nil, Errorf(CodeRemainingExceedsNewPeriod,
				"you have %s left on %s, which ends on %s; that is at least as long as %s itself, so the new plan would end before it starts. Choose a longer plan, or upgrade after %s",
				f.duration(remaining), in.From.Name, f.dateTime(in.Current.PeriodEnd), in.To.Name, f.dateTime(in.Current.PeriodEnd))
		}
		q.NewPeriod = Period{Start: now, End: end}
		q.Lines = []Line{planLine()}
		if q.Adjustment.Kind == AdjustExtension {
			q.Explanation = fmt.Sprintf("The %s left on %s are added to %s: it runs from %s to %s instead of %s. You pay %s now.",
				f.duration(remaining), in.From.Name, in.To.Name, f.dateTime(now), f.dateTime(end), f.dateTime(baseEnd), in.To.Price)
		} else {
			q.Explanation = fmt.Sprintf("You have %s left on %s. Because %s is not longer than your current plan, those %s count as already used on it: it runs from %s to %s instead of %s. You pay %s now.",
				f.duration(remaining), in.From.Name, in.To.Name, f.duration(remaining), f.dateTime(now), f.dateTime(end), f.dateTime(baseEnd), in.To.Price)
		}
	case PolicyValue:
		newLen := int64(baseEnd.Sub(now) / time.Second)
		var secs int64
		if in.To.Price.Amount > 0 { // a zero-priced plan's time is not bought
			if secs, err = MulDivFloor(in.From.Price.Amount, remaining, newLen, oldLen, in.To.Price.Amount); err != nil {
				return nil, err
			}
		}
		worth, err := unusedValue(in, remaining, oldLen)
		if err != nil {
			return nil, err
		}
		end := baseEnd.Add(time.Duration(secs) * time.Second)
		q.Adjustment = Adjustment{Kind: AdjustTimeCredit, Seconds: secs}
		q.NewPeriod = Period{Start: now, End: end}
		q.Lines = []Line{planLine()}
		q.Explanation = fmt.Sprintf("The %s left on %s are worth %s; at the price of %s that buys %s more, so it runs from %s to %s instead of %s. You pay %s now.",
			f.duration(remaining), in.From.Name, worth, in.To.Name, f.duration(secs), f.dateTime(now), f.dateTime(end), f.dateTime(baseEnd), in.To.Price)
	case PolicyCredit:
		unused, err := unusedValue(in, remaining, oldLen)
		if err != nil {
			return nil, err
		}
		q.Adjustment = Adjustment{Kind: AdjustCredit, Amount: &unused}
		q.NewPeriod = Period{Start: now, End: baseEnd}
		q.Lines = []Line{planLine(), {
			Description: fmt.Sprintf("Unused time on %s (%s)", in.From.Name, f.duration(remaining)),
			Amount:      Money{Amount: -unused.Amount, Currency: unused.Currency},
		}}
		due := in.To.Price.Amount - unused.Amount
		if due < 0 {
			excess := Money{Amount: -due, Currency: unused.Currency}
			q.AccountCredit = &excess
			q.Lines = append(q.Lines, Line{Description: "Kept as credit on your account", Amount: excess})
			due = 0
		}
		q.AmountDue = Money{Amount: due, Currency: in.To.Price.Currency}
		q.Explanation = fmt.Sprintf("The %s left on %s are worth %s, which is taken off the price of %s. It runs from %s to %s. You pay %s now.",
			f.duration(remaining), in.From.Name, unused, in.To.Name, f.dateTime(now), f.dateTime(baseEnd), q.AmountDue)
		if q.AccountCredit != nil {
			q.Explanation += fmt.Sprintf(" The remaining %s stays on your account as credit.", q.AccountCredit)
		}
	default:
		return nil, Errorf(CodeInvalid, "unknown proration policy %q", in.Policy)
	}
	return q, nil
}

// unusedValue is the current plan's price × remaining / period length,
// rounded half-up once to the minor unit.
func unusedValue(in QuoteInput, remaining, periodLen int64) (Money, error) {
	v, err := MulDivHalfUp(in.From.Price.Amount, remaining, periodLen)
	return Money{Amount: v, Currency: in.From.Price.Currency}, err
}

func explainNone(f formatter, in QuoteInput, q *Quote) string {
	var why string
	switch {
	case in.From.Free():
		why = fmt.Sprintf("%s has no paid time to carry over. ", in.From.Name)
	case in.Current.Paid():
		why = fmt.Sprintf("Your %s plan ended on %s, so there is no time left to carry over. ", in.From.Name, f.dateTime(in.Current.PeriodEnd))
	}
	return fmt.Sprintf("%s%s starts now and runs from %s to %s. You pay %s now.",
		why, in.To.Name, f.dateTime(q.NewPeriod.Start), f.dateTime(q.NewPeriod.End), q.AmountDue)
}

// Seal gives the computed quote its identity and expiry and signs it.
func (q *Quote) Seal(id, accountID string, expiresAt time.Time, key []byte) {
	q.ID = id
	q.AccountID = accountID
	q.ExpiresAt = expiresAt.Truncate(time.Second).UTC()
	q.Signature = q.sign(key)
}

// Verify reports whether the quote's signature matches its content.
func (q *Quote) Verify(key []byte) bool {
	want, err := hex.DecodeString(q.Signature)
	if err != nil {
		return false
	}
	got, _ := hex.DecodeString(q.sign(key))
	return hmac.Equal(want, got)
}

// Expired reports whether the quote can no longer be accepted at now.
func (q *Quote) Expired(now time.Time) bool { return !now.Before(q.ExpiresAt) }

// sign returns the hex HMAC-SHA256 over the canonical content: the JSON
// encoding of the quote without its signature, every time in UTC.
func (q *Quote) sign(key []byte) string {
	c := *q
	c.Signature = ""
	c.Now, c.ExpiresAt = c.Now.UTC(), c.ExpiresAt.UTC()
	c.NewPeriod = Period{Start: c.NewPeriod.Start.UTC(), End: c.NewPeriod.End.UTC()}
	if c.CurrentPeriod != nil {
		c.CurrentPeriod = &Period{Start: c.CurrentPeriod.Start.UTC(), End: c.CurrentPeriod.End.UTC()}
	}
	body, err := json.Marshal(c)
	if err != nil {
		panic("tierup: quote does not marshal: " + err.Error()) // only plain data: cannot happen
	}
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// formatter renders dates and durations for explanations in the account's
// time zone.
type formatter struct{ loc *time.Location }

func (f formatter) date(t time.Time) string { return t.In(f.loc).Format("2 Jan 2006") }

func (f formatter) dateTime(t time.Time) string {
	return t.In(f.loc).Format("2 Jan 2006 15:04 MST")
}

// duration renders seconds as the two largest non-zero units, e.g.
// "10 days", "3 days and 4 hours", "45 seconds".
func (f formatter) duration(secs int64) string { return HumanDuration(secs) }

// HumanDuration renders seconds as its two largest non-zero units.
func HumanDuration(secs int64) string {
	if secs < 0 {
		secs = -secs
	}
	units := []struct {
		n    int64
		name string
	}{{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}}
	var parts []string
	for _, u := range units {
		if v := secs / u.n; v > 0 {
			secs -= v * u.n
			name := u.name
			if v != 1 {
				name += "s"
			}
			parts = append(parts, fmt.Sprintf("%d %s", v, name))
			if len(parts) == 2 {
				break
			}
		} else if len(parts) > 0 {
			break // keep the two parts adjacent: "3 days and 4 hours", never "3 days and 10 seconds"
		}
	}
	if len(parts) == 0 {
		return "0 seconds"
	}
	return strings.Join(parts, " and ")
}
