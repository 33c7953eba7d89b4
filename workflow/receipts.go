package workflow

import (
	"context"
	"fmt"

	"github.com/tierup/tierup"
)

// withReceipt makes a payment's outcome issue the charge's receipt in the
// transaction that records the charge: the number is taken only if the
// charge is recorded, so a crash can neither skip nor repeat one.
func (e *Engine) withReceipt(res result) result {
	return e.withDocument(res, tierup.KindReceipt)
}

// withCreditNote does the same for a refund and its credit note.
func (e *Engine) withCreditNote(res result) result {
	return e.withDocument(res, tierup.KindCreditNote)
}

func (e *Engine) withDocument(res result, kind tierup.ReceiptKind) result {
	apply := res.apply
	res.apply = func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
		if apply != nil {
			if err := apply(ctx, tx, u); err != nil {
				return err
			}
		}
		switch {
		case kind == tierup.KindReceipt && u.Payment.Status == tierup.PaymentSucceeded:
			return e.issue(ctx, tx, u, kind, u.Payment.ChargeID)
		case kind == tierup.KindCreditNote && u.Payment.Status == tierup.PaymentRefunded:
			return e.issue(ctx, tx, u, kind, u.Payment.RefundID)
		}
		return nil
	}
	return res
}

// issue builds the document from what tx holds now and stores it with the
// next number.
func (e *Engine) issue(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, kind tierup.ReceiptKind, ref string) error {
	acct, err := tx.Account(ctx, u.AccountID)
	if err != nil {
		return err
	}
	q, err := e.quote(ctx, u.QuoteID) // immutable: no need to read it in tx
	if err != nil {
		return err
	}
	from := u.FromPlan
	if p, err := e.Catalog.Plan(u.FromPlan); err == nil {
		from = p.Name
	}
	in := tierup.ReceiptInput{Kind: kind, Config: e.cfg.Receipts, Account: acct, Upgrade: u, Quote: q, FromPlan: from,
		PaymentRef: ref, Now: e.Clock.Now()}
	if kind == tierup.KindCreditNote {
		if in.Credits, err = e.chargeReceipt(ctx, tx, u); err != nil {
			return err
		}
	}
	r, err := tierup.NewReceipt(in)
	if err != nil {
		return err
	}
	r.ID = tierup.NewID("rcpt")
	if err := tx.IssueReceipt(ctx, r); err != nil {
		return fmt.Errorf("issuing the %s for %s: %w", kind, ref, err)
	}
	if kind == tierup.KindReceipt {
		u.Payment.Receipt = &tierup.ReceiptRef{ID: r.ID, Number: r.Number}
	}
	e.Log.InfoContext(ctx, "issuing "+string(kind), "upgrade", u.ID, "number", r.Number, "receipt", r.ID, "total", r.Total.String())
	return nil
}

// chargeReceipt returns the receipt of the upgrade's charge, or nil when
// it has none (a charge from before receipts existed).
func (e *Engine) chargeReceipt(ctx context.Context, st tierup.Store, u *tierup.Upgrade) (*tierup.Receipt, error) {
	rs, err := st.UpgradeReceipts(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Kind == tierup.KindReceipt && r.PaymentRef == u.Payment.ChargeID {
			return r, nil
		}
	}
	return nil, nil
}

// completionReceipt is the receipt the completion message names: the
// charge's, when the upgrade was charged; else nil. The payment records it
// as it is issued; an upgrade from before that reads it.
func (e *Engine) completionReceipt(ctx context.Context, u *tierup.Upgrade) (*tierup.ReceiptRef, error) {
	switch {
	case u.Payment.Status != tierup.PaymentSucceeded:
		return nil, nil
	case u.Payment.Receipt != nil:
		return u.Payment.Receipt, nil
	}
	r, err := e.chargeReceipt(ctx, e.Store, u)
	if err != nil || r == nil {
		return nil, err
	}
	return &tierup.ReceiptRef{ID: r.ID, Number: r.Number}, nil
}
