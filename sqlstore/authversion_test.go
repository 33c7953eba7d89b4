package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
)

// TestAuthVersion: replacing a token or deleting a session raises the
// version, in the same transaction; deleting no session does not.
func TestAuthVersion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		a := &tierup.Account{ID: "acct_1", Email: "a@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
		if err := db.CreateAccount(ctx, a, tierup.HashToken("old")); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateSession(ctx, &tierup.Session{IDHash: tierup.HashToken("s"), AccountID: a.ID, CSRF: "c", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name string
			do   func() error
			want int64
		}{
			{"replace a token", func() error { return db.SetAccountTokenHash(ctx, a.ID, tierup.HashToken("new")) }, 1},
			{"replace an unknown account's token", func() error {
				if err := db.SetAccountTokenHash(ctx, "acct_none", tierup.HashToken("x")); err == nil {
					return fmt.Errorf("no error")
				}
				return nil
			}, 0},
			{"delete a session", func() error { return db.DeleteSession(ctx, tierup.HashToken("s")) }, 1},
			{"delete no session", func() error { return db.DeleteSession(ctx, tierup.HashToken("s")) }, 0},
			{"a token replaced in a rolled back transaction", func() error {
				_ = db.InTx(ctx, func(tx tierup.Store) error {
					if err := tx.SetAccountTokenHash(ctx, a.ID, tierup.HashToken("newer")); err != nil {
						return err
					}
					return fmt.Errorf("roll back")
				})
				return nil
			}, 0},
		}
		for _, s := range steps {
			before, err := db.AuthVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			after, err := db.AuthVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after-before != s.want {
				t.Errorf("%s: version moved by %d, want %d", s.name, after-before, s.want)
			}
		}
	})
}
