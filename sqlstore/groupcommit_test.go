package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

// TestGroupCommit: on SQLite, transactions that wait for the writer while
// another runs are committed together, each in a savepoint of its own: one
// that fails or panics is undone alone, the others are all committed, and
// every caller returns after the commit that carries its work.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := open(t, dbtest.SQLite(t))
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acct := func(id string) *tierup.Account {
		return &tierup.Account{ID: id, Email: id + "@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
	}
	errNo := errors.New("no")
	// How each of the callers queued behind the first one ends.
	const (
		commits = iota
		fails
		panics
	)
	callers := []int{commits, fails, commits, panics, commits}

	release, started := make(chan struct{}), make(chan struct{})
	before, txBefore := db.Commits(), db.Transactions()
	var wg sync.WaitGroup
	wg.Go(func() { // the first holds the writer until the others queue
		if err := db.InTx(ctx, func(tx tierup.Store) error {
			close(started)
			<-release
			return tx.CreateAccount(ctx, acct("first"), tierup.HashToken("first"))
		}); err != nil {
			t.Errorf("first: %v", err)
		}
	})
	<-started
	results := make([]any, len(callers))
	for i, how := range callers {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					results[i] = p
				}
			}()
			id := fmt.Sprintf("queued%d", i)
			results[i] = db.InTx(ctx, func(tx tierup.Store) error {
				if err := tx.CreateAccount(ctx, acct(id), tierup.HashToken(id)); err != nil {
					return err
				}
				switch how {
				case fails:
					return errNo
				case panics:
					panic("boom")
				}
				return nil
			})
		})
	}
	for sqlstore.QueuedTx(db) < len(callers) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	if got := db.Commits() - before; got != 2 {
		t.Errorf("%d commits for the first and the %d queued behind it, want 2", got, len(callers))
	}
	if got := db.Transactions() - txBefore; got != 4 {
		t.Errorf("%d transactions counted, want 4: the first and the three queued ones that commit", got)
	}
	for i, how := range callers {
		id := fmt.Sprintf("queued%d", i)
		_, err := db.Account(ctx, id)
		switch how {
		case commits:
			if results[i] != nil || err != nil {
				t.Errorf("%s: returned %v; stored: %v", id, results[i], err)
			}
		case fails:
			if e, ok := results[i].(error); !ok || !errors.Is(e, errNo) || !errors.Is(err, tierup.ErrNotFound) {
				t.Errorf("%s failed: returned %v, want its error; stored: %v, want not found", id, results[i], err)
			}
		case panics:
			if results[i] != "boom" || !errors.Is(err, tierup.ErrNotFound) {
				t.Errorf("%s panicked: recovered %v, want boom; stored: %v, want not found", id, results[i], err)
			}
		}
	}
	if _, err := db.Account(ctx, "first"); err != nil {
		t.Errorf("first: %v", err)
	}
}

