package sqlstore

import (
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
