package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
)

// TestRetention moves the app's clock past each retention: what only
// serves a while (sign-in links, sessions, idempotency keys) is purged the
// configured time after it expired, never before, and the upgrade with its
// audit events stays.
func TestRetention(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := &movableClock{t: t0}
		a, acct := newSessionsApp(t, dsn, clock, app.Config{LoginLinkTTL: time.Hour, SessionTTL: 2 * time.Hour, Sandbox: true,
			Retention: tierup.Retention{Expired: time.Hour}})
		used, _, err := a.NewLoginLink(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.UseLoginLink(ctx, used); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.NewLoginLink(ctx, acct); err != nil { // never used
			t.Fatal(err)
		}
		q, err := a.CreateQuote(ctx, acct, "pro-1m")
		if err != nil {
			t.Fatal(err)
		}
		pm, err := a.CreatePaymentMethod(ctx, acct, tierup.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2034, CVC: "123"})
		if err != nil {
			t.Fatal(err)
		}
		u, err := a.CreateUpgrade(ctx, acct, app.NewUpgrade{Quote: q.ID, PaymentMethod: pm.ID, AcceptTerms: app.TermsVersion,
			IdempotencyKey: "k1", BodyHash: "h1"})
		if err != nil {
			t.Fatal(err)
		}

		for _, step := range []struct {
			at   time.Duration // after t0
			want tierup.Swept
		}{
			{90 * time.Minute, tierup.Swept{}}, // the links expired 30 minutes ago: kept
			{2*time.Hour + time.Minute, tierup.Swept{LoginLinks: 2}},
			{2*time.Hour + 30*time.Minute, tierup.Swept{}}, // the session expired 30 minutes ago: kept
			{3*time.Hour + time.Minute, tierup.Swept{Sessions: 1}},
			{25*time.Hour + time.Minute, tierup.Swept{IdempotencyKeys: 1}},
			{40 * 24 * time.Hour, tierup.Swept{}},
		} {
			clock.set(t0.Add(step.at))
			got, err := a.Sweep(ctx)
			if err != nil || got != step.want {
				t.Errorf("sweep at t0+%v: %+v, %v; want %+v", step.at, got, err, step.want)
			}
		}
		kept, err := a.Upgrade(ctx, app.Principal{Admin: true}, u.ID)
		if err != nil || kept.ID != u.ID {
			t.Fatalf("the upgrade was purged: %v", err)
		}
		if evs, err := a.Events(ctx, app.Principal{Admin: true}, u.ID, 0, 100); err != nil || len(evs) == 0 {
			t.Errorf("its audit events were purged: %d, %v", len(evs), err)
		}
		if _, err := a.Quote(ctx, acct, q.ID); err != nil {
			t.Errorf("the quote was purged: %v", err)
		}
	})
}
