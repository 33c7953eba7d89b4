package sqlstore

import "context"

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

// MigrateTo applies the migrations up to version.
func MigrateTo(ctx context.Context, db *DB, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// StoredV0 is a version 0 upgrade document.
const StoredV0 = storedV0

// MigrateDownTo rolls the migrations back to version.
func MigrateDownTo(ctx context.Context, db *DB, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}
