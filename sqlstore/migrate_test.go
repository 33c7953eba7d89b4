package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

// TestMigrateExisting migrates a database as the store left it before
// 00003: version 0 documents, and on SQLite the driver's time.Time.String()
// text, which 00003 rewrites.
func TestMigrateExisting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		migrations, err := sqlstore.Migrations(db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := migrations.UpTo(ctx, 2); err != nil {
			t.Fatal(err)
		}
		raw := rawSQL(t, dsn)
		old := func(t time.Time) any { return t }
		if db.Dialect() == sqlstore.SQLite {
			old = func(t time.Time) any { return t.String() }
		}
		at := time.Date(2026, 3, 1, 12, 30, 15, 500000000, time.UTC)
		stmts := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO accounts (id, email, plan_id, token_hash, created_at) VALUES ('acct_1', 'a@example.com', 'pro-1m', 'h', $1)`, []any{old(at)}},
			{`INSERT INTO quotes (id, account_id, from_plan, to_plan, policy, amount_due, currency, quoted_at, expires_at, body, signature)
				VALUES ('quo_1', 'acct_1', 'pro-1m', 'pro-12m', 'credit', 1, 'USD', $1, $1, '{}', '')`, []any{old(at)}},
			{`INSERT INTO quotes (id, account_id, from_plan, to_plan, policy, amount_due, currency, quoted_at, expires_at, body, signature)
				VALUES ('quo_2', 'acct_1', 'pro-1m', 'pro-12m', 'credit', 1, 'USD', $1, $1, '{}', '')`, []any{old(at)}},
			{`INSERT INTO upgrades (id, account_id, quote_id, status, version, state, created_at, updated_at)
				VALUES ('upg_1', 'acct_1', 'quo_1', 'paused', 7, $1, $2, $3)`, []any{sqlstore.StoredV0, old(at.Add(-time.Hour)), old(at.Add(3 * time.Minute))}},
		}
		for _, s := range stmts {
			if _, err := raw.ExecContext(ctx, s.q, s.args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}

		u, err := db.Upgrade(ctx, "upg_1")
		if err != nil || u.Previous == nil || u.CompensateRun != 5 || u.Steps[0].Run != 4 {
			t.Fatalf("v0 document after migrating: %+v, %v", u, err)
		}
		if active, err := db.ActiveUpgrades(ctx); err != nil || len(active) != 1 {
			t.Errorf("active after backfill: %d, %v", len(active), err)
		}
		// Paused with a cancel requested: moving, due at its last change.
		// The backfill keeps the old row's due time: stalled when the
		// threshold is past it, not when it is before.
		since := time.Since(at)
		if c, err := db.ResumeCandidates(ctx, time.Minute, since-4*time.Minute); err != nil || len(c) != 1 {
			t.Errorf("stalled after backfill: %d, %v", len(c), err)
		}
		if c, err := db.ResumeCandidates(ctx, time.Minute, since-2*time.Minute); err != nil || len(c) != 0 {
			t.Errorf("not yet stalled: %d, %v", len(c), err)
		}
		second := *u
		second.ID, second.QuoteID = "upg_2", "quo_2"
		if err := db.CreateUpgrade(ctx, &second); !errors.Is(err, tierup.ErrUpgradeInProgress) {
			t.Errorf("second active upgrade after migrating: %v", err)
		}
		a, err := db.Account(ctx, "acct_1")
		if err != nil || !a.CreatedAt.Equal(at) {
			t.Errorf("account created %v, %v; want %v", a.CreatedAt, err, at)
		}
		// Down and up again: the schema change reverts and reapplies.
		if _, err := migrations.DownTo(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if active, err := db.ActiveUpgrades(ctx); err != nil || len(active) != 1 {
			t.Errorf("active after down and up: %d, %v", len(active), err)
		}
		if db.Dialect() == sqlstore.SQLite {
			var text string
			if err := raw.QueryRowContext(ctx, `SELECT CAST(created_at AS TEXT) FROM accounts`).Scan(&text); err != nil ||
				text != "2026-03-01T12:30:15.500000Z" || strings.Contains(text, "UTC") {
				t.Errorf("stored time %q, %v", text, err)
			}
		}
	})
}
