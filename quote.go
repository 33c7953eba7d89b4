package tierup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
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
	CreditApplied    *Money     `json:"credit_applied,omitempty" doc:"Account credit taken off the amount due; the account's ledger is debited when the plan is activated."`
	PeriodValue      *Money     `json:"period_value,omitempty" doc:"What the new period is worth: the new plan's price plus the unused value of the current plan that it takes over as time. The next upgrade prorates it."`
	Lines            []Line     `json:"lines"`
	Explanation      string     `json:"explanation"`
	ExpiresAt        time.Time  `json:"expires_at"`
	Signature        string     `json:"signature" doc:"Signature of the quote's terms: the payload version (v1) and 62 hex digits of an HMAC-SHA256."`
}

// QuoteInput is everything the quote engine needs; it does no I/O.
type QuoteInput struct {
	Now      time.Time
	Location *time.Location
	Current  Subscription
	From     *Plan
	To       *Plan
	Policy   Policy
	// Credit is the account's credit balance in the new plan's currency;
	// as much of it as the amount due needs is applied.
	Credit Money
}

// PriceUpgrade computes the quote for moving from in.From to in.To. It is
// a pure function: the same input always gives the same quote. The
// returned quote has no ID, account, expiry or signature yet; see Seal.
//
// Errors: ErrSamePlan, ErrNotAnUpgrade, ErrPlanUnavailable,
// ErrCurrencyMismatch, ErrRemainingExceedsNewPeriod, ErrOverflow (amounts or
// times out of range, which a catalog within ParseCatalog's bounds only
// reaches under the value policy with plans priced wildly apart).
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
		q.PeriodValue = moneyPtr(in.To.Price)
		return q.applyCredit(in), nil
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
			// The remaining time, and so its value, is taken over.
			unused, err := unusedValue(in, remaining, oldLen)
			if err != nil {
				return nil, err
			}
			q.PeriodValue = &Money{Amount: in.To.Price.Amount + unused.Amount, Currency: in.To.Price.Currency}
			at := f.period(q.Adjustment.Seconds)
			q.Explanation = fmt.Sprintf("The %s left on %s are added to %s: it runs from %s to %s instead of %s.",
				f.duration(remaining), in.From.Name, in.To.Name, at(now), at(end), at(baseEnd))
		} else {
			// The remaining time overlaps the new period: nothing is taken over.
			q.PeriodValue = moneyPtr(in.To.Price)
			at := f.period(q.Adjustment.Seconds)
			q.Explanation = fmt.Sprintf("You have %s left on %s. Because %s is not longer than your current plan, those %s count as already used on it: it runs from %s to %s instead of %s.",
				f.duration(remaining), in.From.Name, in.To.Name, f.duration(remaining), at(now), at(end), at(baseEnd))
		}
	case PolicyValue:
		newLen := int64(baseEnd.Sub(now) / time.Second)
		var secs int64
		if in.To.Price.Amount > 0 { // a zero-priced plan's time is not bought
			if secs, err = MulDivFloor(in.Current.ValueOn(in.From).Amount, remaining, newLen, oldLen, in.To.Price.Amount); err != nil {
				return nil, err
			}
			// An expensive plan's value at a far cheaper plan's rate (a
			// catalog can price a higher tier lower) can buy more time
			// than a time.Duration holds.
			if secs > math.MaxInt64/int64(time.Second) {
				return nil, ErrOverflow
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
		q.PeriodValue = &Money{Amount: in.To.Price.Amount + worth.Amount, Currency: in.To.Price.Currency}
		at := f.period(secs)
		q.Explanation = fmt.Sprintf("The %s left on %s are worth %s; at the price of %s that buys %s more, so it runs from %s to %s instead of %s.",
			f.duration(remaining), in.From.Name, worth, in.To.Name, f.duration(secs), at(now), at(end), at(baseEnd))
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
		// Charge + unused value − credit kept = the price, whatever the split.
		q.PeriodValue = moneyPtr(in.To.Price)
		q.Explanation = fmt.Sprintf("The %s left on %s are worth %s, which is taken off the price of %s. It runs from %s to %s.",
			f.duration(remaining), in.From.Name, unused, in.To.Name, f.date(now), f.date(baseEnd))
	default:
		return nil, Errorf(CodeInvalid, "unknown proration policy %q", in.Policy)
	}
	return q.applyCredit(in), nil
}

