// Package sqlstore implements tierup.Store on SQLite (embedded, the default)
// and PostgreSQL (to scale). The SQL is shared; the differences between the
// two dialects — drivers, column types, error codes, the database's clock —
// are kept in this file and in the per-dialect migration folders, which a
// schema parity test keeps equal. Upgrades are stored as documents of the
// store's own, versioned shape (docs.go) beside the columns the domain's
// rules derive (active, moving, running_worker, due_at); leases
// (processes.go) are judged by the database's clock alone.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/tierup/tierup"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrations embed.FS

// Dialect names a supported database.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a tierup.Store backed by SQLite or PostgreSQL.
type DB struct {
	dialect Dialect
	// sqldb is the database/sql handle: SQLite's single writer; for
	// PostgreSQL a view of pool, used for migrations.
	sqldb *sql.DB
	// reader is SQLite's pool of read-only connections, which the
	// statements that only read take outside a transaction (readSplit);
	// nil for PostgreSQL and an in-memory database.
	reader *sql.DB
	pool   *pgxpool.Pool // PostgreSQL only
	q      querier
	tx     any // pgx.Tx or *sql.Tx inside InTx
	// commits counts SQLite's write transactions (Commits); shared by the
	// copies InTx makes.
	commits *atomic.Int64
	// group commits SQLite's concurrent transactions together
	// (groupcommit.go); nil for PostgreSQL.
	group *groupCommit
	// checkpoints runs SQLite's checkpoints off the writer
	// (checkpoint.go); nil for PostgreSQL and an in-memory database.
	checkpoints *checkpointer
	// sweepBatch is how many rows a statement of DeleteExpired deletes at
	// most (0: defaultSweepBatch); the tests set it lower.
	sweepBatch int
}

var _ tierup.Store = (*DB)(nil)

// Open connects to the database named by dsn: "sqlite:PATH" (the directory
// is created) or a "postgres://" / "postgresql://" URL. It does not migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("sqlite: empty path")
		}
		// An in-memory database is one per connection, with no WAL: no
		// readers beside the writer and nothing to checkpoint.
		inMemory := path == ":memory:"
		if !inMemory {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
		}
		// WAL lets readers run beside the single writer; immediate
		// transactions take the write lock up front so concurrent writers
		// wait (busy_timeout) instead of failing with SQLITE_BUSY mid-way.
		commits := new(atomic.Int64)
		var ckpt *checkpointer
		var onCommit func()
		if !inMemory {
			ckpt = newCheckpointer()
			onCommit = ckpt.committed
		}
		db, err := openSQLite("file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint("+strconv.Itoa(writerCheckpointPages)+")&_txlock=immediate", commits, onCommit)
		if err != nil {
			return nil, err
		}
		// One writing connection: SQLite has a single writer, and River's
		// SQLite driver needs this to avoid SQLITE_BUSY between its own
		// operations.
		db.SetMaxOpenConns(1)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite %s: %w", path, err)
		}
		store := &DB{dialect: SQLite, sqldb: db, q: sqlQuerier{db, SQLite}, commits: commits, group: &groupCommit{}}
		if inMemory {
			return store, nil
		}
		// WAL lets readers run beside the writer, each on the last commit
		// when it starts: a read after a commit sees it. query_only makes
		// a write sent here by mistake fail instead of taking the lock.
		reader, err := openSQLite("file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)", commits, nil)
		if err != nil {
			db.Close()
			return nil, err
		}
		reader.SetMaxOpenConns(sqliteReaders())
		reader.SetMaxIdleConns(sqliteReaders())
		// A connection of its own: checkpoints neither queue behind the
		// writer nor take a reader (checkpoint.go).
		ckdb, err := openSQLite("file:"+path+"?_pragma=busy_timeout(10000)", nil, nil)
		if err != nil {
			db.Close()
			reader.Close()
			return nil, err
		}
		ckdb.SetMaxOpenConns(1)
		ckpt.start(ckdb)
		store.checkpoints = ckpt
		store.reader, store.q = reader, readSplit{writer: sqlQuerier{db, SQLite}, read: sqlQuerier{reader, SQLite}, grouped: store.execGrouped}
		return store, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		if cfg.ConnConfig.ConnectTimeout == 0 {
			// A server that does not answer fails a request in seconds
			// (database_unavailable) instead of holding it for the
			// kernel's TCP time-out; connect_timeout in the URL wins.
			cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
		}
		if !strings.Contains(dsn, "pool_max_conns") {
			cfg.MaxConns = DefaultMaxConns
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		}
		return &DB{dialect: Postgres, pool: pool, sqldb: stdlib.OpenDBFromPool(pool), q: pgxQuerier{pool}}, nil
	}
	return nil, fmt.Errorf("unsupported database %q: want sqlite:PATH or a postgres:// URL", redact(dsn))
}

