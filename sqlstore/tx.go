package sqlstore

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/tierup/tierup"
)

// PgxTx returns the PostgreSQL transaction of a store given by InTx, for
// adapters that must join it (the job queue).
func PgxTx(s tierup.Store) (pgx.Tx, bool) {
	db, ok := s.(*DB)
	if !ok {
		return nil, false
	}
	tx, ok := db.tx.(pgx.Tx)
	return tx, ok
}

// TxContext is the context for statements that an adapter runs on the
// transaction of a store given by InTx (the job queue's): on SQLite, ctx
// without its cancel, or ctx's error when it is done already, as for the
// store's own statements in a group commit (see batchQuerier); ctx itself
// otherwise.
func TxContext(ctx context.Context, s tierup.Store) (context.Context, error) {
	if _, ok := SQLTx(s); ok {
		return detached(ctx)
	}
	return ctx, nil
}

// SQLTx returns the SQLite transaction of a store given by InTx, for
// adapters that must join it (the job queue).
func SQLTx(s tierup.Store) (*sql.Tx, bool) {
	db, ok := s.(*DB)
	if !ok {
		return nil, false
	}
	tx, ok := db.tx.(*sql.Tx)
	return tx, ok
}
