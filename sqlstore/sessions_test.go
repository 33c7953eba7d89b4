package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

// expiringFixture stores an account, a quote, a card and an upgrade, which an
// idempotency key refers to.
func expiringFixture(t *testing.T, db *sqlstore.DB, at time.Time) *tierup.Upgrade {
	t.Helper()
	ctx := context.Background()
	acct := &tierup.Account{ID: "acct_1", Email: "a@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
	if err := db.CreateAccount(ctx, acct, tierup.HashToken("tok")); err != nil {
		t.Fatal(err)
	}
	q := &tierup.Quote{ID: "quo_1", AccountID: acct.ID, FromPlan: "hobby", ToPlan: "pro-1m", Policy: tierup.PolicyCarryover, Now: at,
		AmountDue: tierup.Money{Amount: 2900, Currency: "USD"}, ExpiresAt: at.Add(time.Hour), Signature: "s"}
	pm := &tierup.PaymentMethod{ID: "pm_1", AccountID: acct.ID, Brand: tierup.BrandVisa, Last4: "4242", ExpMonth: 12, ExpYear: 2034, GatewayRef: "ref", CreatedAt: at}
	u := tierup.NewUpgrade("upg_1", q, pm, tierup.TermsAcceptance{Version: "v", AcceptedAt: at}, at)
	// The card in the columns version 2 had, because migration tests store
	// the fixture at that version.
	_, pmErr := sqlstore.Exec(ctx, db, `INSERT INTO payment_methods (id, account_id, brand, last4, exp_month, exp_year, fingerprint, gateway_ref, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, '', $7, $8)`, pm.ID, pm.AccountID, pm.Brand, pm.Last4, pm.ExpMonth, pm.ExpYear, pm.GatewayRef, pm.CreatedAt)
	for _, err := range []error{db.CreateQuote(ctx, q), pmErr, db.CreateUpgrade(ctx, u)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestExpiringRows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		u := expiringFixture(t, db, at)

		t.Run("sessions", func(t *testing.T) {
			s := &tierup.Session{IDHash: tierup.HashToken("sid"), AccountID: u.AccountID, CSRF: "csrf", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateSession(ctx, s); !errors.Is(err, tierup.ErrConflict) {
				t.Errorf("second create: %v", err)
			}
			got, err := db.Session(ctx, s.IDHash)
			if err != nil || got.AccountID != s.AccountID || got.CSRF != s.CSRF || !got.ExpiresAt.Equal(s.ExpiresAt) || !got.CreatedAt.Equal(at) {
				t.Fatalf("got %+v, %v", got, err)
			}
			for range 2 { // deleting twice is no error
				if err := db.DeleteSession(ctx, s.IDHash); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Session(ctx, s.IDHash); !errors.Is(err, tierup.ErrNotFound) {
				t.Errorf("after delete: %v", err)
			}
		})

		t.Run("login links work once, until they expire", func(t *testing.T) {
			tests := []struct {
				name    string
				expires time.Time
				useAt   time.Time
				ok      bool
			}{
				{"before expiry", at.Add(time.Hour), at.Add(time.Minute), true},
				{"at expiry", at.Add(time.Hour), at.Add(time.Hour), false},
				{"after expiry", at.Add(time.Hour), at.Add(2 * time.Hour), false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					h := tierup.HashToken(tt.name)
					if err := db.CreateLoginLink(ctx, &tierup.LoginLink{TokenHash: h, AccountID: u.AccountID, CreatedAt: at, ExpiresAt: tt.expires}); err != nil {
						t.Fatal(err)
					}
					l, err := db.UseLoginLink(ctx, h, tt.useAt)
					if !tt.ok {
						if !errors.Is(err, tierup.ErrNotFound) {
							t.Errorf("used: %+v, %v", l, err)
						}
						return
					}
					if err != nil || l.AccountID != u.AccountID || !l.UsedAt.Equal(tt.useAt) {
						t.Fatalf("got %+v, %v", l, err)
					}
					if _, err := db.UseLoginLink(ctx, h, tt.useAt); !errors.Is(err, tierup.ErrNotFound) {
						t.Errorf("second use: %v", err)
					}
				})
			}
		})

		t.Run("simultaneous uses of a login link: one wins", func(t *testing.T) {
			h := tierup.HashToken("race")
			if err := db.CreateLoginLink(ctx, &tierup.LoginLink{TokenHash: h, AccountID: u.AccountID, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			results := make(chan error, 8)
			for range 8 {
				wg.Go(func() {
					_, err := db.UseLoginLink(ctx, h, at.Add(time.Minute))
					results <- err
				})
			}
			wg.Wait()
			close(results)
			wins := 0
			for err := range results {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, tierup.ErrNotFound):
					t.Error(err)
				}
			}
			if wins != 1 {
				t.Errorf("%d uses succeeded, want 1", wins)
			}
		})

		t.Run("idempotency keys", func(t *testing.T) {
			k := &tierup.IdempotencyKey{AccountID: u.AccountID, Key: "order-1", BodyHash: "h1", UpgradeID: u.ID, Upgrade: u,
				CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
			if err := db.CreateIdempotencyKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			got, err := db.IdempotencyKey(ctx, k.AccountID, k.Key, at.Add(time.Hour))
			if err != nil || got.BodyHash != "h1" || got.UpgradeID != u.ID || got.Upgrade == nil || got.Upgrade.ID != u.ID || got.Upgrade.Status != u.Status || len(got.Upgrade.Steps) != len(u.Steps) || !got.ExpiresAt.Equal(k.ExpiresAt) {
				t.Fatalf("got %+v, %v", got, err)
			}
			again := *k
			again.BodyHash, again.CreatedAt = "h2", at.Add(23*time.Hour)
			if err := db.CreateIdempotencyKey(ctx, &again); !errors.Is(err, tierup.ErrConflict) {
				t.Errorf("a live key was replaced: %v", err)
			}
			if _, err := db.IdempotencyKey(ctx, k.AccountID, k.Key, k.ExpiresAt); !errors.Is(err, tierup.ErrNotFound) {
				t.Errorf("an expired key was returned: %v", err)
			}
			// Once expired, the key is free again even before a sweep.
			again.CreatedAt, again.ExpiresAt = k.ExpiresAt, k.ExpiresAt.Add(24*time.Hour)
			if err := db.CreateIdempotencyKey(ctx, &again); err != nil {
				t.Fatalf("an expired key was not replaced: %v", err)
			}
			if got, err := db.IdempotencyKey(ctx, k.AccountID, k.Key, again.CreatedAt); err != nil || got.BodyHash != "h2" {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	})
}

func TestDeleteExpired(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		u := expiringFixture(t, db, at)
		now := at.Add(10 * time.Hour)
		// One row of each kind expires before now, one just after.
		for i, exp := range []time.Time{now.Add(-time.Second), now.Add(time.Second)} {
			name := []string{"gone", "kept"}[i]
			for _, err := range []error{
				db.CreateSession(ctx, &tierup.Session{IDHash: tierup.HashToken("s-" + name), AccountID: u.AccountID, CSRF: "c", CreatedAt: at, ExpiresAt: exp}),
				db.CreateLoginLink(ctx, &tierup.LoginLink{TokenHash: tierup.HashToken("l-" + name), AccountID: u.AccountID, CreatedAt: at, ExpiresAt: exp}),
				db.CreateIdempotencyKey(ctx, &tierup.IdempotencyKey{AccountID: u.AccountID, Key: name, BodyHash: "h", UpgradeID: u.ID, Upgrade: u, CreatedAt: at, ExpiresAt: exp}),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		// Webhook events are kept WebhookEventRetention after they arrived.
		for _, ev := range []struct {
			id string
			at time.Time
		}{{"evt_gone", now.Add(-tierup.WebhookEventRetention - time.Second)}, {"evt_kept", now.Add(-tierup.WebhookEventRetention)}} {
			if _, err := db.RecordWebhookEvent(ctx, "stripe", ev.id, ev.at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.DeleteExpired(ctx, now, tierup.Retention{})
		if err != nil || got != (tierup.Swept{Sessions: 1, LoginLinks: 1, IdempotencyKeys: 1, WebhookEvents: 1}) {
			t.Fatalf("swept %+v, %v", got, err)
		}
		for id, wantNew := range map[string]bool{"evt_gone": true, "evt_kept": false} {
			if isNew, err := db.RecordWebhookEvent(ctx, "stripe", id, now); err != nil || isNew != wantNew {
				t.Errorf("%s after the sweep: new %v, %v; want new %v", id, isNew, err, wantNew)
			}
		}
		if _, err := db.Session(ctx, tierup.HashToken("s-gone")); !errors.Is(err, tierup.ErrNotFound) {
			t.Errorf("expired session: %v", err)
		}
		if _, err := db.Session(ctx, tierup.HashToken("s-kept")); err != nil {
			t.Errorf("live session: %v", err)
		}
		if _, err := db.UseLoginLink(ctx, tierup.HashToken("l-kept"), now); err != nil {
			t.Errorf("live link: %v", err)
		}
		if _, err := db.IdempotencyKey(ctx, u.AccountID, "kept", now); err != nil {
			t.Errorf("live key: %v", err)
		}
		if got, err := db.DeleteExpired(ctx, now, tierup.Retention{}); err != nil || got != (tierup.Swept{}) {
			t.Errorf("second sweep: %+v, %v", got, err)
		}
	})
}

// TestMigrationMovesIdempotencyKeys writes the records that version 2 kept
// and checks that migrating on moves the idempotency keys and drops the
// sessions and login links.
func TestMigrationMovesIdempotencyKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		p, err := sqlstore.Migrations(db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		written := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		u := expiringFixture(t, db, written)
		// The record as it was written then: the API's JSON of the upgrade.
		var steps []map[string]any
		for _, st := range u.Steps {
			steps = append(steps, map[string]any{"name": st.Name, "status": st.Status, "attempts": st.Attempts})
		}
		first, _ := json.Marshal(map[string]any{"body_hash": "h1", "upgrade": map[string]any{"id": u.ID, "account": u.AccountID,
			"quote": u.QuoteID, "status": u.Status, "current_step": u.CurrentStep, "steps": steps, "workloads": []any{}}})
		for _, r := range []struct{ scope, key, value string }{
			{"idempotency:" + u.AccountID, "order-1", string(first)},
			{"web:session", "ab", `{"account":"acct_1","csrf":"c","expires":"2026-03-08T12:00:00Z"}`},
			{"web:login", "cd", `{"account":"acct_1","expires":"2026-03-02T12:00:00Z"}`},
			{"sim:account", "acct_1", `{"workloads":[]}`},
		} {
			if _, err := sqlstore.Exec(ctx, db, `INSERT INTO records (scope, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)`,
				r.scope, r.key, r.value, written); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		k, err := db.IdempotencyKey(ctx, u.AccountID, "order-1", written.Add(23*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// The response moved as the API's JSON of before is read as the
		// version-0 document it was part of.
		if k.Upgrade == nil || k.Upgrade.ID != u.ID || k.Upgrade.Status != u.Status || len(k.Upgrade.Steps) != len(u.Steps) ||
			k.UpgradeID != u.ID || k.BodyHash != "h1" || !k.CreatedAt.Equal(written) || !k.ExpiresAt.Equal(written.Add(24*time.Hour)) {
			t.Errorf("moved key %+v (%+v)", k, k.Upgrade)
		}
		if got, err := db.DeleteExpired(ctx, written.Add(24*time.Hour+time.Second), tierup.Retention{}); err != nil || got.IdempotencyKeys != 1 {
			t.Errorf("the moved key does not expire by its time: %+v, %v", got, err)
		}
		for _, scope := range []string{"idempotency:" + u.AccountID, "web:session", "web:login"} {
			if recs, err := db.Records(ctx, scope); err != nil || len(recs) != 0 {
				t.Errorf("%s: %d records left, %v", scope, len(recs), err)
			}
		}
		if recs, err := db.Records(ctx, "sim:account"); err != nil || len(recs) != 1 {
			t.Errorf("other records: %d, %v", len(recs), err)
		}
	})
}

// TestDeleteExpiredInBatches: a backlog larger than a sweep's statement
// takes is swept whole, a batch at a time, and nothing live goes with it.
func TestDeleteExpiredInBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		sqlstore.SetSweepBatch(db, 3)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		u := expiringFixture(t, db, at)
		now := at.Add(10 * time.Hour)
		const expired = 7 // two full batches and a short one
		for i := range expired + 1 {
			exp := now.Add(-time.Duration(i+1) * time.Second)
			if i == expired {
				exp = now.Add(time.Second)
			}
			if err := db.CreateSession(ctx, &tierup.Session{IDHash: tierup.HashToken(fmt.Sprint("s-", i)), AccountID: u.AccountID,
				CSRF: "c", CreatedAt: at, ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := db.DeleteExpired(ctx, now, tierup.Retention{}); err != nil || got != (tierup.Swept{Sessions: expired}) {
			t.Fatalf("swept %+v, %v; want %d sessions", got, err, expired)
		}
		if _, err := db.Session(ctx, tierup.HashToken(fmt.Sprint("s-", expired))); err != nil {
			t.Errorf("the live session: %v", err)
		}
		if got, err := db.DeleteExpired(ctx, now, tierup.Retention{}); err != nil || got != (tierup.Swept{}) {
			t.Errorf("second sweep: %+v, %v", got, err)
		}
	})
}