// applyCredit takes as much of the account's credit off the amount due as
// it covers, as a line of its own, and ends the explanation with what is
// paid now.
func (q *Quote) applyCredit(in QuoteInput) *Quote {
	if use := min(in.Credit.Amount, q.AmountDue.Amount); use > 0 && in.Credit.Currency == q.AmountDue.Currency {
		applied := Money{Amount: use, Currency: q.AmountDue.Currency}
		q.CreditApplied = &applied
		q.AmountDue.Amount -= use
		q.Lines = append(q.Lines, Line{Description: "Account credit applied", Amount: Money{Amount: -use, Currency: applied.Currency}})
		q.Explanation += fmt.Sprintf(" %s of your account credit is taken off.", applied)
	}
	q.Explanation += fmt.Sprintf(" You pay %s now.", q.AmountDue)
	if q.AccountCredit != nil {
		q.Explanation += fmt.Sprintf(" The remaining %s stays on your account as credit.", q.AccountCredit)
	}
	return q
}

// unusedValue is the current period's value (what it cost, not the list
// price: see Subscription.Value) × remaining / period length, rounded
// half-up once to the minor unit.
func unusedValue(in QuoteInput, remaining, periodLen int64) (Money, error) {
	value := in.Current.ValueOn(in.From)
	v, err := MulDivHalfUp(value.Amount, remaining, periodLen)
	return Money{Amount: v, Currency: value.Currency}, err
}

func explainNone(f formatter, in QuoteInput, q *Quote) string {
	var why string
	switch {
	case in.From.Free():
		why = fmt.Sprintf("%s has no paid time to carry over. ", in.From.Name)
	case in.Current.Paid():
		why = fmt.Sprintf("Your %s plan ended on %s, so there is no time left to carry over. ", in.From.Name, f.date(in.Current.PeriodEnd))
	}
	return fmt.Sprintf("%s%s starts now and runs from %s to %s.",
		why, in.To.Name, f.date(q.NewPeriod.Start), f.date(q.NewPeriod.End))
}

// Seal gives the computed quote its identity and expiry and signs its terms
// (the v1 payload) with key, in a signature that names no key (v1). A
// server signs with SealWith.
func (q *Quote) Seal(id, accountID string, expiresAt time.Time, key []byte) {
	q.SealWith(id, accountID, expiresAt, StaticQuoteKey(key))
}

// SealWith is Seal under the signing key of keys: with a key ID, the
// signature (v2) names the master secret that made it, so that quotes
// still verify after a new secret is added.
func (q *Quote) SealWith(id, accountID string, expiresAt time.Time, keys QuoteKeys) {
	q.ID = id
	q.AccountID = accountID
	q.ExpiresAt = expiresAt.Truncate(time.Second).UTC()
	kid, key := keys.SigningKey()
	q.Signature = q.sign(kid, key)
}

// QuoteKeys are the keys quotes are signed and verified with.
type QuoteKeys interface {
	// SigningKey is the key new quotes are signed with and its ID ("" for
	// a signature that names no key).
	SigningKey() (id string, key []byte)
	// VerifyingKey is the key of that ID ("" for signatures that name
	// none: v0 and v1); false when there is none.
	VerifyingKey(id string) ([]byte, bool)
}

// StaticQuoteKey is one key that names itself nowhere: signatures without
// a key ID (v1).
type StaticQuoteKey []byte

// SigningKey implements QuoteKeys.
func (k StaticQuoteKey) SigningKey() (string, []byte) { return "", k }

// VerifyingKey implements QuoteKeys.
func (k StaticQuoteKey) VerifyingKey(id string) ([]byte, bool) { return k, id == "" }

// Verify reports whether the quote's signature matches its terms under
// key, for the signatures that name no key: "v1…" (see Seal), or a legacy
// signature without a version (v0, the HMAC over the JSON of the quote as
// it was encoded then), which quotes stored before versioning carry.
func (q *Quote) Verify(key []byte) bool { return q.VerifyWith(StaticQuoteKey(key)) }

