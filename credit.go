package tierup

import (
	"fmt"
	"time"
)

// CreditKind says why an entry of the credit ledger was written.
type CreditKind string

// Credit entry kinds. Each upgrade writes at most one entry of each kind,
// which makes every write idempotent.
const (
	// CreditGranted is the unused value beyond a credit-policy upgrade's
	// price (Quote.AccountCredit), written when its plan is activated.
	CreditGranted CreditKind = "granted"
	// CreditApplied is the credit taken off an upgrade's amount due
	// (Quote.CreditApplied), written when its plan is activated.
	CreditApplied CreditKind = "applied"
	// CreditReturned gives an applied credit back when its upgrade is
	// canceled.
	CreditReturned CreditKind = "returned"
	// CreditRevoked takes a granted credit back when its upgrade is
	// canceled.
	CreditRevoked CreditKind = "revoked"
)

// CreditEntry is one row of an account's credit ledger. The ledger is
// append-only: the balance is the sum of the entries, never a stored
// figure, so that every change of it is explained by a row.
type CreditEntry struct {
	ID        string     `json:"id"`
	AccountID string     `json:"-"`
	Kind      CreditKind `json:"kind" enum:"granted,applied,returned,revoked"`
	Amount    Money      `json:"amount" doc:"Signed: granted and returned credit add to the balance, applied and revoked credit take from it."`
	UpgradeID string     `json:"upgrade_id" doc:"The upgrade that wrote the entry."`
	QuoteID   string     `json:"quote_id" doc:"The quote whose terms the entry carries out."`
	CreatedAt time.Time  `json:"created_at"`
}

// CreditBalance is the sum of the entries in currency c.
func CreditBalance(entries []CreditEntry, c Currency) Money {
	b := Money{Currency: c}
	for _, e := range entries {
		if e.Amount.Currency == c {
			b.Amount += e.Amount.Amount
		}
	}
	return b
}

// creditEntry returns the upgrade's entry of kind k, or nil.
func creditEntry(entries []CreditEntry, upgradeID string, k CreditKind) *CreditEntry {
	for i := range entries {
		if entries[i].UpgradeID == upgradeID && entries[i].Kind == k {
			return &entries[i]
		}
	}
	return nil
}

// CheckCredit reports whether the ledger still holds the credit that q
// applies, for the upgrade that carries q out: the balance is checked
// again when the credit is taken, because two quotes may count on the same
// credit. Errors: ErrQuoteInvalid when the balance no longer covers it.
func CheckCredit(entries []CreditEntry, q *Quote, upgradeID string) error {
	if q.CreditApplied == nil || creditEntry(entries, upgradeID, CreditApplied) != nil {
		return nil
	}
	if have := CreditBalance(entries, q.CreditApplied.Currency); have.Amount < q.CreditApplied.Amount {
		return Errorf(CodeQuoteInvalid, "quote %s takes %s of account credit off the price, but only %s is left on the account (another upgrade used it); ask for a new quote",
			q.ID, q.CreditApplied, have)
	}
	return nil
}

// ActivationCredit returns the entries that activating the upgrade of q
// appends to the ledger: the credit q applies, taken (applied), and the
// credit q keeps on the account, granted — each once, so that a repeated
// activation appends nothing. Errors: those of CheckCredit; nothing may be
// appended then.
func ActivationCredit(entries []CreditEntry, q *Quote, upgradeID string, now time.Time) ([]CreditEntry, error) {
	if err := CheckCredit(entries, q, upgradeID); err != nil {
		return nil, err
	}
	var out []CreditEntry
	add := func(k CreditKind, m *Money, sign int64) {
		if m == nil || m.Amount <= 0 || creditEntry(entries, upgradeID, k) != nil {
			return
		}
		out = append(out, newCreditEntry(q.AccountID, upgradeID, q.ID, k, Money{Amount: sign * m.Amount, Currency: m.Currency}, now))
	}
	add(CreditApplied, q.CreditApplied, -1)
	add(CreditGranted, q.AccountCredit, 1)
	return out, nil
}

// CancelCredit returns the entries that undo the upgrade's: its applied
// credit returned and its granted credit revoked, each once. A revocation
// takes back no more than the balance holds, so the balance never goes
// negative; while the upgrade is active no other upgrade of the account
// can spend its grant, so in practice it takes back all of it.
func CancelCredit(entries []CreditEntry, upgradeID string, now time.Time) []CreditEntry {
	var out []CreditEntry
	if a := creditEntry(entries, upgradeID, CreditApplied); a != nil && creditEntry(entries, upgradeID, CreditReturned) == nil {
		out = append(out, newCreditEntry(a.AccountID, upgradeID, a.QuoteID, CreditReturned, Money{Amount: -a.Amount.Amount, Currency: a.Amount.Currency}, now))
	}
	if g := creditEntry(entries, upgradeID, CreditGranted); g != nil && creditEntry(entries, upgradeID, CreditRevoked) == nil {
		have := CreditBalance(append(out, entries...), g.Amount.Currency).Amount
		if take := min(g.Amount.Amount, have); take > 0 {
			out = append(out, newCreditEntry(g.AccountID, upgradeID, g.QuoteID, CreditRevoked, Money{Amount: -take, Currency: g.Amount.Currency}, now))
		}
	}
	return out
}

func newCreditEntry(accountID, upgradeID, quoteID string, k CreditKind, m Money, now time.Time) CreditEntry {
	return CreditEntry{ID: NewID("cred"), AccountID: accountID, Kind: k, Amount: m, UpgradeID: upgradeID, QuoteID: quoteID,
		CreatedAt: now.UTC()}
}

// Activated is the subscription that activating q gives: the new plan for
// the new period, worth ValueOfNewPeriod.
func (q *Quote) Activated(to *Plan) Subscription {
	return Subscription{PlanID: q.ToPlan, PeriodStart: q.NewPeriod.Start, PeriodEnd: q.NewPeriod.End, Value: q.ValueOfNewPeriod(to)}
}

// ValueOfNewPeriod is what the subscription the quote activates is worth
// (Subscription.Value): q.PeriodValue, or the new plan's price for a quote
// made before it was quoted.
func (q *Quote) ValueOfNewPeriod(to *Plan) Money {
	if q.PeriodValue == nil {
		return to.Price
	}
	return *q.PeriodValue
}

// Describe is the entry as a line of the dashboard's ledger.
func (e CreditEntry) Describe() string {
	switch e.Kind {
	case CreditGranted:
		return "Unused value kept as credit"
	case CreditApplied:
		return "Applied to an upgrade"
	case CreditReturned:
		return "Returned by a canceled upgrade"
	case CreditRevoked:
		return "Taken back: the upgrade that granted it was canceled"
	}
	return fmt.Sprintf("Credit %s", e.Kind)
}

func moneyPtr(m Money) *Money { return &m }