// DefaultConnectTimeout bounds a new PostgreSQL connection when the URL
// sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// DefaultMaxConns is the PostgreSQL pool's size when the URL sets no
// pool_max_conns. pgx's own default, the number of CPUs and at least 4,
// kept the workflow's workers waiting for a connection: 16 took the
// engine benchmark from 43–48 to 52–60 upgrades a second on 2 cores.
// Connections are opened as needed, not up front.
const DefaultMaxConns = 16

// sqliteReaders is the size of SQLite's read pool: reads are CPU-bound
// (the database is in the page cache), so a few more than the cores
// cover the ones waiting on the disk.
func sqliteReaders() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// readSplit is SQLite's querier outside a transaction: statements that
// only read (SELECT) go to the read pool; a write (exec) joins the group
// commit (DB.execGrouped), and a write that returns rows runs on the
// writer. Inside InTx everything runs on the writer's transaction.
type readSplit struct {
	writer, read sqlQuerier
	grouped      func(ctx context.Context, query string, args ...any) (int64, error)
}

// reads reports whether a statement only reads: SQLite runs no writes
// inside a SELECT (a WITH may prefix an INSERT, so it is not one).
func reads(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

func (q readSplit) on(query string) sqlQuerier {
	if reads(query) {
		return q.read
	}
	return q.writer
}

func (q readSplit) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return q.grouped(ctx, query, args...)
}

func (q readSplit) queryRow(ctx context.Context, query string, args ...any) row {
	return q.on(query).queryRow(ctx, query, args...)
}

func (q readSplit) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.on(query).query(ctx, query, args...)
}

// openSQLite opens a database/sql handle on dsn whose connections count
// their commits into commits and call onCommit on each (either may be nil).
func openSQLite(dsn string, commits *atomic.Int64, onCommit func()) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(countingConnector{base, commits, onCommit}), nil
}

// countingConnector registers a commit hook on each connection it opens
// (SQLite calls it once per committed write transaction, explicit or
// not) and gives it a statement cache (stmtConn).
type countingConnector struct {
	driver.Connector
	commits  *atomic.Int64
	onCommit func()
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if h, ok := conn.(sqlite.HookRegisterer); ok && (c.commits != nil || c.onCommit != nil) {
		h.RegisterCommitHook(func() int32 {
			if c.commits != nil {
				c.commits.Add(1)
			}
			if c.onCommit != nil {
				c.onCommit()
			}
			return 0 // non-zero would turn the commit into a rollback
		})
	}
	return withStmtCache(conn), nil
}

// Commits is how many write transactions SQLite has committed through this
// handle, the job queue's included; a benchmark's measure. PostgreSQL
// counts its own (pg_stat_database.xact_commit): it returns 0 there.
func (db *DB) Commits() int64 {
	if db.commits == nil {
		return 0
	}
	return db.commits.Load()
}

// Transactions is how many write transactions SQLite has committed through
// this handle as its callers see them: each InTx and each write outside
// one counts once, also when the group commit carried several in one
// database commit (Commits counts those once). 0 on PostgreSQL.
func (db *DB) Transactions() int64 {
	if db.commits == nil {
		return 0
	}
	return db.commits.Load() + db.group.merged.Load()
}

