package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pressly/goose/v3"
)

// storeShapesFile is migration 00003's schema change, in each dialect's
// folder. Goose skips the file: storeShapesMigration runs it, because what
// follows it needs Go.
const storeShapesFile = "00003_store_shapes.sql"

// storeShapesMigration is migration 00003, in one transaction: the schema
// change of storeShapesFile; on SQLite, every stored time rewritten in
// timeLayout (the driver wrote time.Time.String() before, which does not
// sort); then the upgrades' derived columns backfilled by the code that
// writes them on every change, so their rules stay written once.
func storeShapesMigration(d Dialect, fsys fs.FS) (*goose.Migration, error) {
	b, err := fs.ReadFile(fsys, storeShapesFile)
	if err != nil {
		return nil, err
	}
	up, down, ok := strings.Cut(string(b), "-- +goose Down")
	if !ok {
		return nil, fmt.Errorf("%s: no -- +goose Down", storeShapesFile)
	}
	return goose.NewGoMigration(3,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, up); err != nil {
				return fmt.Errorf("%s: %w", storeShapesFile, err)
			}
			q := sqlQuerier{tx, d}
			if d == SQLite {
				if err := rewriteSQLiteTimes(ctx, q); err != nil {
					return err
				}
			}
			return backfillDerived(ctx, q)
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, down)
			return err
		}},
	), nil
}

// rewriteSQLiteTimes stores every value of every TIMESTAMP column of the
// store's tables (not River's) in timeLayout. The driver reads the old text
// back into time.Time; the querier writes it in the new form. Triggers are
// lifted meanwhile: the same instants are written (quotes stay immutable).
func rewriteSQLiteTimes(ctx context.Context, q sqlQuerier) error {
	triggers, err := collect(ctx, q, func(r rows) ([2]string, error) {
		var t [2]string
		return t, r.Scan(&t[0], &t[1])
	}, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name NOT LIKE 'river%'`)
	if err != nil {
		return err
	}
	for _, tr := range triggers {
		if _, err := q.exec(ctx, `DROP TRIGGER `+quoteIdent(tr[0])); err != nil {
			return err
		}
	}
	if err := rewriteTimeColumns(ctx, q); err != nil {
		return err
	}
	for _, tr := range triggers {
		if _, err := q.exec(ctx, tr[1]); err != nil {
			return fmt.Errorf("trigger %s: %w", tr[0], err)
		}
	}
	return nil
}

func rewriteTimeColumns(ctx context.Context, q sqlQuerier) error {
	cols, err := collect(ctx, q, func(r rows) ([2]string, error) {
		var c [2]string
		return c, r.Scan(&c[0], &c[1])
	}, `SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE 'river%' AND m.name <> 'goose_db_version'
		AND upper(c.type) = 'TIMESTAMP' ORDER BY m.name, c.cid`)
	if err != nil {
		return err
	}
	type value struct {
		rowid int64
		t     sql.NullTime
	}
	for _, c := range cols {
		table, col := quoteIdent(c[0]), quoteIdent(c[1])
		vals, err := collect(ctx, q, func(r rows) (value, error) {
			var v value
			return v, r.Scan(&v.rowid, &v.t)
		}, `SELECT rowid, `+col+` FROM `+table+` WHERE `+col+` IS NOT NULL`)
		if err != nil {
			return fmt.Errorf("times of %s.%s: %w", c[0], c[1], err)
		}
		for _, v := range vals {
			if _, err := q.exec(ctx, `UPDATE `+table+` SET `+col+` = $1 WHERE rowid = $2`, v.t.Time, v.rowid); err != nil {
				return err
			}
		}
	}
	return nil
}

// backfillDerived writes the derived columns of every upgrade.
func backfillDerived(ctx context.Context, q querier) error {
	type stored struct{ id, state string }
	ups, err := collect(ctx, q, func(r rows) (stored, error) {
		var s stored
		return s, r.Scan(&s.id, &s.state)
	}, `SELECT id, state FROM upgrades`)
	if err != nil {
		return err
	}
	for _, s := range ups {
		u, err := decodeUpgrade(s.state)
		if err != nil {
			return fmt.Errorf("upgrade %s: %w", s.id, err)
		}
		d := derive(u)
		if _, err := q.exec(ctx, `UPDATE upgrades SET active = $2, moving = $3, running_worker = $4, due_at = $5 WHERE id = $1`,
			s.id, d.active, d.moving, d.runningWorker, d.dueAt); err != nil {
			return fmt.Errorf("upgrade %s: %w", s.id, err)
		}
	}
	return nil
}

// collect reads every row of a query with scan; the rows are closed before
// it returns, so the caller may write (SQLite's one connection).
func collect[T any](ctx context.Context, q querier, scan func(rows) (T, error), query string, args ...any) ([]T, error) {
	rs, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
