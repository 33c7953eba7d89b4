package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tierup/tierup"
)

// TestStmtCache: a statement run from a connection's cache gives what it
// gives compiled afresh — with other arguments, while its own rows are
// still open (nested, in one transaction), and after the schema changed.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`CREATE TABLE t (n INTEGER NOT NULL)`, `INSERT INTO t (n) VALUES (1), (2), (3)`} {
		if _, err := db.q.exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	const byN = `SELECT n FROM t WHERE n = $1`
	for range 3 { // from the cache after the first
		for _, n := range []int{1, 2, 3} {
			var got int
			if err := db.q.queryRow(ctx, byN, n).Scan(&got); err != nil || got != n {
				t.Fatalf("n = %d: got %d, %v", n, got, err)
			}
		}
	}
	const all = `SELECT n FROM t ORDER BY n`
	err = db.InTx(ctx, func(tx tierup.Store) error {
		q := tx.(*DB).q
		outer, err := q.query(ctx, all)
		if err != nil {
			return err
		}
		defer outer.Close()
		var seen []int
		for outer.Next() {
			var n int
			if err := outer.Scan(&n); err != nil {
				return err
			}
			seen = append(seen, n)
			// The same statement while its rows are open: compiled apart.
			inner, err := q.query(ctx, all)
			if err != nil {
				return err
			}
			count := 0
			for inner.Next() {
				count++
			}
			inner.Close()
			if count != 3 {
				t.Errorf("nested run: %d rows, want 3", count)
			}
		}
		if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
			t.Errorf("outer run: %v, want [1 2 3]", seen)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	const star = `SELECT * FROM t LIMIT 1`
	cols := func() int {
		r, err := db.sqldb.QueryContext(ctx, star)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		c, _ := r.Columns()
		return len(c)
	}
	if n := cols(); n != 1 {
		t.Fatalf("%d columns, want 1", n)
	}
	if _, err := db.q.exec(ctx, `ALTER TABLE t ADD COLUMN m INTEGER`); err != nil {
		t.Fatal(err)
	}
	if n := cols(); n != 2 {
		t.Errorf("after ALTER TABLE, the cached statement gives %d columns, want 2", n)
	}
}
