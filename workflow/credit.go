package workflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/tierup/tierup"
)

// Account credit moves with the plan, never with the card: activation
// takes the credit the quote applies and grants the credit it keeps, in the
// transaction that switches the subscription; a cancel's compensation gives
// the first back and takes the second back, in the transaction of its
// refund (or, when nothing was charged, of its plan restore). A declined
// card or a cancel before activation therefore takes nothing, and a
// repeated job writes nothing twice: the commit is atomic with the step's
// outcome and the ledger holds one entry of each kind per upgrade.
//
// While an upgrade is active it holds the account's single upgrade slot,
// and only its jobs write the account's ledger; the balance is still
// checked again when the credit is taken (and before the charge), because
// two quotes can count on the same credit.

// checkedQuote is the upgrade's quote after its signature and the credit it
// applies are checked against the ledger. Errors: ErrQuoteInvalid (fatal:
// retrying cannot bring the credit back).
func (e *Engine) checkedQuote(ctx context.Context, u *tierup.Upgrade) (*tierup.Quote, error) {
	q, err := e.quote(ctx, u.QuoteID)
	if err != nil {
		return nil, err
	}
	if !e.QuoteValid(q) {
		return nil, tierup.Errorf(tierup.CodeQuoteInvalid, "the quote's signature does not match its content")
	}
	if q.CreditApplied == nil {
		return q, nil
	}
	entries, err := e.Store.CreditEntries(ctx, u.AccountID)
	if err != nil {
		return nil, err
	}
	return q, tierup.CheckCredit(entries, q, u.ID)
}

// switchPlan is activation's commit: the subscription becomes the quote's,
// worth what the quote says, and the ledger takes and grants the quote's
// credit. The balance is read again in tx; should it no longer cover the
// credit, the commit fails, and the repeated job's checkedQuote fails the
// step.
func (e *Engine) switchPlan(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, q *tierup.Quote) error {
	to, err := e.Catalog.Plan(u.ToPlan)
	if err != nil {
		return err
	}
	entries, err := tx.CreditEntries(ctx, u.AccountID)
	if err != nil {
		return err
	}
	add, err := tierup.ActivationCredit(entries, q, u.ID, e.Clock.Now())
	if err != nil {
		return err
	}
	if err := e.appendCredit(ctx, tx, u, add); err != nil {
		return err
	}
	return tx.SetSubscription(ctx, u.AccountID, q.Activated(to))
}

// returningCredit adds to a compensation part's commit the entries that
// undo the upgrade's credit (see tierup.CancelCredit), and says so in its
// message.
func (e *Engine) returningCredit(ctx context.Context, u *tierup.Upgrade, res result) result {
	if res.err != nil {
		return res
	}
	entries, err := e.Store.CreditEntries(ctx, u.AccountID)
	if err != nil {
		return result{err: err}
	}
	if undo := tierup.CancelCredit(entries, u.ID, e.Clock.Now()); len(undo) > 0 {
		res.msg += "; account credit: " + describeCredit(undo)
	}
	inner := res.apply
	res.apply = func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
		if inner != nil {
			if err := inner(ctx, tx, u); err != nil {
				return err
			}
		}
		entries, err := tx.CreditEntries(ctx, u.AccountID)
		if err != nil {
			return err
		}
		return e.appendCredit(ctx, tx, u, tierup.CancelCredit(entries, u.ID, e.Clock.Now()))
	}
	return res
}

func (e *Engine) appendCredit(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, entries []tierup.CreditEntry) error {
	for _, c := range entries {
		added, err := tx.AddCreditEntry(ctx, &c)
		if err != nil {
			return err
		}
		if added {
			e.Log.InfoContext(ctx, "account credit", "upgrade", u.ID, "account", u.AccountID, "kind", c.Kind,
				"amount", c.Amount.Amount, "currency", c.Amount.Currency)
		}
	}
	return nil
}

// creditNote describes the credit activating q moves, for the step's
// message: "" when none.
func creditNote(q *tierup.Quote) string {
	var parts []string
	if q.CreditApplied != nil {
		parts = append(parts, fmt.Sprintf("%s of account credit applied", q.CreditApplied))
	}
	if q.AccountCredit != nil {
		parts = append(parts, fmt.Sprintf("%s kept as account credit", q.AccountCredit))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

func describeCredit(entries []tierup.CreditEntry) string {
	parts := make([]string, len(entries))
	for i, c := range entries {
		parts[i] = fmt.Sprintf("%s %s", c.Kind, tierup.Money{Amount: max(c.Amount.Amount, -c.Amount.Amount), Currency: c.Amount.Currency})
	}
	return strings.Join(parts, ", ")
}
