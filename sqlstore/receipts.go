package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tierup/tierup"
)

const (
	conReceiptNumber  = "receipts_number_key"
	conReceiptPayment = "receipts_kind_payment_ref_key"
)

// IssueReceipt implements tierup.Store. The counter is one upsert that
// returns the new value: concurrent issuers of a series queue on its row
// lock (PostgreSQL) or the single writer (SQLite), and each sees the value
// the one before it committed.
func (db *DB) IssueReceipt(ctx context.Context, r *tierup.Receipt) error {
	return db.InTx(ctx, func(tx tierup.Store) error {
		t := tx.(*DB)
		var id string
		err := t.q.queryRow(ctx, `SELECT id FROM receipts WHERE kind = $1 AND payment_ref = $2`, string(r.Kind), r.PaymentRef).Scan(&id)
		if err == nil {
			old, err := t.Receipt(ctx, id)
			if err == nil {
				*r = *old
			}
			return err
		}
		if !errors.Is(err, tierup.ErrNotFound) {
			return err
		}
		series := tierup.ReceiptSeries(r.IssuedAt)
		var seq int64
		if err := t.q.queryRow(ctx, `INSERT INTO receipt_counters (series, last_number) VALUES ($1, 1)
			ON CONFLICT (series) DO UPDATE SET last_number = receipt_counters.last_number + 1
			RETURNING last_number`, series).Scan(&seq); err != nil {
			return err
		}
		r.Number = tierup.ReceiptNumber(series, seq)
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = t.q.exec(ctx, `INSERT INTO receipts (id, number, kind, account_id, upgrade_id, payment_ref, issued_at, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			r.ID, r.Number, string(r.Kind), r.AccountID, r.UpgradeID, r.PaymentRef, r.IssuedAt.UTC(), string(body))
		switch violated(err) {
		case conReceiptNumber, conReceiptPayment:
			return tierup.Errorf(tierup.CodeConflict, "%s %s for %s: %v", r.Kind, r.Number, r.PaymentRef, err)
		}
		return err
	})
}

// Receipt implements tierup.Store.
func (db *DB) Receipt(ctx context.Context, id string) (*tierup.Receipt, error) {
	var body string
	if err := db.q.queryRow(ctx, `SELECT body FROM receipts WHERE id = $1`, id).Scan(&body); err != nil {
		return nil, notFound(err, "receipt %s", id)
	}
	return decodeReceipt(id, body)
}

// Receipts implements tierup.Store.
func (db *DB) Receipts(ctx context.Context, accountID string) ([]*tierup.Receipt, error) {
	return db.listReceipts(ctx, `SELECT id, body FROM receipts WHERE account_id = $1 ORDER BY issued_at DESC, number DESC LIMIT 500`, accountID)
}

// UpgradeReceipts implements tierup.Store.
func (db *DB) UpgradeReceipts(ctx context.Context, upgradeID string) ([]*tierup.Receipt, error) {
	return db.listReceipts(ctx, `SELECT id, body FROM receipts WHERE upgrade_id = $1 ORDER BY issued_at, number`, upgradeID)
}

func (db *DB) listReceipts(ctx context.Context, query string, args ...any) ([]*tierup.Receipt, error) {
	rs, err := db.q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*tierup.Receipt
	for rs.Next() {
		var id, body string
		if err := rs.Scan(&id, &body); err != nil {
			return nil, err
		}
		r, err := decodeReceipt(id, body)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func decodeReceipt(id, body string) (*tierup.Receipt, error) {
	var r tierup.Receipt
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("receipt %s: stored body: %w", id, err)
	}
	return &r, nil
}
