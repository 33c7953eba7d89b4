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

func TestCreditLedger(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		f := fixture{t, db, at}
		for _, id := range []string{"upg_1", "upg_2"} {
			if _, err := f.upgrade(id, map[string]string{"upg_1": "", "upg_2": "acct_upg_1"}[id], func(u *tierup.Upgrade) {
				u.Status = tierup.UpgradeCompleted // two upgrades of one account: neither holds the slot
			}); err != nil {
				t.Fatal(err)
			}
		}
		usd := func(n int64) tierup.Money { return tierup.Money{Amount: n, Currency: "USD"} }
		entry := func(id, upgrade string, k tierup.CreditKind, m tierup.Money, after time.Duration) *tierup.CreditEntry {
			return &tierup.CreditEntry{ID: id, AccountID: "acct_upg_1", Kind: k, Amount: m, UpgradeID: upgrade, QuoteID: "quo_" + upgrade,
				CreatedAt: at.Add(after)}
		}
		steps := []struct {
			name  string
			entry *tierup.CreditEntry
			added bool
		}{
			{"granted", entry("cred_1", "upg_1", tierup.CreditGranted, usd(1441), 0), true},
			{"granted again: the same upgrade and kind", entry("cred_2", "upg_1", tierup.CreditGranted, usd(1441), time.Second), false},
			{"applied by the next upgrade", entry("cred_3", "upg_2", tierup.CreditApplied, usd(-1000), time.Minute), true},
			{"returned by its cancel", entry("cred_4", "upg_2", tierup.CreditReturned, usd(1000), time.Hour), true},
		}
		for _, s := range steps {
			added, err := db.AddCreditEntry(ctx, s.entry)
			if err != nil || added != s.added {
				t.Fatalf("%s: added = %v, %v; want %v", s.name, added, err, s.added)
			}
		}
		got, err := db.CreditEntries(ctx, "acct_upg_1")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if want := "cred_4 cred_3 cred_1"; strings.Join(ids, " ") != want {
			t.Errorf("entries %s, want newest first: %s", strings.Join(ids, " "), want)
		}
		if want := *entry("cred_1", "upg_1", tierup.CreditGranted, usd(1441), 0); got[2] != want {
			t.Errorf("read back %+v, want %+v", got[2], want)
		}
		if b := tierup.CreditBalance(got, "USD"); b != usd(1441) {
			t.Errorf("balance %v, want $14.41", b)
		}

		// A quote's one read: the balance in its currency, and the upgrade
		// under way (none: both are completed; then a third that is not).
		basis := func(c tierup.Currency) *tierup.QuoteBasis {
			t.Helper()
			b, err := db.QuoteBasis(ctx, "acct_upg_1", c)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		for _, tt := range []struct {
			currency tierup.Currency
			want     tierup.Money
		}{{"USD", usd(1441)}, {"EUR", tierup.Money{Currency: "EUR"}}} {
			if b := basis(tt.currency); b.Credit != tt.want || b.ActiveUpgrade != "" || b.ActiveStatus != "" || b.Account.ID != "acct_upg_1" {
				t.Errorf("quote basis in %s: credit %v, active %q %q, account %s; want %v and none active", tt.currency,
					b.Credit, b.ActiveUpgrade, b.ActiveStatus, b.Account.ID, tt.want)
			}
		}
		if _, err := f.upgrade("upg_3", "acct_upg_1", func(u *tierup.Upgrade) { u.Status = tierup.UpgradePaused }); err != nil {
			t.Fatal(err)
		}
		if b := basis("USD"); b.ActiveUpgrade != "upg_3" || b.ActiveStatus != tierup.UpgradePaused || b.Credit != usd(1441) {
			t.Errorf("quote basis with upg_3 paused: active %q %q, credit %v", b.ActiveUpgrade, b.ActiveStatus, b.Credit)
		}
		if _, err := db.QuoteBasis(ctx, "acct_nobody", "USD"); !errors.Is(err, tierup.ErrNotFound) {
			t.Errorf("quote basis of a missing account: %v, want ErrNotFound", err)
		}

		// The database keeps the ledger append-only and the signs right.
		for name, stmt := range map[string]string{
			"update":        `UPDATE credit_entries SET amount = 1 WHERE id = 'cred_1'`,
			"delete":        `DELETE FROM credit_entries WHERE id = 'cred_1'`,
			"negative":      `INSERT INTO credit_entries (id, account_id, kind, amount, currency, upgrade_id, quote_id, created_at) VALUES ('x', 'acct_upg_1', 'granted', -5, 'USD', 'upg_2', 'quo_upg_2', '2026-03-01T12:00:00.000000Z')`,
			"positive take": `INSERT INTO credit_entries (id, account_id, kind, amount, currency, upgrade_id, quote_id, created_at) VALUES ('x', 'acct_upg_1', 'revoked', 5, 'USD', 'upg_2', 'quo_upg_2', '2026-03-01T12:00:00.000000Z')`,
			"unknown kind":  `INSERT INTO credit_entries (id, account_id, kind, amount, currency, upgrade_id, quote_id, created_at) VALUES ('x', 'acct_upg_1', 'gift', 5, 'USD', 'upg_2', 'quo_upg_2', '2026-03-01T12:00:00.000000Z')`,
		} {
			if _, err := sqlstore.Exec(ctx, db, stmt); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if n, _ := db.CreditEntries(ctx, "acct_upg_1"); len(n) != 3 {
			t.Errorf("%d entries after the refused statements, want 3", len(n))
		}
	})
}

func TestSubscriptionValue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		paid := tierup.Subscription{PlanID: "pro-1m", PeriodStart: at, PeriodEnd: at.AddDate(0, 1, 0), Value: tierup.Money{Amount: 2900, Currency: "USD"}}
		a := &tierup.Account{ID: "acct_1", Email: "a@example.com", TimeZone: "UTC", Subscription: paid, CreatedAt: at}
		if err := db.CreateAccount(ctx, a, tierup.HashToken("t")); err != nil {
			t.Fatal(err)
		}
		for _, s := range []tierup.Subscription{
			paid,
			{PlanID: "team-1m", PeriodStart: at, PeriodEnd: at.AddDate(0, 1, 0), Value: tierup.Money{Amount: 9900, Currency: "USD"}},
			{PlanID: "hobby"}, // no value
		} {
			if err := db.SetSubscription(ctx, "acct_1", s); err != nil {
				t.Fatal(err)
			}
			got, err := db.Account(ctx, "acct_1")
			if err != nil {
				t.Fatal(err)
			}
			if got.Subscription != s {
				t.Errorf("subscription %+v, want %+v", got.Subscription, s)
			}
		}
	})
}
