package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func open(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db := dbtest.OpenStore(t, dsn)
	// Migrating twice is a no-op.
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 30, 15, 0, time.UTC)

		clock := &tierup.TestClock{ID: "clock_1", FrozenTime: at, CreatedAt: at}
		if err := db.CreateTestClock(ctx, clock); err != nil {
			t.Fatal(err)
		}
		paid := &tierup.Account{ID: "acct_paid", Email: "dev@example.com", Name: "Dev", TimeZone: "Asia/Tokyo", TestClockID: "clock_1",
			Subscription: tierup.Subscription{PlanID: "pro-1m", PeriodStart: at.Add(-48 * time.Hour), PeriodEnd: at.Add(29 * 24 * time.Hour)},
			Usage:        tierup.Usage{Functions: 3, CronJobs: 7, StorageMB: 6200}, CreatedAt: at}
		free := &tierup.Account{ID: "acct_free", Email: "free@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
		for _, a := range []*tierup.Account{paid, free} {
			if err := db.CreateAccount(ctx, a, tierup.HashToken("tok-"+a.ID)); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("accounts round-trip", func(t *testing.T) {
			for _, want := range []*tierup.Account{paid, free} {
				got, err := db.Account(ctx, want.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Email != want.Email || got.TimeZone != want.TimeZone || got.TestClockID != want.TestClockID ||
					got.Usage != want.Usage || got.Subscription.PlanID != want.Subscription.PlanID ||
					!got.Subscription.PeriodStart.Equal(want.Subscription.PeriodStart) ||
					!got.Subscription.PeriodEnd.Equal(want.Subscription.PeriodEnd) || !got.CreatedAt.Equal(want.CreatedAt) {
					t.Errorf("got %+v, want %+v", got, want)
				}
				byToken, err := db.AccountByTokenHash(ctx, tierup.HashToken("tok-"+want.ID))
				if err != nil || byToken.ID != want.ID {
					t.Errorf("by token: %v, %v", byToken, err)
				}
			}
			if n, err := db.CountAccounts(ctx); err != nil || n != 2 {
				t.Errorf("count = %d, %v", n, err)
			}
		})

		t.Run("errors", func(t *testing.T) {
			tests := []struct {
				name string
				err  error
				want error
			}{
				{"missing account", func() error { _, err := db.Account(ctx, "acct_none"); return err }(), tierup.ErrNotFound},
				{"unknown token", func() error { _, err := db.AccountByTokenHash(ctx, []byte("x")); return err }(), tierup.ErrNotFound},
				{"duplicate email", db.CreateAccount(ctx, &tierup.Account{ID: "acct_dup", Email: paid.Email, TimeZone: "UTC",
					Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}, []byte("other")), tierup.ErrEmailTaken},
				{"missing quote", func() error { _, err := db.Quote(ctx, "quo_none"); return err }(), tierup.ErrNotFound},
				{"missing clock", func() error { _, err := db.TestClock(ctx, "clock_none"); return err }(), tierup.ErrNotFound},
				{"advance missing clock", func() error { _, err := db.AdvanceTestClock(ctx, "clock_none", at); return err }(), tierup.ErrNotFound},
				{"clock backwards", func() error { _, err := db.AdvanceTestClock(ctx, "clock_1", at.Add(-time.Second)); return err }(), tierup.ErrClockNotForward},
				{"clock standing still", func() error { _, err := db.AdvanceTestClock(ctx, "clock_1", at); return err }(), tierup.ErrClockNotForward},
				{"token of missing account", db.SetAccountTokenHash(ctx, "acct_none", []byte("y")), tierup.ErrNotFound},
			}
			for _, tt := range tests {
				if !errors.Is(tt.err, tt.want) {
					t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
				}
			}
		})

		t.Run("token rotation", func(t *testing.T) {
			if err := db.SetAccountTokenHash(ctx, free.ID, tierup.HashToken("new")); err != nil {
				t.Fatal(err)
			}
			if _, err := db.AccountByTokenHash(ctx, tierup.HashToken("tok-"+free.ID)); !errors.Is(err, tierup.ErrNotFound) {
				t.Errorf("old token still works: %v", err)
			}
			if a, err := db.AccountByTokenHash(ctx, tierup.HashToken("new")); err != nil || a.ID != free.ID {
				t.Errorf("new token: %v", err)
			}
		})

		t.Run("test clock advances", func(t *testing.T) {
			c, err := db.AdvanceTestClock(ctx, "clock_1", at.Add(time.Hour))
			if err != nil || !c.FrozenTime.Equal(at.Add(time.Hour)) {
				t.Fatalf("advance: %v %v", c, err)
			}
		})

		t.Run("quotes round-trip, verify and stay immutable", func(t *testing.T) {
			cat := tierup.DefaultCatalog()
			from, _ := cat.Plan("pro-1m")
			to, _ := cat.Plan("pro-12m")
			q, err := cat.PriceUpgrade(tierup.QuoteInput{Now: at, Location: time.UTC, Current: paid.Subscription, From: from, To: to, Policy: tierup.PolicyCredit})
			if err != nil {
				t.Fatal(err)
			}
			key := []byte("key")
			q.Seal("quo_1", paid.ID, at.Add(30*time.Minute), key)
			if err := db.CreateQuote(ctx, q); err != nil {
				t.Fatal(err)
			}
			got, err := db.Quote(ctx, "quo_1")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Verify(key) {
				t.Fatal("a stored quote no longer verifies")
			}
			if got.AmountDue != q.AmountDue || got.Explanation != q.Explanation {
				t.Errorf("got %+v, want %+v", got, q)
			}
			if err := db.CreateQuote(ctx, q); err == nil {
				t.Error("a quote ID was stored twice")
			}
			raw := rawSQL(t, dsn)
			if _, err := raw.ExecContext(ctx, `UPDATE quotes SET amount_due = 1 WHERE id = 'quo_1'`); err == nil {
				t.Error("the database let a quote be changed")
			}
		})

		t.Run("secrets are created once, concurrently", func(t *testing.T) {
			var wg sync.WaitGroup
			created := make(chan []byte, 8)
			for i := range 8 {
				wg.Go(func() {
					v, ok, err := db.PutSecretIfAbsent(ctx, "k", []byte{byte(i)})
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						created <- v
					}
				})
			}
			wg.Wait()
			close(created)
			if len(created) != 1 {
				t.Fatalf("%d callers created the secret", len(created))
			}
			winner := <-created
			v, ok, err := db.PutSecretIfAbsent(ctx, "k", []byte("later"))
			if err != nil || ok || string(v) != string(winner) {
				t.Errorf("later put: %q %v %v", v, ok, err)
			}
		})
	})
}

func TestOpenRejectsUnknownDatabases(t *testing.T) {
	for _, dsn := range []string{"mysql://root:secret@localhost/db", "tierup.db", "sqlite:"} {
		_, err := sqlstore.Open(context.Background(), dsn)
		if err == nil {
			t.Errorf("%s: opened", dsn)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error leaks the password: %v", dsn, err)
		}
	}
}

// rawSQL opens the test database behind the store's back.
func rawSQL(t *testing.T, dsn string) *sql.DB {
	driver, name := "pgx", dsn
	if rest, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, name = "sqlite", rest
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
