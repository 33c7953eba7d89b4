package sandbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sandbox"
)

func customerFor(t *testing.T, g *sandbox.Gateway, accountID string) string {
	t.Helper()
	ref, err := g.EnsureCustomer(context.Background(), tierup.CustomerRequest{IdempotencyKey: tierup.CustomerKey(accountID), AccountID: accountID, Email: "dev@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestEnsureCustomerIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		g, _ := newGateway(t, dsn)
		ctx := context.Background()
		const n = 4
		refs := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { refs[i] = customerFor(t, g, "acct_1") })
		}
		wg.Wait()
		for _, r := range refs {
			if r == "" || r != refs[0] {
				t.Fatalf("concurrent requests with one key made customers %v, want one", refs)
			}
		}
		if other := customerFor(t, g, "acct_2"); other == refs[0] {
			t.Errorf("two accounts share customer %s", other)
		}
		_, err := g.EnsureCustomer(ctx, tierup.CustomerRequest{IdempotencyKey: tierup.CustomerKey("acct_1"), AccountID: "acct_2"})
		var pe *tierup.PaymentError
		if !errors.As(err, &pe) || pe.Code != tierup.PayCodeIdempotencyKeyReused {
			t.Errorf("key reused for another account: %v, want idempotency_key_reused", err)
		}
	})
}

// TestSavedCards charges a card attached to a customer again and again,
// and never once it is detached, as Stripe does.
func TestSavedCards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		g, _ := newGateway(t, dsn)
		ctx := context.Background()
		cus, other := customerFor(t, g, "acct_1"), customerFor(t, g, "acct_2")
		pm := card(t, g, "4242424242424242")
		charge := func(key, customer string) error {
			_, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: key, Amount: usd(2900), PaymentMethod: pm, Customer: customer})
			return err
		}
		steps := []struct {
			name string
			do   func() error
			want tierup.PaymentCode // "" for success
		}{
			{"attach to an unknown customer", func() error { return g.AttachPaymentMethod(ctx, pm.GatewayRef, "cus_sb_nobody") }, tierup.PayCodeResourceMissing},
			{"attach an unknown card", func() error { return g.AttachPaymentMethod(ctx, "pm_sb_nothing", cus) }, tierup.PayCodeResourceMissing},
			{"attach", func() error { return g.AttachPaymentMethod(ctx, pm.GatewayRef, cus) }, ""},
			{"attach again to the same customer", func() error { return g.AttachPaymentMethod(ctx, pm.GatewayRef, cus) }, ""},
			{"attach to another customer", func() error { return g.AttachPaymentMethod(ctx, pm.GatewayRef, other) }, tierup.PayCodeInvalidRequest},
			{"first upgrade", func() error { return charge("upg_1:payment:1", cus) }, ""},
			{"second upgrade, same card", func() error { return charge("upg_2:payment:1", cus) }, ""},
			{"without its customer", func() error { return charge("upg_3:payment:1", "") }, tierup.PayCodeInvalidRequest},
			{"on another customer's behalf", func() error { return charge("upg_3:payment:2", other) }, tierup.PayCodeInvalidRequest},
			{"detach", func() error { return g.DetachPaymentMethod(ctx, pm.GatewayRef) }, ""},
			{"detach again", func() error { return g.DetachPaymentMethod(ctx, pm.GatewayRef) }, ""},
			{"detach an unknown card", func() error { return g.DetachPaymentMethod(ctx, "pm_sb_nothing") }, ""},
			{"replay of a charge made before the detach", func() error { return charge("upg_1:payment:1", cus) }, ""},
			{"charge after the detach", func() error { return charge("upg_4:payment:1", cus) }, tierup.PayCodeResourceMissing},
			{"attach after the detach", func() error { return g.AttachPaymentMethod(ctx, pm.GatewayRef, cus) }, tierup.PayCodeResourceMissing},
		}
		for _, s := range steps {
			err := s.do()
			var pe *tierup.PaymentError
			switch {
			case s.want == "" && err != nil:
				t.Errorf("%s: %v", s.name, err)
			case s.want != "" && (!errors.As(err, &pe) || pe.Code != s.want):
				t.Errorf("%s: %v, want %s", s.name, err, s.want)
			}
		}
		ledger, err := g.Ledger(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ledger) != 2 {
			t.Errorf("ledger has %d entries, want the 2 upgrades' charges", len(ledger))
		}
	})
}

func TestCustomersUnreachable(t *testing.T) {
	g, faults := newGateway(t, dbtest.SQLite(t))
	ctx := context.Background()
	if _, err := faults.Inject(ctx, tierup.FaultSpec{Kind: sandbox.FaultGatewayUnreachable, Duration: 60e9}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"ensure": func() error {
			_, err := g.EnsureCustomer(ctx, tierup.CustomerRequest{IdempotencyKey: "k", AccountID: "a"})
			return err
		}(),
		"attach": g.AttachPaymentMethod(ctx, "pm_sb_1", "cus_sb_1"),
		"detach": g.DetachPaymentMethod(ctx, "pm_sb_1"),
	} {
		var pe *tierup.PaymentError
		if !errors.As(err, &pe) || !pe.Unavailable {
			t.Errorf("%s while unreachable: %v, want an Unavailable PaymentError", name, err)
		}
	}
}