// TestGroupCommitSingleWrites: on SQLite, writes made outside a
// transaction that wait for the writer join the group commit as
// transactions of their own: committed together, each one's result its
// own (a write that fails fails alone).
func TestGroupCommitSingleWrites(t *testing.T) {
	ctx := context.Background()
	db := open(t, dbtest.SQLite(t))
	for _, p := range []string{"p0", "p1", "p2"} {
		if err := db.Heartbeat(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	before, txBefore := db.Commits(), db.Transactions()
	var wg sync.WaitGroup
	release := holdWriter(t, db, &wg)
	// p0–p2 have a heartbeat to refresh, p3 has none: found false, alone.
	processes := []string{"p0", "p1", "p2", "p3"}
	found := make([]bool, len(processes))
	for i, p := range processes {
		wg.Go(func() {
			var err error
			if found[i], err = db.RefreshHeartbeat(ctx, p); err != nil {
				t.Errorf("refreshing %s: %v", p, err)
			}
		})
	}
	for sqlstore.QueuedTx(db) < len(processes) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if want := []bool{true, true, true, false}; fmt.Sprint(found) != fmt.Sprint(want) {
		t.Errorf("found %v, want %v", found, want)
	}
	// The holder's commit, then one for the four refreshes.
	if got := db.Commits() - before; got != 2 {
		t.Errorf("%d commits for the holder and the four writes, want 2", got)
	}
	if got := db.Transactions() - txBefore; got != 5 {
		t.Errorf("%d transactions counted, want 5", got)
	}
}

// TestGroupCommitCancelled: on SQLite, a caller whose context is cancelled
// while its statement runs does not take the batch down with it. SQLite
// rolls the whole transaction back when it interrupts a write inside one,
// so the statement under way is left to finish; the caller's next
// statement fails with the context's error, its part alone is undone, and
// the caller queued after it in the same batch commits. The same holds for
// statements an adapter runs on the transaction itself (the job queue's,
// with TxContext).
func TestGroupCommitCancelled(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// An insert of one row whose condition takes a while to compute, so
	// that the cancel comes while it runs.
	const slowInsert = `INSERT INTO records (scope, key, value, version, updated_at)
		SELECT 'test', $1, '', 1, $2 WHERE (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)
		SELECT count(*) FROM c) > 0`
	tests := []struct {
		name string
		exec func(ctx context.Context, tx tierup.Store, key string) error
	}{
		{"the store's statements", func(ctx context.Context, tx tierup.Store, key string) error {
			_, err := sqlstore.Exec(ctx, tx.(*sqlstore.DB), slowInsert, key, at)
			return err
		}},
		{"an adapter's on the transaction", func(ctx context.Context, tx tierup.Store, key string) error {
			ctx, err := sqlstore.TxContext(ctx, tx)
			if err != nil {
				return err
			}
			sqlTx, _ := sqlstore.SQLTx(tx)
			_, err = sqlTx.ExecContext(ctx, slowInsert, key, at.Format(time.RFC3339Nano))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t, dbtest.SQLite(t))
			kept := &tierup.Account{ID: "kept", Email: "kept@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: at}
			var wg sync.WaitGroup
			release := holdWriter(t, db, &wg)
			var duringErr, cancelledDuring, goneErr, keptErr error
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			wg.Go(func() {
				goneErr = db.InTx(cctx, func(tx tierup.Store) error {
					time.AfterFunc(20*time.Millisecond, cancel)
					duringErr = tt.exec(cctx, tx, "during")
					cancelledDuring = cctx.Err()
					if duringErr != nil {
						return duringErr
					}
					return tt.exec(cctx, tx, "after")
				})
			})
			for sqlstore.QueuedTx(db) < 1 {
				time.Sleep(time.Millisecond)
			}
			wg.Go(func() {
				keptErr = db.InTx(ctx, func(tx tierup.Store) error { return tx.CreateAccount(ctx, kept, tierup.HashToken("kept")) })
			})
			for sqlstore.QueuedTx(db) < 2 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()

			if cancelledDuring == nil {
				t.Fatal("the statement ended before the cancel: nothing was tested (make it slower)")
			}
			if duringErr != nil {
				t.Errorf("the statement under way at the cancel: %v, want it left to finish", duringErr)
			}
			if !errors.Is(goneErr, context.Canceled) {
				t.Errorf("the cancelled caller: %v, want its next statement to fail with context.Canceled", goneErr)
			}
			if keptErr != nil {
				t.Errorf("the caller after it in the batch: %v, want committed", keptErr)
			}
			if _, err := db.Account(ctx, "kept"); err != nil {
				t.Errorf("the account of the caller after it: %v", err)
			}
			recs, err := db.Records(ctx, "test")
			if err != nil || len(recs) != 0 {
				t.Errorf("the cancelled caller's rows: %d, %v; want none (its part undone)", len(recs), err)
			}
		})
	}
}

// holdWriter holds SQLite's writer in a transaction of wg's that commits
// nothing until release is closed, so that the callers started meanwhile
// queue for the next batch.
func holdWriter(t *testing.T, db *sqlstore.DB, wg *sync.WaitGroup) (release chan struct{}) {
	t.Helper()
	release, started := make(chan struct{}), make(chan struct{})
	wg.Go(func() {
		if err := db.InTx(context.Background(), func(tierup.Store) error {
			close(started)
			<-release
			return nil
		}); err != nil {
			t.Errorf("holding the writer: %v", err)
		}
	})
	<-started
	return release
}
