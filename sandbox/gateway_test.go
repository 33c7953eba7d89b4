package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
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
		if ok != 3 || len(ledger) != 7 {
			t.Errorf("ledger: %d entries, %d succeeded", len(ledger), ok)
		}
	})
}

// TestOnlyTestCards: like Stripe's test mode, the sandbox takes its test
// cards and refuses every other number, however valid.
func TestOnlyTestCards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		g, _ := newGateway(t, dsn)
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		t.Run("every test card is accepted", func(t *testing.T) {
			if len(sandbox.TestCards()) < 12 {
				t.Fatalf("only %d test cards", len(sandbox.TestCards()))
			}
			for _, number := range sandbox.TestCards() {
				cvc := "123"
				if tierup.CardBrand(number) == tierup.BrandAmex {
					cvc = "1234"
				}
				// A test card the sandbox takes must pass validation too.
				if _, err := tierup.ValidateCard(tierup.Card{Number: number, ExpMonth: 12, ExpYear: 2030, CVC: cvc}, at, nil); err != nil {
					t.Errorf("%s: %v", number, err)
				}
				card(t, g, number)
			}
		})
		t.Run("other numbers are refused", func(t *testing.T) {
			for _, number := range []string{"4111111111111111", "5105105105105100", "4000056655665564", "6011000990139424", "4242", ""} {
				ref, err := g.TokenizeCard(ctx, tierup.Card{Number: number, ExpMonth: 12, ExpYear: 2030, CVC: "123"})
				var pe *tierup.PaymentError
				if !errors.As(err, &pe) || pe.Code != tierup.PayCodeTestCardsOnly || pe.Message != sandbox.TestCardsOnly || pe.Retryable || pe.Unavailable {
					t.Errorf("%q: %q, %v", number, ref, err)
				}
			}
			if recs, err := g.Store.Records(ctx, "sandbox:payment_method"); err != nil || len(recs) != len(sandbox.TestCards()) {
				t.Errorf("%d tokenized cards, want only the test cards (%d): %v", len(recs), len(sandbox.TestCards()), err)
			}
		})
		t.Run("the refusal names cards that do what it says", func(t *testing.T) {
			for _, tt := range []struct {
				number string
				code   tierup.PaymentCode
			}{{"4242 4242 4242 4242", ""}, {"4000 0000 0000 0002", tierup.PayCodeCardDeclined}} {
				if !strings.Contains(sandbox.TestCardsOnly, tt.number) {
					t.Fatalf("the message does not name %s: %s", tt.number, sandbox.TestCardsOnly)
				}
				_, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: "named-" + tt.number, Amount: usd(100), PaymentMethod: card(t, g, tt.number)})
				var pe *tierup.PaymentError
				if tt.code == "" && err != nil || tt.code != "" && (!errors.As(err, &pe) || pe.Code != tt.code) {
					t.Errorf("%s: %v", tt.number, err)
				}
			}
		})
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
		if _, err := faults.Inject(ctx, tierup.FaultSpec{Kind: sandbox.FaultGatewayTimeout, Count: 1}); err != nil {
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

		if _, err := faults.Inject(ctx, tierup.FaultSpec{Kind: sandbox.FaultGatewayUnreachable, Duration: time.Minute}); err != nil {
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

		for _, bad := range []tierup.FaultSpec{
			{Kind: "meteor", Count: 1},
			{Kind: sandbox.FaultResourceShortage},
			{Kind: sandbox.FaultClusterUnreachable},
			{Kind: sandbox.FaultGatewayFlaky},
			{Kind: sandbox.FaultGatewayFlaky, Rate: 1.5},
			{Kind: sandbox.FaultGatewayFlaky, Rate: 0.2, Modes: []string{"meteor"}},
		} {
			if _, err := faults.Inject(ctx, bad); !errors.Is(err, tierup.ErrInvalid) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
	})
}

