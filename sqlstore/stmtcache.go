package sqlstore

import (
	"context"
	"database/sql/driver"
	"reflect"
)

// SQLite compiles each statement it runs: without a cache, parsing and
// planning the store's and the job queue's few dozen statements again and
// again is most of what a read costs. stmtConn keeps each connection's
// compiled statements by their text, as PostgreSQL's driver does for its
// own. (database/sql's *Stmt cannot serve: it needs a free connection to
// prepare on, and SQLite's writer is held by the transaction that wants
// the statement.)

// maxCachedStmts bounds a connection's cache; statements past it are
// compiled each time, as without one.
const maxCachedStmts = 256

// conn is what modernc's connections offer database/sql.
type conn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool // its rows are open: a second use meanwhile compiles its own
}

// stmtConn is a connection that runs statements from its cache.
// database/sql uses a connection from one goroutine at a time, rows
// included, so the cache needs no lock.
type stmtConn struct {
	conn
	stmts map[string]*cachedStmt
}

// withStmtCache wraps c when it offers what stmtConn forwards.
func withStmtCache(c driver.Conn) driver.Conn {
	if cc, ok := c.(conn); ok {
		return &stmtConn{conn: cc, stmts: map[string]*cachedStmt{}}
	}
	return c
}

// stmt returns the cached statement for query, compiling it on first use;
// nil when it is in use or the cache is full (the caller runs the query
// uncached).
func (c *stmtConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	ds, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		_ = ds.Close()
		return nil, nil
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.conn.ExecContext(ctx, query, args)
	}
	s.busy = true
	defer func() { s.busy = false }()
	return s.stmt.ExecContext(ctx, args)
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.conn.QueryContext(ctx, query, args)
	}
	s.busy = true
	r, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		s.busy = false
		return nil, err
	}
	dr, ok := r.(driverRows)
	if !ok { // not modernc's: run it as it comes
		_ = r.Close()
		s.busy = false
		return c.conn.QueryContext(ctx, query, args)
	}
	return &cachedRows{rows: dr, s: s}, nil
}

// Close closes the cached statements, then the connection.
func (c *stmtConn) Close() error {
	for _, s := range c.stmts {
		_ = s.stmt.Close()
	}
	c.stmts = nil
	return c.conn.Close()
}

// driverRows is what modernc's rows offer database/sql.
type driverRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows frees its statement for the next use when closed.
type cachedRows struct {
	rows driverRows
	s    *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.rows.Close() // resets the statement for its next use
	r.s.busy = false
	return err
}

func (r *cachedRows) Columns() []string              { return r.rows.Columns() }
func (r *cachedRows) Next(dest []driver.Value) error { return r.rows.Next(dest) }
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.rows.ColumnTypeDatabaseTypeName(i)
}
func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) { return r.rows.ColumnTypeLength(i) }
func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	return r.rows.ColumnTypeNullable(i)
}
func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.rows.ColumnTypePrecisionScale(i)
}
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type { return r.rows.ColumnTypeScanType(i) }