// VerifyWith reports whether the quote's signature matches its terms under
// the key it names (v2) or, for older signatures, keys.VerifyingKey("").
func (q *Quote) VerifyWith(keys QuoteKeys) bool {
	sig := q.Signature
	if len(sig) != quoteSigLen && len(sig) != 2*sha256.Size {
		return false
	}
	if v2, ok := strings.CutPrefix(sig, quoteSigV2); ok {
		kid, mac := v2[:quoteKeyIDLen], v2[quoteKeyIDLen:]
		key, ok := keys.VerifyingKey(kid)
		return ok && macEqual(mac, quoteMAC(key, q.payloadV1())[:quoteMACBytesV2])
	}
	key, ok := keys.VerifyingKey("")
	if !ok {
		return false
	}
	if v1, ok := strings.CutPrefix(sig, quoteSigV1); ok {
		return macEqual(v1, quoteMAC(key, q.payloadV1())[:quoteMACBytes])
	}
	// v0 predates the credit terms: a v0 quote carrying them was altered.
	return q.CreditApplied == nil && q.PeriodValue == nil && macEqual(sig, quoteMAC(key, q.payloadV0()))
}

func macEqual(hexSig string, mac []byte) bool {
	want, err := hex.DecodeString(hexSig)
	return err == nil && hmac.Equal(want, mac)
}

// Expired reports whether the quote can no longer be accepted at now.
func (q *Quote) Expired(now time.Time) bool { return !now.Before(q.ExpiresAt) }

// QuoteStatus says whether a quote can still be accepted.
type QuoteStatus string

// Quote statuses.
const (
	QuoteOpen    QuoteStatus = "open"    // until ExpiresAt
	QuoteExpired QuoteStatus = "expired" // ask for a new quote
)

// Status is the quote's status at now.
func (q *Quote) Status(now time.Time) QuoteStatus {
	if q.Expired(now) {
		return QuoteExpired
	}
	return QuoteOpen
}

// A signature is 64 characters, as before versioning. v1: "v1" and the
// first quoteMACBytes of the HMAC of the v1 payload, in hex. v2: "v2", the
// signing key's 8-hex-digit ID and the first quoteMACBytesV2 of the same
// HMAC. A later version adds a prefix; VerifyWith keeps accepting the
// older ones.
const (
	quoteSigLen     = 64
	quoteSigV1      = "v1"
	quoteMACBytes   = 31
	quoteSigV2      = "v2"
	quoteKeyIDLen   = 8
	quoteMACBytesV2 = 27
)

// sign returns the signature of the v1 payload: v2 when the key has an ID.
func (q *Quote) sign(kid string, key []byte) string {
	mac := quoteMAC(key, q.payloadV1())
	if kid == "" {
		return quoteSigV1 + hex.EncodeToString(mac[:quoteMACBytes])
	}
	return quoteSigV2 + kid + hex.EncodeToString(mac[:quoteMACBytesV2])
}

func quoteMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

// quotePayloadV1 is what a v1 signature covers: the terms of the contract
// (who, which plans, under which policy, at which instant, what the
// remaining time became, the new period and every amount), in a layout of
// its own so that the API's Quote can gain fields without invalidating
// stored quotes. The explanation and remaining_days are renderings of
// these terms and are not signed. Never change what it encodes for a quote
// already signed: a term added later is omitted when absent (omitempty),
// so that every quote signed before it encodes, and verifies, as it did.
type quotePayloadV1 struct {
	V int `json:"v"`
	quoteHead
	CurrentPeriod    *signedPeriod `json:"current_period"`
	RemainingSeconds int64         `json:"remaining_seconds"`
	Adjustment       signedAdjust  `json:"adjustment"`
	NewPeriod        signedPeriod  `json:"new_period"`
	Lines            []signedLine  `json:"lines"`
	AmountDue        signedMoney   `json:"amount_due"`
	AccountCredit    *signedMoney  `json:"account_credit"`
	ExpiresAt        time.Time     `json:"expires_at"`
	// Added with the credit ledger.
	CreditApplied *signedMoney `json:"credit_applied,omitempty"`
	PeriodValue   *signedMoney `json:"period_value,omitempty"`
}

// quotePayloadV0 is the JSON layout of Quote when signatures had no
// version: v0 signed exactly this encoding (times in UTC, an empty
// signature). Frozen, so that those quotes still verify.
type quotePayloadV0 struct {
	quoteHead
	CurrentPeriod    *signedPeriod `json:"current_period,omitempty"`
	RemainingSeconds int64         `json:"remaining_seconds"`
	RemainingDays    int64         `json:"remaining_days"`
	Adjustment       signedAdjust  `json:"adjustment"`
	NewPeriod        signedPeriod  `json:"new_period"`
	AmountDue        signedMoney   `json:"amount_due"`
	AccountCredit    *signedMoney  `json:"account_credit,omitempty"`
	Lines            []signedLine  `json:"lines"`
	Explanation      string        `json:"explanation"`
	ExpiresAt        time.Time     `json:"expires_at"`
	Signature        string        `json:"signature"`
}

