package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// movableClock is a clock the test moves.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movableClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newSessionsApp(t *testing.T, dsn string, clock tierup.Clock, cfg app.Config) (*app.App, string) {
	t.Helper()
	return newLoggingApp(t, dsn, clock, cfg, io.Discard)
}

func newLoggingApp(t *testing.T, dsn string, clock tierup.Clock, cfg app.Config, log io.Writer) (*app.App, string) {
	t.Helper()
	ctx := context.Background()
	st, err := stack.Open(ctx, stack.Options{DB: dsn, App: cfg, Clock: clock, SecretKey: dbtest.SecretKey, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.WithoutCancel(ctx)) })
	a, db := st.App, st.Store
	acct := &tierup.Account{ID: "acct_1", Email: "a@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: clock.Now()}
	if err := db.CreateAccount(ctx, acct, tierup.HashToken("tok")); err != nil {
		t.Fatal(err)
	}
	return a, acct.ID
}

func TestSignInLifetimes(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := &movableClock{t: t0}
		a, acct := newSessionsApp(t, dsn, clock, app.Config{})
		signedOut := func(err error) bool { return errors.Is(err, &tierup.Error{Code: tierup.CodeUnauthenticated}) }

		token, expires, err := a.NewLoginLink(ctx, acct)
		if err != nil || !expires.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("link expires %s, %v", expires, err)
		}
		stale, _, _ := a.NewLoginLink(ctx, acct)
		sid, s, err := a.UseLoginLink(ctx, token)
		if err != nil || s.AccountID != acct || s.CSRF == "" || !s.Expires.Equal(t0.Add(7*24*time.Hour)) {
			t.Fatalf("session %+v, %v", s, err)
		}
		if _, _, err := a.UseLoginLink(ctx, token); !signedOut(err) {
			t.Errorf("second use: %v", err)
		}
		if got, err := a.Session(ctx, sid); err != nil || got.CSRF != s.CSRF {
			t.Errorf("session: %+v, %v", got, err)
		}

		clock.set(t0.Add(24 * time.Hour))
		if _, _, err := a.UseLoginLink(ctx, stale); !signedOut(err) || err.Error() != "this sign-in link is not valid any more: links work once and for 24 hours; ask for a new one" {
			t.Errorf("expired link: %v", err)
		}
		clock.set(t0.Add(7 * 24 * time.Hour))
		if _, err := a.Session(ctx, sid); !signedOut(err) {
			t.Errorf("expired session: %v", err)
		}

		clock.set(t0)
		if err := a.EndSession(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Session(ctx, sid); !signedOut(err) {
			t.Errorf("ended session: %v", err)
		}
		if err := a.EndSession(ctx, "unknown"); err != nil {
			t.Errorf("ending an unknown session: %v", err)
		}
	})
}

func TestSweep(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := app.Config{LoginLinkTTL: time.Hour, SessionTTL: 2 * time.Hour}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := &movableClock{t: t0}
		a, acct := newSessionsApp(t, dsn, clock, cfg)
		// Two links, one of which opens a session: all expire with t0.
		used, _, err := a.NewLoginLink(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.NewLoginLink(ctx, acct); err != nil {
			t.Fatal(err)
		}
		sid, _, err := a.UseLoginLink(ctx, used)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			at      time.Time
			want    tierup.Swept
			session bool // whether the session survives
		}{
			{"before any expiry", t0.Add(30 * time.Minute), tierup.Swept{}, true},
			{"at the links' expiry", t0.Add(time.Hour), tierup.Swept{}, true},
			{"after the links' expiry", t0.Add(time.Hour + time.Second), tierup.Swept{LoginLinks: 2}, true},
			{"after the session's expiry", t0.Add(2*time.Hour + time.Second), tierup.Swept{Sessions: 1}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clock.set(tt.at)
				got, err := a.Sweep(ctx)
				if err != nil || got != tt.want {
					t.Errorf("swept %+v, %v; want %+v", got, err, tt.want)
				}
				clock.set(t0) // the session's presence, not its expiry, is checked
				if _, err := a.Session(ctx, sid); (err == nil) != tt.session {
					t.Errorf("session there: %v, want %v", err == nil, tt.session)
				}
			})
		}
	})
}

// logLines hands each log line to the test; lines nobody waits for are
// dropped.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default:
	}
	return len(p), nil
}

func TestRunSweeperLogsAndStopsWithItsContext(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := &movableClock{t: t0}
	lines := make(logLines, 16)
	a, acct := newLoggingApp(t, dbtest.SQLite(t), clock, app.Config{LoginLinkTTL: time.Hour, SweepEvery: time.Millisecond}, lines)
	if _, _, err := a.NewLoginLink(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	clock.set(t0.Add(2 * time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.RunSweeper(ctx)
		close(done)
	}()
	timeout := time.After(10 * time.Second)
	for swept := false; !swept; {
		select {
		case l := <-lines:
			swept = strings.Contains(l, "swept expired rows") && strings.Contains(l, "login_links=1")
		case <-timeout:
			t.Fatal("RunSweeper did not log the expired link it deleted")
		}
	}
	cancel()
	select {
	case <-done:
	case <-timeout:
		t.Fatal("RunSweeper did not stop with its context")
	}
}

// TestSessionsNeedTheMasterSecret: sessions are stored under a keyed hash,
// so a session row written by someone with the database but not the master
// secret opens nothing; a rotation keeps everyone signed in, and dropping
// the old secret signs out what it made.
func TestSessionsNeedTheMasterSecret(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := &movableClock{t: t0}
	dsn := dbtest.SQLite(t)
	newer := tierup.NewSecret()
	open := func(secret string) (*app.App, *stack.Stack) {
		st, err := stack.Open(ctx, stack.Options{DB: dsn, Clock: clock, SecretKey: secret, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(context.WithoutCancel(ctx)) })
		return st.App, st
	}
	a, st := open(dbtest.SecretKey)
	acct := &tierup.Account{ID: "acct_1", Email: "a@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: t0}
	if err := st.Store.CreateAccount(ctx, acct, tierup.HashToken("tok")); err != nil {
		t.Fatal(err)
	}
	token, _, _ := a.NewLoginLink(ctx, acct.ID)
	sid, _, err := a.UseLoginLink(ctx, token)
	if err != nil {
		t.Fatal(err)
	}

	forged := "forged-session-id"
	if err := st.Store.CreateSession(ctx, &tierup.Session{IDHash: tierup.HashToken(forged), AccountID: acct.ID, CSRF: "x",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(ctx, forged); err == nil {
		t.Error("a session written into the database with a plain hash signs in")
	}

	rotated, _ := open(newer + "\n" + dbtest.SecretKey)
	if s, err := rotated.Session(ctx, sid); err != nil || s.AccountID != acct.ID {
		t.Errorf("after adding a new secret: %+v, %v", s, err)
	}
	dropped, _ := open(newer)
	if _, err := dropped.Session(ctx, sid); err == nil {
		t.Error("a session made with a removed secret still signs in")
	}
}
