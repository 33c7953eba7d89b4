// Package dbtest gives tests a fresh database of each supported dialect:
// SQLite in a temporary directory and PostgreSQL in a new schema of the
// server named by TIERUP_TEST_POSTGRES.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
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
	base := os.Getenv("TIERUP_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TIERUP_TEST_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL is required but unreachable at %s: %v", base, err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set TIERUP_TEST_POSTGRES", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "tierup_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
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