// redact drops anything that may be a password from a DSN for messages.
func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Migrate applies every pending migration.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the database's migration version and the newest
// migration this binary embeds: the schema is current when they are equal.
func (db *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrations()
	if err != nil {
		return 0, 0, err
	}
	if current, err = p.GetDBVersion(ctx); err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

// migrations is the dialect's migration provider.
func (db *DB) migrations() (*goose.Provider, error) {
	dialect, dir := goose.DialectSQLite3, "migrations/sqlite"
	if db.dialect == Postgres {
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	m3, err := storeShapesMigration(db.dialect, fsys)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db.sqldb, fsys,
		goose.WithExcludeNames([]string{storeShapesFile}), goose.WithGoMigrations(m3))
}

// Close closes the connections.
func (db *DB) Close() error {
	var err error
	if db.checkpoints != nil { // first: it checkpoints the writer's commits
		err = db.checkpoints.close()
	}
	err = errors.Join(err, db.sqldb.Close())
	if db.reader != nil {
		err = errors.Join(err, db.reader.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

// SQLDB returns the database/sql handle (for SQLite, the job queue's driver).
func (db *DB) SQLDB() *sql.DB { return db.sqldb }

// Pool returns the pgx pool (PostgreSQL only; nil for SQLite).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// InTx implements tierup.Store.
func (db *DB) InTx(ctx context.Context, fn func(tx tierup.Store) error) (err error) {
	if db.tx != nil {
		return fn(db)
	}
	switch db.dialect {
	case Postgres:
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			return mapErr(err)
		}
		defer func() {
			if err != nil {
				_ = tx.Rollback(context.WithoutCancel(ctx))
			}
		}()
		if err = fn(db.in(pgxQuerier{tx}, tx)); err != nil {
			return err
		}
		return mapErr(tx.Commit(ctx))
	default:
		return db.inTxGrouped(ctx, fn)
	}
}

// in is the store bound to transaction tx, which q runs on.
func (db *DB) in(q querier, tx any) *DB {
	child := *db
	child.q, child.tx = q, tx
	return &child
}

// querier is what the store's SQL runs on: a connection pool or a
// transaction of either driver. Placeholders are $1, $2, … in both.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	queryRow(ctx context.Context, query string, args ...any) row
	query(ctx context.Context, query string, args ...any) (rows, error)
}

type row interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// sqlQuerier runs on database/sql: SQLite's only handle, and PostgreSQL's
// during migrations.
type sqlQuerier struct {
	db interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
	dialect Dialect
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.QueryContext(ctx, query, encodeArgs(q.dialect, args)...)
	if err != nil {
		return nil, mapErr(err)
	}
	return sqlRows{r}, nil
}

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, encodeArgs(q.dialect, args)...)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return mappedRow{q.db.QueryRowContext(ctx, query, encodeArgs(q.dialect, args)...)}
}

type pgxQuerier struct {
	db interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		QueryRow(context.Context, string, ...any) pgx.Row
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}
}

func (q pgxQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.Query(ctx, query, encodeArgs(Postgres, args)...)
	if err != nil {
		return nil, mapErr(err)
	}
	return r, nil
}

func (q pgxQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, query, encodeArgs(Postgres, args)...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (q pgxQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return mappedRow{q.db.QueryRow(ctx, query, encodeArgs(Postgres, args)...)}
}

type mappedRow struct{ row }

func (r mappedRow) Scan(dest ...any) error { return mapErr(r.row.Scan(dest...)) }

// errUnique matches every unique-constraint (or primary-key) violation of
// either dialect. Decide by the constraint's name instead (violated).
var errUnique = errors.New("unique constraint violated")

// Constraints the store acts on, by their PostgreSQL names; SQLite's
// violations carry the same names (sqliteConstraint).
const (
	conAccountEmail = "accounts_email_key"
	conUpgradeQuote = "upgrades_quote_id_key"
	conOneActive    = "upgrades_one_active"
	conRecord       = "records_pkey"
)

// constraintError is a violated unique constraint or primary key, named as
// PostgreSQL names it whatever the dialect.
type constraintError struct {
	Name string
	err  error
}

func (e *constraintError) Error() string {
	return fmt.Sprintf("constraint %s violated: %v", e.Name, e.err)
}

func (e *constraintError) Unwrap() error { return e.err }

// Is makes every constraintError match errUnique.
func (e *constraintError) Is(target error) bool { return target == errUnique }

// violated returns the name of the unique constraint err violated, or "".
func violated(err error) string {
	var ce *constraintError
	if errors.As(err, &ce) {
		return ce.Name
	}
	return ""
}

// sqliteConstraint names the constraint of a SQLite violation. SQLite names
// the columns ("UNIQUE constraint failed: t.a, t.b"), not the index, so the
// name is PostgreSQL's default one for the columns (t_pkey, t_a_b_key)
// unless the unique index is named explicitly: those are listed here, the
// one table that maps them (TestSchemaParity fails for a unique index
// missing here; TestConstraintNames checks violations on both dialects).
func sqliteConstraint(columns string, primaryKey bool) string {
	switch columns {
	case "upgrades.account_id":
		return conOneActive
	}
	table, _, _ := strings.Cut(columns, ".")
	if primaryKey {
		return table + "_pkey"
	}
	name := table
	for c := range strings.SplitSeq(columns, ", ") {
		_, col, _ := strings.Cut(c, ".")
		name += "_" + col
	}
	return name + "_key"
}

// mapErr turns driver errors the store acts on into portable ones.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return tierup.ErrNotFound
	}
	if why := unavailable(err); why != "" {
		return &unavailableError{msg: why, err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return &constraintError{Name: pgErr.ConstraintName, err: err}
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		pk := liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		if pk || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
			_, columns, _ := strings.Cut(liteErr.Error(), "UNIQUE constraint failed: ")
			columns, _, _ = strings.Cut(columns, " (")
			return &constraintError{Name: sqliteConstraint(columns, pk), err: err}
		}
	}
	return err
}

