package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

func TestReadsClassification(t *testing.T) {
	tests := []struct {
		query string
		reads bool
	}{
		{"SELECT 1", true},
		{"\n\t  select id FROM accounts", true},
		{"(SELECT 1) UNION (SELECT 2)", true},
		{"INSERT INTO t VALUES (1) RETURNING id", false},
		{"UPDATE t SET a = 1", false},
		{"WITH x AS (SELECT 1) DELETE FROM t WHERE a IN (SELECT * FROM x)", false},
		{"SELEC", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := sqlstore.Reads(tt.query); got != tt.reads {
			t.Errorf("reads(%q) = %v, want %v", tt.query, got, tt.reads)
		}
	}
}

// TestReadPool: on SQLite, reads outside a transaction run on a pool of
// read-only connections beside the single writer, and see every write
// committed before they start, from any goroutine.
func TestReadPool(t *testing.T) {
	ctx := context.Background()
	db := open(t, dbtest.SQLite(t))
	ok, err := sqlstore.ReaderExec(ctx, db, `UPDATE auth_version SET version = version + 1`)
	if !ok || err == nil {
		t.Fatalf("a write on the read pool: pool %v, err %v; want it refused", ok, err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				id := fmt.Sprintf("acct_%d_%d", g, i)
				a := &tierup.Account{ID: id, Email: id + "@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
				if err := db.CreateAccount(ctx, a, tierup.HashToken(id)); err != nil {
					t.Error(err)
					return
				}
				if got, err := db.AccountByTokenHash(ctx, tierup.HashToken(id)); err != nil || got.ID != id {
					t.Errorf("reading %s right after its commit: %+v, %v", id, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := db.CountAccounts(ctx); err != nil || n != 100 {
		t.Errorf("%d accounts, %v; want 100", n, err)
	}
}

// TestCommits: SQLite counts its write transactions, the job queue's
// included; reads are none.
func TestCommits(t *testing.T) {
	ctx := context.Background()
	db := open(t, dbtest.SQLite(t))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acct := func(id string) *tierup.Account {
		return &tierup.Account{ID: id, Email: id + "@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
	}
	steps := []struct {
		name string
		do   func() error
		want int64
	}{
		{"a write", func() error { return db.CreateAccount(ctx, acct("a1"), tierup.HashToken("a1")) }, 1},
		{"a read", func() error { _, err := db.Account(ctx, "a1"); return err }, 0},
		{"a transaction of two writes", func() error {
			return db.InTx(ctx, func(tx tierup.Store) error {
				if err := tx.CreateAccount(ctx, acct("a2"), tierup.HashToken("a2")); err != nil {
					return err
				}
				return tx.CreateAccount(ctx, acct("a3"), tierup.HashToken("a3"))
			})
		}, 1},
		{"a rolled back transaction", func() error {
			_ = db.InTx(ctx, func(tx tierup.Store) error {
				_ = tx.CreateAccount(ctx, acct("a4"), tierup.HashToken("a4"))
				return fmt.Errorf("roll back")
			})
			return nil
		}, 0},
	}
	for _, s := range steps {
		before := db.Commits()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := db.Commits() - before; got != s.want {
			t.Errorf("%s: %d commits, want %d", s.name, got, s.want)
		}
	}
}

// TestPostgresPoolSize: without pool_max_conns in the URL the pool holds
// up to DefaultMaxConns connections; the URL's own setting wins.
func TestPostgresPoolSize(t *testing.T) {
	dsn := dbtest.Postgres(t)
	tests := []struct {
		name, dsn string
		want      int32
	}{
		{"the default", dsn, sqlstore.DefaultMaxConns},
		{"the URL's", dsn + "&pool_max_conns=3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlstore.Open(context.Background(), tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.Pool().Config().MaxConns; got != tt.want {
				t.Errorf("MaxConns = %d, want %d", got, tt.want)
			}
		})
	}
}
