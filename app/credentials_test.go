package app_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// credentialApps opens n apps on one database, as n processes would be,
// each with its credential cache refreshed as given.
func credentialApps(t *testing.T, dsn string, refresh ...time.Duration) []*app.App {
	t.Helper()
	ctx := context.Background()
	var apps []*app.App
	for _, r := range refresh {
		st, err := stack.Open(ctx, stack.Options{DB: dsn, SecretKey: dbtest.SecretKey, Log: slog.New(slog.DiscardHandler),
			App: app.Config{CredentialRefresh: r}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(context.WithoutCancel(ctx)) })
		apps = append(apps, st.App)
	}
	return apps
}

func unauthenticated(err error) bool {
	return errors.Is(err, &tierup.Error{Code: tierup.CodeUnauthenticated})
}

// TestTokenRotation: a replaced token stops working at once in the
// process that replaced it, whatever its cache, and in another process
// once that one reads the store's version again (here on every request;
// by default within a second). Turning the cache off works the same.
func TestTokenRotation(t *testing.T) {
	const never = time.Hour // a cache that would not notice by itself
	tests := []struct {
		name             string
		rotator, watcher time.Duration
	}{
		{"cached in both", never, time.Nanosecond},
		{"cache off", -1, -1},
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				apps := credentialApps(t, dsn, tt.rotator, tt.watcher)
				rotator := apps[0]
				acct, old, err := rotator.CreateAccount(ctx, app.NewAccount{Email: tt.rotator.String() + "@example.com"})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range apps { // both have it cached now
					for range 2 {
						if p, err := a.Authenticate(ctx, old); err != nil || p.Account.ID != acct.ID {
							t.Fatalf("before rotation: %+v, %v", p, err)
						}
					}
				}
				fresh, err := rotator.IssueToken(ctx, acct.ID)
				if err != nil {
					t.Fatal(err)
				}
				for i, a := range apps {
					if _, err := a.Authenticate(ctx, old); !unauthenticated(err) {
						t.Errorf("app %d: the replaced token: %v, want unauthenticated", i, err)
					}
					if p, err := a.Authenticate(ctx, fresh); err != nil || p.Account.ID != acct.ID {
						t.Errorf("app %d: the new token: %+v, %v", i, p, err)
					}
				}
			})
		}
	})
}

// TestTokenRotationRace: no request that starts after IssueToken returned
// is let in with the old token, however the requests running meanwhile
// fill the cache.
func TestTokenRotationRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a := credentialApps(t, dsn, time.Hour)[0]
		acct, old, err := a.CreateAccount(ctx, app.NewAccount{Email: "race@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		var rotated, lateAccepted, stop atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					after := rotated.Load()
					_, err := a.Authenticate(ctx, old)
					if after && err == nil {
						lateAccepted.Store(true)
					}
					if err != nil && !unauthenticated(err) {
						t.Error(err)
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond) // let the requests fill the cache
		if _, err := a.IssueToken(ctx, acct.ID); err != nil {
			t.Fatal(err)
		}
		rotated.Store(true)
		time.Sleep(20 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		if lateAccepted.Load() {
			t.Error("a request that started after the rotation was let in with the old token")
		}
	})
}

// TestSignOutEverywhere: a session ended in one process stops signing in
// there at once and in another once it reads the store's version again.
func TestSignOutEverywhere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		apps := credentialApps(t, dsn, time.Hour, time.Nanosecond)
		acct, _, err := apps[0].CreateAccount(ctx, app.NewAccount{Email: "session@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		link, _, err := apps[0].NewLoginLink(ctx, acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		sid, _, err := apps[0].UseLoginLink(ctx, link)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range apps {
			for range 2 {
				if s, err := a.Session(ctx, sid); err != nil || s.AccountID != acct.ID {
					t.Fatalf("app %d before sign-out: %+v, %v", i, s, err)
				}
			}
		}
		if err := apps[0].EndSession(ctx, sid); err != nil {
			t.Fatal(err)
		}
		for i, a := range apps {
			if _, err := a.Session(ctx, sid); !unauthenticated(err) {
				t.Errorf("app %d after sign-out: %v, want signed out", i, err)
			}
		}
	})
}