// unavailableError is a failure of the database itself, not of the
// statement: it is tierup.ErrDatabaseUnavailable (a 503, the same request
// succeeds later) and wraps the driver's error for the log.
type unavailableError struct {
	msg string
	err error
}

func (e *unavailableError) Error() string { return e.msg + ": " + e.err.Error() }

func (e *unavailableError) Unwrap() []error {
	return []error{&tierup.Error{Code: tierup.CodeDatabaseUnavailable, Message: e.msg}, e.err}
}

// unavailable says why err means the database cannot serve now — it
// cannot be reached, the connection broke, or SQLite's disk is full — or
// "" for any other error. A caller's own cancellation is not one.
func unavailable(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "" // the caller gave up; a context error is also a net.Error
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_FULL:
			return "the database's disk is full; nothing was changed"
		case sqlite3.SQLITE_IOERR:
			return "the database could not read or write its file; nothing was changed"
		}
		return ""
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connectErr):
		return "the database cannot be reached"
	case errors.As(err, &pgErr):
		// Class 08 (connection exception), 57P01-03 (the server shuts
		// down or cannot take connections), 53 (out of resources).
		if strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0") || strings.HasPrefix(pgErr.Code, "53") {
			return "the database is not available"
		}
		return ""
	case errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), pgconn.SafeToRetry(err):
		return "the connection to the database was lost"
	}
	return ""
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// timeOrZero reads a nullable time column.
func timeOrZero(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// timeLayout is how SQLite keeps times: UTC, fixed width and to the
// microsecond (PostgreSQL's precision), so that comparing and ordering the
// text is chronological. modernc parses it back into time.Time for columns
// declared TIMESTAMP.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// dbTime is t as both databases keep it: UTC, truncated to the microsecond,
// so that a value read back equals the value written.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// encodeArgs converts the time arguments of a statement to what the dialect
// keeps, so call sites pass plain time.Time values on both.
func encodeArgs(d Dialect, args []any) []any {
	var out []any
	for i, a := range args {
		var t time.Time
		switch a := a.(type) {
		case time.Time:
			t = a
		case *time.Time:
			if a == nil {
				continue
			}
			t = *a
		case sql.NullTime:
			if !a.Valid {
				continue
			}
			t = a.Time
		default:
			continue
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = dbTime(t)
		if d == SQLite {
			out[i] = dbTime(t).Format(timeLayout)
		}
	}
	if out == nil {
		return args
	}
	return out
}

// nowSQL is the database's current time, as times are stored.
func (db *DB) nowSQL() string {
	if db.dialect == Postgres {
		return "now()"
	}
	// %f has milliseconds only: pad to timeLayout's width.
	return "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')"
}

// agoSQL is the database's current time less the duration given by the
// parameter p, whose value is secondsArg(d).
func (db *DB) agoSQL(p string) string {
	if db.dialect == Postgres {
		return "(now() - CAST(CAST(" + p + " AS text) AS interval))"
	}
	return "(strftime('%Y-%m-%dT%H:%M:%f', 'now', '-' || " + p + ") || '000Z')"
}

// laterSQL is the database's current time plus the duration given by the
// parameter p, whose value is secondsArg(d).
func (db *DB) laterSQL(p string) string {
	if db.dialect == Postgres {
		return "(now() + CAST(CAST(" + p + " AS text) AS interval))"
	}
	return "(strftime('%Y-%m-%dT%H:%M:%f', 'now', '+' || " + p + ") || '000Z')"
}

// secondsArg is d as both dialects read an interval: "1.500000 seconds"
// (never negative: agoSQL subtracts it).
func secondsArg(d time.Duration) string {
	return fmt.Sprintf("%.6f seconds", max(d, 0).Seconds())
}
