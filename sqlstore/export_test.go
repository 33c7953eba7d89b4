package sqlstore

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// Internals for the external tests (which need internal/dbtest, which
// imports this package).

// Constraint names.
const (
	ConAccountEmail = conAccountEmail
	ConUpgradeQuote = conUpgradeQuote
	ConOneActive    = conOneActive
	ConRecord       = conRecord
)

// Violated is violated.
var Violated = violated

// SQLiteConstraint is sqliteConstraint.
var SQLiteConstraint = sqliteConstraint

// Exec runs a statement through the store's querier (its argument
// conversions included).
func Exec(ctx context.Context, db *DB, query string, args ...any) (int64, error) {
	return db.q.exec(ctx, query, args...)
}

// Migrations is the store's migration provider.
func Migrations(db *DB) (*goose.Provider, error) { return db.migrations() }

// StoredV0 is a version 0 upgrade document.
const StoredV0 = storedV0

// Reads is reads.
var Reads = reads

// ReaderExec runs a statement on SQLite's read pool (false when there is
// none).
func ReaderExec(ctx context.Context, db *DB, query string) (bool, error) {
	if db.reader == nil {
		return false, nil
	}
	_, err := db.reader.ExecContext(ctx, query)
	return true, err
}

// QueuedTx is how many transactions wait for SQLite's next group commit.
func QueuedTx(db *DB) int {
	if db.group == nil {
		return 0
	}
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	return len(db.group.queue)
}

// WriterPragma reads a pragma's value on SQLite's writer.
func WriterPragma(ctx context.Context, db *DB, name string) (int, error) {
	var v int
	err := db.sqldb.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// ReaderSnapshot opens a read transaction on SQLite's read pool, reads
// from it (which fixes its snapshot) and returns the function that ends it.
func ReaderSnapshot(ctx context.Context, db *DB) (func(), error) {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return func() { _ = tx.Rollback() }, nil
}

// SetSweepBatch sets how many rows a statement of DeleteExpired deletes.
func SetSweepBatch(db *DB, n int) { db.sweepBatch = n }