// TestGatewayFlaky: under gateway_flaky every mode looks the same to the
// caller, an answer that did not come with an unknown outcome, but only a
// lost response moved the money; asking again with the same key tells.
func TestGatewayFlaky(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		for _, tc := range []struct {
			mode  string
			moved bool
		}{{sandbox.FlakyTimeout, false}, {sandbox.FlakyServerError, false}, {sandbox.FlakyLostResponse, true}} {
			t.Run(tc.mode, func(t *testing.T) {
				g, faults := newGateway(t, dsn)
				ctx := context.Background()
				pm := card(t, g, "4242424242424242")
				before := succeeded(t, g) // the subtests share the database
				flt, err := faults.Inject(ctx, tierup.FaultSpec{Kind: sandbox.FaultGatewayFlaky, Rate: 1, Modes: []string{tc.mode}})
				if err != nil || flt.Rate != 1 || len(flt.Modes) != 1 {
					t.Fatalf("inject: %+v %v", flt, err)
				}
				req := tierup.ChargeRequest{IdempotencyKey: "k-" + tc.mode, Amount: usd(100), PaymentMethod: pm}
				var pe *tierup.PaymentError
				if _, err := g.Charge(ctx, req); !errors.As(err, &pe) || !pe.Retryable || !pe.OutcomeUnknown {
					t.Fatalf("charge: %v", err)
				}
				if got := succeeded(t, g) - before; (got == 1) != tc.moved {
					t.Errorf("%d charges in the ledger, money moved: %v", got, tc.moved)
				}
				if _, err := g.Refund(ctx, tierup.RefundRequest{IdempotencyKey: "r", ChargeID: "ch_x", Amount: usd(1)}); !errors.As(err, &pe) || !pe.OutcomeUnknown {
					t.Errorf("refund: %v", err)
				}
				if err := faults.Clear(ctx, sandbox.FaultGatewayFlaky); err != nil {
					t.Fatal(err)
				}
				c1, err := g.Charge(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				c2, err := g.Charge(ctx, req)
				if err != nil || c2.ID != c1.ID || succeeded(t, g)-before != 1 {
					t.Errorf("asking again: %v %v, %d charges", c1, c2, succeeded(t, g)-before)
				}
			})
		}

		t.Run("a share of calls", func(t *testing.T) {
			g, faults := newGateway(t, dsn)
			ctx := context.Background()
			pm := card(t, g, "4242424242424242")
			if _, err := faults.Inject(ctx, tierup.FaultSpec{Kind: sandbox.FaultGatewayFlaky, Rate: 0.5}); err != nil {
				t.Fatal(err)
			}
			failed := 0
			for i := range 200 {
				if _, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: fmt.Sprint("s", i), Amount: usd(100), PaymentMethod: pm}); err != nil {
					failed++
				}
			}
			// Half of 200 on average; outside 40..160 is a 1-in-10^18 draw.
			if failed < 40 || failed > 160 {
				t.Errorf("%d of 200 calls failed at rate 0.5", failed)
			}
		})
	})
}

func succeeded(t *testing.T, g *sandbox.Gateway) int {
	t.Helper()
	l, err := g.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range l {
		if e.Kind == "charge" && e.Succeeded() {
			n++
		}
	}
	return n
}

// TestREADMENamesTheTestCards keeps the README's list of test cards equal
// to the sandbox's: every number it shows is a test card, and every test
// card is shown, whole or as "…" and its last 4 digits.
func TestREADMENamesTheTestCards(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	cards := sandbox.TestCards()
	for _, m := range regexp.MustCompile("[`\"]([0-9]{4}[0-9 ]{9,19}[0-9])[`\"]").FindAllStringSubmatch(readme, -1) {
		if n := tierup.NormalizeCardNumber(m[1]); !slices.Contains(cards, n) {
			t.Errorf("the README shows %s, which is not a test card", m[1])
		}
	}
	grouped := func(n string) string { // as the README writes it
		if len(n) == 16 {
			return n[:4] + " " + n[4:8] + " " + n[8:12] + " " + n[12:]
		}
		return n[:4] + " " + n[4:10] + " " + n[10:]
	}
	for _, n := range cards {
		if !strings.Contains(readme, "`"+grouped(n)+"`") && !strings.Contains(readme, "`…"+n[len(n)-4:]+"`") {
			t.Errorf("the README does not name test card %s", grouped(n))
		}
	}
}
