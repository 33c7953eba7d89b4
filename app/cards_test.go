package app_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// tickingClock moves a second forward on every reading.
type tickingClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(time.Second)
	return c.at
}

// TestDefaultCard follows the default card through additions and charges:
// the most recently added card, unless an upgrade that began later
// charged another one.
func TestDefaultCard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		// A second passes between any two readings: the rule is judged to
		// the second.
		st, err := stack.Open(ctx, stack.Options{DB: dsn, App: app.Config{Sandbox: true}, SecretKey: dbtest.SecretKey, Clock: &tickingClock{at: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(context.WithoutCancel(ctx)) })
		a := st.App
		acct, _, err := a.CreateAccount(ctx, app.NewAccount{Email: "dev@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		add := func(number string) string {
			pm, err := a.CreatePaymentMethod(ctx, acct.ID, tierup.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"})
			if err != nil {
				t.Fatal(err)
			}
			return pm.ID
		}
		chargeWith := func(pm string) {
			q, err := a.CreateQuote(ctx, acct.ID, "pro-1m")
			if err != nil {
				t.Fatal(err)
			}
			u, err := a.CreateUpgrade(ctx, acct.ID, app.NewUpgrade{Quote: q.ID, PaymentMethod: pm, AcceptTerms: app.TermsVersion})
			if err != nil {
				t.Fatal(err)
			}
			// What the payment step leaves behind; the workflow does not run
			// here. Ending the upgrade frees the account's slot for the next.
			u.Payment.Status, u.Payment.ChargeID, u.Status = tierup.PaymentSucceeded, "ch_"+u.ID, tierup.UpgradeCanceled
			if err := a.Store().UpdateUpgrade(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		var first, second string
		steps := []struct {
			name string
			do   func()
			want *string
		}{
			{"the first card", func() { first = add("4242424242424242") }, &first},
			{"a newer card", func() { second = add("5555555555554444") }, &second},
			{"an older card pays a later upgrade", func() { chargeWith(first) }, &first},
			{"the newer card pays the next", func() { chargeWith(second) }, &second},
			{"the default is deleted", func() {
				if err := a.DeletePaymentMethod(ctx, acct.ID, second); err != nil {
					t.Fatal(err)
				}
			}, &first},
		}
		for _, s := range steps {
			s.do()
			cards, err := a.PaymentMethods(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			var defaults []string
			for _, c := range cards {
				if c.Default {
					defaults = append(defaults, c.ID)
				}
			}
			if len(defaults) != 1 || defaults[0] != *s.want {
				t.Errorf("%s: default %v, want %s", s.name, defaults, *s.want)
			}
		}
	})
}
