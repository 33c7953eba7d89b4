package sandbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sandbox"
)

func newGateway(t *testing.T, dsn string) (*sandbox.Gateway, *sandbox.Faults) {
	db := dbtest.OpenStore(t, dsn)
	clock := tierup.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	faults := &sandbox.Faults{Store: db, Clock: clock}
	return &sandbox.Gateway{Store: db, Clock: clock, Faults: faults}, faults
}

func card(t *testing.T, g *sandbox.Gateway, number string) *tierup.PaymentMethod {
	t.Helper()
	ref, err := g.TokenizeCard(context.Background(), tierup.Card{Number: number, ExpMonth: 12, ExpYear: 2030, CVC: "123"})
	if err != nil {
		t.Fatal(err)
	}
	return &tierup.PaymentMethod{ID: "pm_x", GatewayRef: ref}
}

func usd(n int64) tierup.Money { return tierup.Money{Amount: n, Currency: "USD"} }

func TestTestCards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		g, _ := newGateway(t, dsn)
		ctx := context.Background()
		tests := []struct {
			number    string
			code      tierup.PaymentCode
			decline   string
			retryable bool
		}{
			{"4242424242424242", "", "", false},
			{"5555555555554444", "", "", false},
			{"378282246310005", "", "", false},
			{"4000000000000002", "card_declined", "generic_decline", false},
			{"4000000000009995", "card_declined", "insufficient_funds", false},
			{"4000000000000069", "expired_card", "expired_card", false},
			{"4000000000000127", "incorrect_cvc", "incorrect_cvc", false},
			{"4000000000000119", "processing_error", "", true},
			{"4111111111111111", "card_declined", "test_mode_live_card", false},
		}
		for _, tt := range tests {
			pm := card(t, g, tt.number)
			for try := range 2 { // the same key gives the same answer
				ch, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: "k-" + tt.number, Amount: usd(2900), PaymentMethod: pm})
				var pe *tierup.PaymentError
				switch {
				case tt.code == "" && (err != nil || ch.Amount != usd(2900)):
					t.Errorf("%s try %d: %v %v", tt.number, try, ch, err)
				case tt.code != "" && (!errors.As(err, &pe) || pe.Code != tt.code || pe.DeclineCode != tt.decline || pe.Retryable != tt.retryable || pe.Message == ""):
					t.Errorf("%s try %d: %v", tt.number, try, err)
				}
			}
		}
		ledger, err := g.Ledger(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, e := range ledger {
			if e.Succeeded() {
				ok++
			}
		}
		// processing_error is not recorded, like a request the processor never took.
		if ok != 3 || len(ledger) != 8 {
			t.Errorf("ledger: %d entries, %d succeeded", len(ledger), ok)
		}
	})
}

func TestIdempotencyLikeStripe(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		g, _ := newGateway(t, dsn)
		ctx := context.Background()
		pm := card(t, g, "4242424242424242")
		req := tierup.ChargeRequest{IdempotencyKey: "upg_1:payment:1", Amount: usd(8100), PaymentMethod: pm, Metadata: map[string]string{"upgrade": "upg_1"}}

		var wg sync.WaitGroup
		ids := make(chan string, 20)
		for range 20 {
			wg.Go(func() {
				ch, err := g.Charge(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				ids <- ch.ID
			})
		}
		wg.Wait()
		close(ids)
		first := <-ids
		for id := range ids {
			if id != first {
				t.Errorf("the same key charged twice: %s and %s", first, id)
			}
		}

		other := req
		other.Amount = usd(8000)
		var pe *tierup.PaymentError
		if _, err := g.Charge(ctx, other); !errors.As(err, &pe) || pe.Code != "idempotency_key_reused" {
			t.Errorf("same key, other amount: %v", err)
		}

		ref := tierup.RefundRequest{IdempotencyKey: "upg_1:refund", ChargeID: first, Amount: usd(8100)}
		r1, err := g.Refund(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if r2, err := g.Refund(ctx, ref); err != nil || r2.ID != r1.ID {
			t.Errorf("refund replay: %v %v", r2, err)
		}
		if _, err := g.Refund(ctx, tierup.RefundRequest{IdempotencyKey: "other", ChargeID: first, Amount: usd(9000)}); !errors.As(err, &pe) {
			t.Errorf("refunding more than charged: %v", err)
		}
	})
}

func TestFaults(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		g, faults := newGateway(t, dsn)
		ctx := context.Background()
		pm := card(t, g, "4242424242424242")
		if _, err := faults.Inject(ctx, sandbox.FaultGatewayTimeout, 1, 0); err != nil {
			t.Fatal(err)
		}
		req := tierup.ChargeRequest{IdempotencyKey: "k", Amount: usd(100), PaymentMethod: pm}
		var pe *tierup.PaymentError
		if _, err := g.Charge(ctx, req); !errors.As(err, &pe) || !pe.Retryable {
			t.Fatalf("lost answer: %v", err)
		}
		if _, err := g.Charge(ctx, req); err != nil {
			t.Fatalf("retry with the same key: %v", err)
		}
		if l, _ := g.Ledger(ctx); len(l) != 1 {
			t.Errorf("%d ledger entries, want the one charge", len(l))
		}

		if _, err := faults.Inject(ctx, sandbox.FaultGatewayUnreachable, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: "k2", Amount: usd(100), PaymentMethod: pm}); !errors.As(err, &pe) || !pe.Unavailable {
			t.Errorf("unreachable: %v", err)
		}
		if fs, _ := faults.List(ctx); len(fs) != 1 || fs[0].Kind != sandbox.FaultGatewayUnreachable {
			t.Errorf("faults: %+v", fs)
		}
		if err := faults.Clear(ctx, sandbox.FaultGatewayUnreachable); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: "k2", Amount: usd(100), PaymentMethod: pm}); err != nil {
			t.Errorf("after clearing: %v", err)
		}

		for _, bad := range []struct {
			kind  string
			count int
			d     time.Duration
		}{{"meteor", 1, 0}, {sandbox.FaultResourceShortage, 0, 0}, {sandbox.FaultClusterUnreachable, 0, 0}} {
			if _, err := faults.Inject(ctx, bad.kind, bad.count, bad.d); !errors.Is(err, tierup.ErrInvalid) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
	})
}
