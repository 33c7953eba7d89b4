package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/dbtest"
)

// lockedBuffer lets the test read what a running server prints.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestPlansTable(t *testing.T) {
	out, _, code := runCmd(t, "plans")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"pro-3m", "$81.00", "unlimited", "100 GB ssd", "team-12m", "99.95%", "hobby"} {
		if !strings.Contains(out, want) {
			t.Errorf("plans output lacks %q:\n%s", want, out)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	tests := [][]string{
		{"plans", "--catalog", "/nonexistent.json"},
		{"migrate", "--db", "mysql://x"},
		{"quote", "--account", "acct_x"},
		{"serve", "--proration-policy", "generous", "--db", "sqlite:" + t.TempDir() + "/x.db"},
		{"serve", "--shutdown-timeout", "0", "--db", "sqlite:" + t.TempDir() + "/x.db"},
		{"serve", "--shutdown-delay", "-1s", "--db", "sqlite:" + t.TempDir() + "/x.db"},
		{"nosuchcommand"},
	}
	for _, args := range tests {
		if _, stderr, code := runCmd(t, args...); code == 0 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestEnvironmentTwins(t *testing.T) {
	t.Setenv("TIERUP_SANDBOX", "maybe")
	if _, stderr, code := runCmd(t, "plans"); code == 0 || !strings.Contains(stderr, "TIERUP_SANDBOX") {
		t.Errorf("a bad environment value was accepted: %d %s", code, stderr)
	}
	t.Setenv("TIERUP_SANDBOX", "false")
	t.Setenv("TIERUP_DB", "mysql://nope")
	if _, stderr, code := runCmd(t, "migrate"); code == 0 || !strings.Contains(stderr, "unsupported database") {
		t.Errorf("TIERUP_DB was not used: %d %s", code, stderr)
	}
	// A flag beats its environment twin.
	if out, stderr, code := runCmd(t, "migrate", "--db", dbtest.SQLite(t)); code != 0 || !strings.Contains(out, "sqlite") {
		t.Errorf("flag did not win: %d %s %s", code, out, stderr)
	}
}

func TestServeAndQuote(t *testing.T) {
	t.Setenv("TIERUP_SECRET_KEY", dbtest.SecretKey) // PostgreSQL needs it; SQLite takes it too
	dbtest.Each(t, func(t *testing.T, dsn string) {
		if out, stderr, code := runCmd(t, "migrate", "--db", dsn); code != 0 {
			t.Fatalf("migrate: %d %s %s", code, out, stderr)
		}

		ctx, cancel := context.WithCancel(context.Background())
		var out lockedBuffer
		done := make(chan int)
		go func() {
			done <- run(ctx, []string{"--db", dsn, "--addr", "127.0.0.1:0", "--shutdown-delay", "0"}, &out, io.Discard)
		}()
		defer func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d", code)
			}
		}()

		var base, admin, demoID, demoToken string
		re := regexp.MustCompile(`listening on (http://\S+)|admin token .*: (tu_admin_\w+)|demo account (acct_\w+) .* token .*: (tu_acct_\w+)`)
		for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); {
			sc := bufio.NewScanner(strings.NewReader(out.String()))
			for sc.Scan() {
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					base, admin, demoID, demoToken = first(base, m[1]), first(admin, m[2]), first(demoID, m[3]), first(demoToken, m[4])
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if base == "" || admin == "" || demoToken == "" {
			t.Fatalf("serve printed:\n%s", out.String())
		}

		get := func(path, token string) int {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if s := get("/v1/account", demoToken); s != 200 {
			t.Errorf("demo token: %d", s)
		}
		if s := get("/v1/accounts/"+demoID, admin); s != 200 {
			t.Errorf("admin token: %d", s)
		}

		// The CLI quotes straight from the same database.
		qout, stderr, code := runCmd(t, "quote", "--db", dsn, "--account", demoID, "--plan", "pro-1m")
		if code != 0 {
			t.Fatalf("quote: %d %s", code, stderr)
		}
		for _, want := range []string{"Hobby has no paid time", "quo_", "amount due", "$29.00"} {
			if !strings.Contains(qout, want) {
				t.Errorf("quote output lacks %q:\n%s", want, qout)
			}
		}
		if _, stderr, code := runCmd(t, "quote", "--db", dsn, "--account", demoID, "--plan", "hobby"); code == 0 || !strings.Contains(stderr, "already on Hobby") {
			t.Errorf("quote to the same plan: %d %s", code, stderr)
		}

		// A new token replaces the old one: the server, another process,
		// stops accepting it within --credential-refresh (1s); the
		// deadline only bounds a hung test.
		newToken, _, code := runCmd(t, "token", "--db", dsn, demoID)
		if code != 0 {
			t.Fatal("token command failed")
		}
		s := get("/v1/account", demoToken)
		for deadline := time.Now().Add(30 * time.Second); s == 200 && time.Now().Before(deadline); s = get("/v1/account", demoToken) {
			time.Sleep(50 * time.Millisecond)
		}
		if s != 401 {
			t.Errorf("old token: %d", s)
		}
		if s := get("/v1/account", strings.TrimSpace(newToken)); s != 200 {
			t.Errorf("new token: %d", s)
		}
	})
}

func TestSecondStartPrintsNoSecrets(t *testing.T) {
	dsn := dbtest.SQLite(t)
	for i, wantSecrets := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		var out lockedBuffer
		done := make(chan int)
		go func() {
			done <- run(ctx, []string{"--db", dsn, "--addr", "127.0.0.1:0", "--shutdown-delay", "0"}, &out, io.Discard)
		}()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "listening") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
		got := strings.Contains(out.String(), "tu_admin_") && strings.Contains(out.String(), "tu_acct_")
		if got != wantSecrets {
			t.Errorf("start %d printed tokens = %v:\n%s", i+1, got, out.String())
		}
	}
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
