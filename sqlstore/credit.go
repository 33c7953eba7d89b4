package sqlstore

import (
	"context"

	"github.com/tierup/tierup"
)

// AddCreditEntry implements tierup.Store. The unique key (upgrade_id,
// kind) decides, as for webhook events: ON CONFLICT DO NOTHING inserts
// nothing for an entry already written, and a concurrent write of the same
// entry waits on the key until the first commits (then it adds nothing) or
// rolls back (then it adds it). Unlike a caught violation, it leaves a
// PostgreSQL transaction usable.
func (db *DB) AddCreditEntry(ctx context.Context, e *tierup.CreditEntry) (bool, error) {
	n, err := db.q.exec(ctx, `INSERT INTO credit_entries (id, account_id, kind, amount, currency, upgrade_id, quote_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (upgrade_id, kind) DO NOTHING`,
		e.ID, e.AccountID, string(e.Kind), e.Amount.Amount, string(e.Amount.Currency), e.UpgradeID, e.QuoteID, e.CreatedAt.UTC())
	return n == 1, err
}

// CreditEntries implements tierup.Store.
func (db *DB) CreditEntries(ctx context.Context, accountID string) ([]tierup.CreditEntry, error) {
	rs, err := db.q.query(ctx, `SELECT id, account_id, kind, amount, currency, upgrade_id, quote_id, created_at
		FROM credit_entries WHERE account_id = $1 ORDER BY seq DESC`, accountID)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []tierup.CreditEntry
	for rs.Next() {
		var e tierup.CreditEntry
		var kind, currency string
		if err := rs.Scan(&e.ID, &e.AccountID, &kind, &e.Amount.Amount, &currency, &e.UpgradeID, &e.QuoteID, &e.CreatedAt); err != nil {
			return nil, err
		}
		e.Kind, e.Amount.Currency, e.CreatedAt = tierup.CreditKind(kind), tierup.Currency(currency), e.CreatedAt.UTC()
		out = append(out, e)
	}
	return out, rs.Err()
}

// nullValue stores a subscription's value, NULL when it has none.
func nullValue(m tierup.Money) (amount, currency any) {
	if m.Currency == "" {
		return nil, nil
	}
	return m.Amount, string(m.Currency)
}
