package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tierup/tierup"
)

// maxBatch bounds the transactions one SQLite commit carries, so that a
// caller that joins a long queue still commits soon.
const maxBatch = 32

// groupCommit commits SQLite's concurrent write transactions together.
// SQLite has one writer: callers of InTx take it in turn, and each commit
// writes its pages to the WAL one system call a frame. The first caller
// that finds no batch running leads: it begins one transaction and runs
// its own function and those of the callers queued behind it, each in a
// savepoint of its own (one that fails is rolled back alone), then commits
// once for all and hands the lead to the next caller waiting, if any. Each
// caller returns only after the commit that carries its work.
type groupCommit struct {
	mu      sync.Mutex
	running bool
	queue   []*txCall
	// merged counts the transactions committed inside another's commit:
	// a batch of n that commits adds n-1 (DB.Transactions).
	merged atomic.Int64
}

// txCall is one caller's transaction.
type txCall struct {
	fn    func(tx tierup.Store) error
	err   error
	panic any
	done  chan struct{} // closed when err (and panic) are set
	lead  chan struct{} // closed when this caller is to lead the next batch
}

// inTxGrouped is InTx on SQLite: fn runs in a transaction shared with the
// other callers of the moment (see groupCommit).
func (db *DB) inTxGrouped(ctx context.Context, fn func(tx tierup.Store) error) error {
	g := db.group
	c := &txCall{fn: fn, done: make(chan struct{}), lead: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	leader := !g.running
	g.running = true
	g.mu.Unlock()
	if !leader { // wait for a batch to carry c, or to lead one
		select {
		case <-c.done:
		case <-c.lead:
			leader = true
		}
	}
	if leader {
		db.lead(ctx)
		<-c.done
	}
	if c.panic != nil {
		panic(c.panic)
	}
	return c.err
}

// execGrouped runs one write statement outside a transaction as a grouped
// transaction of its own: concurrent single writes (a quote, a token's
// use) then share a commit, as InTx's callers do.
func (db *DB) execGrouped(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.inTxGrouped(ctx, func(tx tierup.Store) (err error) {
		n, err = tx.(*DB).q.exec(ctx, query, args...)
		return err
	})
	return n, err
}

// lead runs one batch: the callers queued now, up to maxBatch. Then the
// first caller still queued, if any, leads the next.
func (db *DB) lead(ctx context.Context) {
	g := db.group
	g.mu.Lock()
	n := min(len(g.queue), maxBatch)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	db.runBatch(ctx, batch)
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running = false
		g.mu.Unlock()
		return
	}
	next := g.queue[0]
	g.mu.Unlock()
	close(next.lead)
}

// runBatch runs the calls in one transaction and commits it.
func (db *DB) runBatch(ctx context.Context, batch []*txCall) {
	finish := func(c *txCall, err error) {
		c.err = err
		close(c.done)
	}
	// One caller's cancelled context must not end the others' transaction.
	tx, err := db.sqldb.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		for _, c := range batch {
			finish(c, mapErr(err))
		}
		return
	}
	if len(batch) == 1 { // alone: no savepoint, the transaction is its own
		c := batch[0]
		if err := call(c, db.in(batchQuerier{sqlQuerier{tx, SQLite}}, tx)); err != nil {
			_ = tx.Rollback()
			finish(c, err)
			return
		}
		finish(c, mapErr(tx.Commit()))
		return
	}
	var done []*txCall
	for i, c := range batch {
		sp := fmt.Sprintf("tx%d", i)
		if _, err := tx.Exec("SAVEPOINT " + sp); err != nil {
			db.abort(tx, append(done, batch[i:]...), err)
			return
		}
		err := call(c, db.in(batchQuerier{sqlQuerier{tx, SQLite}}, tx))
		if err != nil {
			// Undo this call's part only. SQLite may have ended the whole
			// transaction (an interrupted statement does): then nothing
			// of the batch is left to commit.
			if _, rerr := tx.Exec("ROLLBACK TO " + sp); rerr != nil {
				finish(c, err)
				db.abort(tx, append(done, batch[i+1:]...), rerr)
				return
			}
			finish(c, err)
		} else {
			done = append(done, c)
		}
		if _, err := tx.Exec("RELEASE " + sp); err != nil {
			db.abort(tx, append(done, batch[i+1:]...), err)
			return
		}
	}
	if len(done) == 0 { // every call failed: nothing to commit
		_ = tx.Rollback()
		return
	}
	err = mapErr(tx.Commit())
	if err == nil {
		db.group.merged.Add(int64(len(done) - 1))
	}
	for _, c := range done {
		finish(c, err)
	}
}

// batchQuerier runs the statements of a grouped transaction. A caller
// whose context is done fails at its next statement, but a statement under
// way is not interrupted: SQLite rolls the whole transaction back when it
// interrupts a write inside one, which would undo the other callers' work
// in the batch for one caller's cancel (a client gone). A statement
// without a context to watch also spares the driver a goroutine that
// watches it. Step commits already run without their job's cancel.
type batchQuerier struct{ sqlQuerier }

func (q batchQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, err := detached(ctx)
	if err != nil {
		return 0, err
	}
	return q.sqlQuerier.exec(ctx, query, args...)
}

func (q batchQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	ctx, err := detached(ctx)
	if err != nil {
		return errRow{err}
	}
	return q.sqlQuerier.queryRow(ctx, query, args...)
}

func (q batchQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	ctx, err := detached(ctx)
	if err != nil {
		return nil, err
	}
	return q.sqlQuerier.query(ctx, query, args...)
}

// detached is ctx without its cancel, for a statement in a group commit;
// ctx's error when it is done already.
func detached(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// errRow is a row that was never read: Scan reports why.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// abort rolls the batch's transaction back and fails the calls left.
func (db *DB) abort(tx *sql.Tx, calls []*txCall, cause error) {
	_ = tx.Rollback()
	err := fmt.Errorf("sqlite: the transaction was rolled back: %w", mapErr(cause))
	for _, c := range calls {
		c.err = err
		close(c.done)
	}
}

// call runs c's function, keeping a panic for its own goroutine.
func call(c *txCall, tx tierup.Store) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.panic = p
			err = errors.New("panicked")
		}
	}()
	return c.fn(tx)
}
