package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

const accountColumns = `id, email, name, timezone, COALESCE(test_clock_id, ''), plan_id, COALESCE(entitlements_plan, plan_id),
	current_period_start, current_period_end, usage_functions, usage_cronjobs, usage_storage_mb, created_at,
	period_value, COALESCE(period_value_currency, '')`

// scanAccount reads accountColumns, then the columns after them into more.
func scanAccount(r row, more ...any) (*tierup.Account, error) {
	var a tierup.Account
	var start, end sql.NullTime
	var value sql.NullInt64
	var currency string
	err := r.Scan(append([]any{&a.ID, &a.Email, &a.Name, &a.TimeZone, &a.TestClockID, &a.Subscription.PlanID, &a.EntitlementsPlan,
		&start, &end, &a.Usage.Functions, &a.Usage.CronJobs, &a.Usage.StorageMB, &a.CreatedAt, &value, &currency}, more...)...)
	if err != nil {
		return nil, err
	}
	a.Subscription.PeriodStart, a.Subscription.PeriodEnd = timeOrZero(start), timeOrZero(end)
	a.Subscription.Value = tierup.Money{Amount: value.Int64, Currency: tierup.Currency(currency)}
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

// CreateAccount implements tierup.Store.
func (db *DB) CreateAccount(ctx context.Context, a *tierup.Account, tokenHash []byte) error {
	var clock any
	if a.TestClockID != "" {
		clock = a.TestClockID
	}
	cols, params := "", ""
	args := []any{a.ID, a.Email, a.Name, a.TimeZone, clock, a.Subscription.PlanID,
		nullTime(a.Subscription.PeriodStart), nullTime(a.Subscription.PeriodEnd),
		a.Usage.Functions, a.Usage.CronJobs, a.Usage.StorageMB, tokenHash, a.CreatedAt.UTC()}
	if v := a.Subscription.Value; v.Currency != "" {
		// Named only when set: a free account's statement is the one every
		// schema version takes.
		cols, params = ", period_value, period_value_currency", ", $14, $15"
		args = append(args, v.Amount, string(v.Currency))
	}
	_, err := db.q.exec(ctx, `INSERT INTO accounts (id, email, name, timezone, test_clock_id, plan_id,
		current_period_start, current_period_end, usage_functions, usage_cronjobs, usage_storage_mb, token_hash, created_at`+cols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13`+params+`)`, args...)
	if violated(err) == conAccountEmail {
		return tierup.Errorf(tierup.CodeEmailTaken, "an account with email %s already exists", a.Email)
	}
	return err
}

// Account implements tierup.Store.
func (db *DB) Account(ctx context.Context, id string) (*tierup.Account, error) {
	a, err := scanAccount(db.q.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	return a, notFound(err, "account %s", id)
}

// QuoteBasis implements tierup.Store: one statement, so one snapshot on
// either database, and one round trip instead of three.
func (db *DB) QuoteBasis(ctx context.Context, accountID string, c tierup.Currency) (*tierup.QuoteBasis, error) {
	b := tierup.QuoteBasis{Credit: tierup.Money{Currency: c}}
	var status string
	a, err := scanAccount(db.q.queryRow(ctx, `SELECT `+accountColumns+`,
			COALESCE((SELECT id FROM upgrades WHERE account_id = $1 AND active), ''),
			COALESCE((SELECT status FROM upgrades WHERE account_id = $1 AND active), ''),
			(SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_entries WHERE account_id = $1 AND currency = $2)
		FROM accounts WHERE id = $1`, accountID, string(c)), &b.ActiveUpgrade, &status, &b.Credit.Amount)
	if err != nil {
		return nil, notFound(err, "account %s", accountID)
	}
	b.Account, b.ActiveStatus = a, tierup.UpgradeStatus(status)
	return &b, nil
}

// AccountByTokenHash implements tierup.Store.
func (db *DB) AccountByTokenHash(ctx context.Context, h []byte) (*tierup.Account, error) {
	a, err := scanAccount(db.q.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE token_hash = $1`, h))
	return a, notFound(err, "no account has this token")
}

// SetAccountTokenHash implements tierup.Store.
func (db *DB) SetAccountTokenHash(ctx context.Context, id string, h []byte) error {
	return db.InTx(ctx, func(tx tierup.Store) error {
		t := tx.(*DB)
		n, err := t.q.exec(ctx, `UPDATE accounts SET token_hash = $2 WHERE id = $1`, id, h)
		if err := affected(n, err, "account %s", id); err != nil {
			return err
		}
		return t.bumpAuthVersion(ctx)
	})
}

