package stack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
	"github.com/tierup/tierup/stack"
)

// TestDatabaseAloneHoldsNoKey plays the attacker with a copy of the SQLite
// file and nothing else: it holds no key material, and a card's stored
// fingerprint can be checked only with the key derived from the master
// secret, which lives in a file outside the data directory.
func TestDatabaseAloneHoldsNoKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	dsn := "sqlite:" + filepath.Join(dir, "tierup.db")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := stack.Open(ctx, stack.Options{DB: dsn, App: app.Config{Sandbox: true}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.App.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	acct, _, err := st.App.CreateAccount(ctx, app.NewAccount{Email: "attacker-target@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	const number = "4242424242424242"
	pm, err := st.App.CreatePaymentMethod(ctx, acct.ID, tierup.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.App.CreateQuote(ctx, acct.ID, "pro-1m"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The key file is beside the data directory, not in it, and private.
	keyFile := dir + ".key"
	info, err := os.Stat(keyFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, mode %v; want 0600", keyFile, err, info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key") {
			t.Errorf("a key file inside the data directory: %s", e.Name())
		}
	}

	// The attacker's view: the database file only.
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.SQLDB().QueryContext(ctx, `SELECT name, value FROM secrets`)
	if err != nil {
		t.Fatal(err)
	}
	var candidates [][]byte
	for rows.Next() {
		var name string
		var value []byte
		if err := rows.Scan(&name, &value); err != nil {
			t.Fatal(err)
		}
		if name != "admin_token_sha256" {
			t.Errorf("the database keeps a secret %q", name)
		}
		candidates = append(candidates, value)
	}
	rows.Close()
	stored, err := db.PaymentMethod(ctx, pm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Fingerprint == "" {
		t.Fatal("no fingerprint stored")
	}
	plain := sha256.Sum256([]byte(number))
	if stored.Fingerprint == hex.EncodeToString(plain[:]) {
		t.Error("the fingerprint is an unkeyed hash of the number")
	}
	for _, k := range candidates {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(number))
		if hex.EncodeToString(m.Sum(nil)) == stored.Fingerprint || tierup.CardFingerprint(k, number) == stored.Fingerprint {
			t.Error("a value in the database checks the fingerprint")
		}
	}
	// With the master secret, it checks.
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tierup.ParseKeyring(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if tierup.CardFingerprint(ring.Key(tierup.PurposeCardFingerprints), number) != stored.Fingerprint {
		t.Error("the master secret's card key does not check the fingerprint")
	}
}

func TestPostgresRefusesToStartWithoutTheSecret(t *testing.T) {
	_, err := stack.Open(context.Background(), stack.Options{DB: dbtest.Postgres(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "--secret-key-file") || !strings.Contains(err.Error(), "TIERUP_SECRET_KEY") {
		t.Fatalf("Open without a secret on PostgreSQL: %v", err)
	}
}

// TestRotation: with a new secret first and the old one below it, quotes
// signed under the old one still verify and new ones name the new one.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.SQLite(t)
	old, next := tierup.NewSecret(), tierup.NewSecret()
	open := func(secret string) *stack.Stack {
		st, err := stack.Open(ctx, stack.Options{DB: dsn, SecretKey: secret, App: app.Config{Sandbox: true}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(ctx) })
		return st
	}
	before := open(old)
	acct, _, err := before.App.CreateAccount(ctx, app.NewAccount{Email: "rotate@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := before.App.CreateQuote(ctx, acct.ID, "pro-1m")
	if err != nil {
		t.Fatal(err)
	}
	before.Close(ctx)

	rotated := open(next + "\n" + old + "\n")
	if !rotated.App.VerifyQuote(q.Quote) {
		t.Error("a quote signed with the previous secret no longer verifies")
	}
	fresh, err := rotated.App.CreateQuote(ctx, acct.ID, "pro-3m")
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Signature[2:10] == q.Signature[2:10] {
		t.Errorf("the new quote names the old key: %s vs %s", fresh.Signature, q.Signature)
	}
	rotated.Close(ctx)
	if dropped := open(next); dropped.App.VerifyQuote(q.Quote) {
		t.Error("a quote verifies once its secret is removed from the ring")
	}
}
