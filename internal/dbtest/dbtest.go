// Package dbtest gives tests a fresh database of each supported dialect:
// SQLite in a temporary directory and PostgreSQL in a new schema of the
// server named by TIERUP_TEST_POSTGRES.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tierup/tierup/sqlstore"
)

// SecretKey is a master secret for tests (stack.Options.SecretKey, or
// TIERUP_SECRET_KEY for the binary): several processes of one test share
// it, as production processes share theirs. Never use it elsewhere.
const SecretKey = "7465737420736563726574206f6620746965727570277320746573747320f09f9491"

// DefaultPostgres is the local server the README's test command uses.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Each runs f as a subtest once per dialect with a DSN for an empty
// database.
func Each(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, Postgres(t)) })
}

// SQLite returns the DSN of a new SQLite database in t's temporary dir.
func SQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "tierup.db")
}

// Postgres returns the DSN of a new, empty schema that is dropped when the
// test ends. Without a reachable server the test is skipped, unless CI or
// TIERUP_TEST_REQUIRE_POSTGRES is set: then it fails, because a skipped
// PostgreSQL run would hide dialect bugs.
func Postgres(t testing.TB) string {
	t.Helper()
	return schema(t, connect(t, base()), base())
}

// PostgresDatabase is Postgres in the database named, created on the
// server when missing and kept: a benchmark's, whose statistics
// (pg_stat_database) no other test's load reaches.
func PostgresDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, base())
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42P04" { // duplicate_database
			t.Fatal(err)
		}
	}
	u, err := url.Parse(base())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return schema(t, connect(t, u.String()), u.String())
}

// base is the server tests use.
func base() string {
	if b := os.Getenv("TIERUP_TEST_POSTGRES"); b != "" {
		return b
	}
	return DefaultPostgres
}

// connect connects to dsn, or skips (fails when PostgreSQL is required).
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TIERUP_TEST_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL is required but unreachable at %s: %v", dsn, err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set TIERUP_TEST_POSTGRES", err)
	}
	return conn
}

// schema creates a schema with conn (and closes it) and returns the DSN
// of dsn's database with that schema first on the search path.
func schema(t testing.TB, conn *pgx.Conn, dsn string) string {
	t.Helper()
	ctx := context.Background()
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "tierup_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenStore opens and migrates the store at dsn, closed when the test ends.
func OpenStore(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