// AuthVersion implements tierup.Store.
func (db *DB) AuthVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.q.queryRow(ctx, `SELECT version FROM auth_version WHERE id = 1`).Scan(&v)
	return v, err
}

// bumpAuthVersion raises AuthVersion; call it in the transaction that
// replaces or removes a credential.
func (db *DB) bumpAuthVersion(ctx context.Context) error {
	_, err := db.q.exec(ctx, `UPDATE auth_version SET version = version + 1 WHERE id = 1`)
	return err
}

// CountAccounts implements tierup.Store.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := db.q.queryRow(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
	return n, err
}

// CreateQuote implements tierup.Store. The quote is kept as its JSON
// document, whose signature the workflow verifies before charging.
func (db *DB) CreateQuote(ctx context.Context, q *tierup.Quote) error {
	body, err := json.Marshal(q)
	if err != nil {
		return err
	}
	_, err = db.q.exec(ctx, `INSERT INTO quotes (id, account_id, from_plan, to_plan, policy, amount_due, currency, quoted_at, expires_at, body, signature)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		q.ID, q.AccountID, q.FromPlan, q.ToPlan, string(q.Policy), q.AmountDue.Amount, string(q.AmountDue.Currency),
		q.Now.UTC(), q.ExpiresAt.UTC(), string(body), q.Signature)
	return err
}

// Quote implements tierup.Store.
func (db *DB) Quote(ctx context.Context, id string) (*tierup.Quote, error) {
	var body string
	if err := db.q.queryRow(ctx, `SELECT body FROM quotes WHERE id = $1`, id).Scan(&body); err != nil {
		return nil, notFound(err, "quote %s", id)
	}
	var q tierup.Quote
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		return nil, fmt.Errorf("quote %s: stored body: %w", id, err)
	}
	return &q, nil
}

// CreateTestClock implements tierup.Store.
func (db *DB) CreateTestClock(ctx context.Context, c *tierup.TestClock) error {
	_, err := db.q.exec(ctx, `INSERT INTO test_clocks (id, frozen_time, created_at) VALUES ($1, $2, $3)`,
		c.ID, c.FrozenTime.UTC(), c.CreatedAt.UTC())
	return err
}

// TestClock implements tierup.Store.
func (db *DB) TestClock(ctx context.Context, id string) (*tierup.TestClock, error) {
	var c tierup.TestClock
	err := db.q.queryRow(ctx, `SELECT id, frozen_time, created_at FROM test_clocks WHERE id = $1`, id).
		Scan(&c.ID, &c.FrozenTime, &c.CreatedAt)
	if err != nil {
		return nil, notFound(err, "test clock %s", id)
	}
	c.FrozenTime, c.CreatedAt = c.FrozenTime.UTC(), c.CreatedAt.UTC()
	return &c, nil
}

// AdvanceTestClock implements tierup.Store. The comparison is made by the
// database so that two concurrent advances cannot move the clock back.
func (db *DB) AdvanceTestClock(ctx context.Context, id string, t time.Time) (*tierup.TestClock, error) {
	n, err := db.q.exec(ctx, `UPDATE test_clocks SET frozen_time = $2 WHERE id = $1 AND frozen_time < $2`, id, t.UTC())
	if err != nil {
		return nil, err
	}
	c, err := db.TestClock(ctx, id)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, tierup.Errorf(tierup.CodeClockNotForward,
			"test clock %s is at %s; it can only move forward", id, c.FrozenTime.Format(time.RFC3339))
	}
	return c, nil
}

// PutSecretIfAbsent implements tierup.Store.
func (db *DB) PutSecretIfAbsent(ctx context.Context, name string, value []byte) ([]byte, bool, error) {
	n, err := db.q.exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		name, value, time.Now().UTC())
	if err != nil {
		return nil, false, err
	}
	var stored []byte
	if err := db.q.queryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&stored); err != nil {
		return nil, false, err
	}
	return stored, n == 1, nil
}

// Secret implements tierup.Store.
func (db *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := db.q.queryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, notFound(err, "secret %s", name)
	}
	return v, nil
}

// notFound gives ErrNotFound a message naming what was missing.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, tierup.ErrNotFound) {
		return &tierup.Error{Code: tierup.CodeNotFound, Message: fmt.Sprintf(format, args...) + " not found"}
	}
	return err
}