// The signed payloads' parts, frozen in the JSON layout both versions use.
type (
	// quoteHead comes first in both payloads (embedded: its members are
	// encoded in place).
	quoteHead struct {
		ID        string    `json:"id"`
		AccountID string    `json:"account"`
		FromPlan  string    `json:"from_plan"`
		ToPlan    string    `json:"to_plan"`
		Policy    string    `json:"policy"`
		Now       time.Time `json:"now"`
		TimeZone  string    `json:"timezone"`
	}
	signedPeriod struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	signedMoney struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	signedAdjust struct {
		Kind    string       `json:"kind"`
		Seconds int64        `json:"seconds"`
		Amount  *signedMoney `json:"amount,omitempty"`
	}
	signedLine struct {
		Description string      `json:"description"`
		Amount      signedMoney `json:"amount"`
	}
)

func (q *Quote) payloadV1() []byte {
	return mustMarshal(quotePayloadV1{V: 1, quoteHead: q.head(), CurrentPeriod: signPeriodPtr(q.CurrentPeriod),
		RemainingSeconds: q.RemainingSeconds, Adjustment: signAdjust(q.Adjustment), NewPeriod: signPeriod(q.NewPeriod),
		Lines: signLines(q.Lines), AmountDue: signMoney(q.AmountDue), AccountCredit: signMoneyPtr(q.AccountCredit), ExpiresAt: q.ExpiresAt.UTC(),
		CreditApplied: signMoneyPtr(q.CreditApplied), PeriodValue: signMoneyPtr(q.PeriodValue)})
}

func (q *Quote) payloadV0() []byte {
	return mustMarshal(quotePayloadV0{quoteHead: q.head(), CurrentPeriod: signPeriodPtr(q.CurrentPeriod),
		RemainingSeconds: q.RemainingSeconds, RemainingDays: q.RemainingDays, Adjustment: signAdjust(q.Adjustment),
		NewPeriod: signPeriod(q.NewPeriod), AmountDue: signMoney(q.AmountDue), AccountCredit: signMoneyPtr(q.AccountCredit),
		Lines: signLines(q.Lines), Explanation: q.Explanation, ExpiresAt: q.ExpiresAt.UTC()})
}

func (q *Quote) head() quoteHead {
	return quoteHead{ID: q.ID, AccountID: q.AccountID, FromPlan: q.FromPlan, ToPlan: q.ToPlan, Policy: string(q.Policy),
		Now: q.Now.UTC(), TimeZone: q.TimeZone}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("tierup: quote payload does not marshal: " + err.Error()) // only plain data: cannot happen
	}
	return b
}

func signPeriod(p Period) signedPeriod { return signedPeriod{Start: p.Start.UTC(), End: p.End.UTC()} }

func signPeriodPtr(p *Period) *signedPeriod {
	if p == nil {
		return nil
	}
	sp := signPeriod(*p)
	return &sp
}

func signMoney(m Money) signedMoney {
	return signedMoney{Amount: m.Amount, Currency: string(m.Currency)}
}

func signMoneyPtr(m *Money) *signedMoney {
	if m == nil {
		return nil
	}
	sm := signMoney(*m)
	return &sm
}

func signAdjust(a Adjustment) signedAdjust {
	return signedAdjust{Kind: a.Kind, Seconds: a.Seconds, Amount: signMoneyPtr(a.Amount)}
}

// signLines keeps nil apart from empty: v0 encoded them differently.
func signLines(ls []Line) []signedLine {
	if ls == nil {
		return nil
	}
	out := make([]signedLine, len(ls))
	for i, l := range ls {
		out[i] = signedLine{Description: l.Description, Amount: signMoney(l.Amount)}
	}
	return out
}

// formatter renders dates and durations for explanations in the account's
// time zone: periods as dates, as everywhere on the dashboard, unless the
// minute matters.
type formatter struct{ loc *time.Location }

func (f formatter) date(t time.Time) string { return DateWords(t, f.loc) }

func (f formatter) dateTime(t time.Time) string {
	return t.In(f.loc).Format("2 Jan 2006, 15:04 MST")
}

// period is how to write the ends of a period that an adjustment of secs
// moved: dates when it moved them by whole days, else to the minute, so
// that "9 days and 23 hours" less does not read as 10 days between two
// dates.
func (f formatter) period(secs int64) func(time.Time) string {
	if secs%86400 == 0 {
		return f.date
	}
	return f.dateTime
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
