// Package fuzzenv is the service the HTTP fuzz targets (the API's request
// bodies, the dashboard's forms) send their inputs to: a whole stack on
// SQLite with the sandbox, at a fixed instant so that quotes, sessions and
// rate windows do not move whatever the fuzzer's pace, and accounts in the
// states the routes need. The workflow does not run: an upgrade stays
// where the fixture or a request puts it.
package fuzzenv

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// AdminToken is the fixture's admin token.
const AdminToken = "tu_admin_fuzz"

// Account is one of the fixture's accounts, on Pro (1 month).
type Account struct {
	ID, Token string
	// Quote is open and unused (pro-3m).
	Quote string
	// PaymentMethod is a valid Visa card of the account.
	PaymentMethod string
	// Upgrade is the account's upgrade, if it has one.
	Upgrade string
}

// Env is the fixture.
type Env struct {
	Stack *stack.Stack
	Now   time.Time
	Terms string // the terms version to accept
	// Buyer has no upgrade: it can get quotes and add cards.
	Buyer Account
	// Upgrader has a quote and a card to start an upgrade with, once.
	Upgrader Account
	// Declined has an upgrade whose card was declined (Decline puts it
	// back there), and a quote of its own opened before it.
	Declined Account
}

// New opens the stack in tb's temporary directory and makes the accounts.
func New(tb testing.TB) *Env {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	st, err := stack.Open(ctx, stack.Options{DB: dbtest.SQLite(tb), App: app.Config{Sandbox: true, AdminToken: AdminToken},
		Clock: tierup.FixedClock(now), SecretKey: dbtest.SecretKey, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(err)
	tb.Cleanup(func() { st.Close(context.WithoutCancel(ctx)) })
	_, err = st.App.EnsureAdminToken(ctx)
	must(err)
	e := &Env{Stack: st, Now: now}
	e.Terms, _ = st.App.Terms()
	account := func(email string) Account {
		tb.Helper()
		view, token, err := st.App.CreateAccount(ctx, app.NewAccount{Email: email, Plan: "pro-1m"})
		must(err)
		q, err := st.App.CreateQuote(ctx, view.ID, "pro-3m")
		must(err)
		// Stripe's public test card, charged by the sandbox gateway only
		// (it refuses any other number); nothing real is stored or logged.
		pm, err := st.App.CreatePaymentMethod(ctx, view.ID, tierup.Card{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2030, CVC: "123"})
		must(err)
		return Account{ID: view.ID, Token: token, Quote: q.ID, PaymentMethod: pm.ID}
	}
	e.Buyer, e.Upgrader, e.Declined = account("buyer@example.com"), account("upgrader@example.com"), account("declined@example.com")
	other, err := st.App.CreateQuote(ctx, e.Declined.ID, "team-3m")
	must(err)
	u, err := st.App.CreateUpgrade(ctx, e.Declined.ID, app.NewUpgrade{Quote: other.ID, PaymentMethod: e.Declined.PaymentMethod, AcceptTerms: e.Terms})
	must(err)
	e.Declined.Upgrade = u.ID
	e.Decline(tb)
	return e
}

// Decline puts the Declined account's upgrade back where a retry with
// another card is possible: its card declined. A retry that went through
// left it processing.
func (e *Env) Decline(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	u, err := e.Stack.Store.Upgrade(ctx, e.Declined.Upgrade)
	if err != nil {
		tb.Fatal(err)
	}
	if u.Status == tierup.UpgradePaymentFailed {
		return
	}
	if err := u.StartStep(tierup.StepPayment, "fuzz", e.Now); err != nil {
		tb.Fatal(err)
	}
	cause := tierup.StepError{Code: string(tierup.PayCodeCardDeclined), Message: "Your card was declined."}
	if err := u.PaymentDeclined(cause, "generic_decline", e.Now); err != nil {
		tb.Fatal(err)
	}
	if err := e.Stack.Store.UpdateUpgrade(ctx, u); err != nil {
		tb.Fatal(err)
	}
}
