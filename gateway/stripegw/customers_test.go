package stripegw_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/stripemock"
)

// TestSavedCardsStripeMock walks a saved card's life against stripe-mock:
// the account's Customer, the card attached to it, two charges on its
// behalf, the detach. stripe-mock validates each request against Stripe's
// OpenAPI spec but is stateless: it answers with canned objects, never
// replays an idempotency key, does not link the card to the Customer and
// would charge a detached card. So the test asserts what the gateway sends
// (paths, Idempotency-Key headers, form fields); that Stripe returns one
// Customer per key, and refuses a second charge of an unattached card or
// any charge of a detached one, is Stripe's documented behaviour that the
// sandbox gateway's tests play out.
func TestSavedCardsStripeMock(t *testing.T) {
	t.Parallel()
	base := stripemock.Start(t)
	// The bundled fixtures never succeed a PaymentIntent; these do.
	succeeded := stripemock.Start(t, stripemock.WithFixtures("testdata/stripe-mock-succeeded.json"))
	ctx := context.Background()

	t.Run("customer created with the account's idempotency key", func(t *testing.T) {
		g, c := newGateway(t, base)
		req := tierup.CustomerRequest{IdempotencyKey: tierup.CustomerKey("acct_1"), AccountID: "acct_1", Email: "dev@example.com", Name: "Dev"}
		for range 2 { // the same key every time: Stripe answers with the first Customer
			ref, err := g.EnsureCustomer(ctx, req)
			if err != nil || !strings.HasPrefix(ref, "cus_") {
				t.Fatalf("EnsureCustomer = %q, %v", ref, err)
			}
		}
		for _, sent := range c.all() {
			if sent.Method != http.MethodPost || sent.Path != "/v1/customers" {
				t.Errorf("sent %s %s, want POST /v1/customers", sent.Method, sent.Path)
			}
			if got := sent.Header.Get("Idempotency-Key"); got != "tierup:customer:acct_1" {
				t.Errorf("Idempotency-Key = %q, want tierup:customer:acct_1", got)
			}
			wantForm(t, sent.Form, map[string]string{"email": "dev@example.com", "name": "Dev", "metadata[account]": "acct_1"})
		}
	})

	t.Run("attach and detach", func(t *testing.T) {
		g, c := newGateway(t, base)
		if err := g.AttachPaymentMethod(ctx, "pm_card_visa", "cus_123"); err != nil {
			t.Fatalf("AttachPaymentMethod: %v", err)
		}
		if err := g.DetachPaymentMethod(ctx, "pm_card_visa"); err != nil {
			t.Fatalf("DetachPaymentMethod: %v", err)
		}
		reqs := c.all()
		if len(reqs) != 2 {
			t.Fatalf("sent %d requests, want 2", len(reqs))
		}
		if reqs[0].Path != "/v1/payment_methods/pm_card_visa/attach" || reqs[0].Header.Get("Idempotency-Key") != "tierup:attach:pm_card_visa:cus_123" {
			t.Errorf("attach sent %s with key %q", reqs[0].Path, reqs[0].Header.Get("Idempotency-Key"))
		}
		wantForm(t, reqs[0].Form, map[string]string{"customer": "cus_123"})
		if reqs[1].Method != http.MethodPost || reqs[1].Path != "/v1/payment_methods/pm_card_visa/detach" {
			t.Errorf("detach sent %s %s", reqs[1].Method, reqs[1].Path)
		}
	})

	t.Run("charges carry the customer", func(t *testing.T) {
		g, c := newGateway(t, succeeded)
		for _, key := range []string{"upg_1:payment:1", "upg_2:payment:1"} { // a second upgrade with the saved card
			_, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: key, Amount: tierup.Money{Amount: 2900, Currency: "USD"},
				PaymentMethod: card("pm_card_visa"), Customer: "cus_123"})
			if err != nil {
				t.Fatalf("Charge %s: %v", key, err)
			}
		}
		for _, sent := range c.all() {
			wantForm(t, sent.Form, map[string]string{"customer": "cus_123", "payment_method": "pm_card_visa"})
		}
	})

	t.Run("a card without a customer is charged without one", func(t *testing.T) {
		g, c := newGateway(t, succeeded)
		if _, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Amount: 2900, Currency: "USD"},
			PaymentMethod: card("pm_card_visa")}); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.only(t).Form["customer"]; ok {
			t.Error("sent an empty customer")
		}
	})
}

// TestAttachDetachTolerance checks, against a scripted server, that an
// attach or detach Stripe refuses because it was done before counts as
// done (the gateway then reads the PaymentMethod back), and nothing else
// does.
func TestAttachDetachTolerance(t *testing.T) {
	t.Parallel()
	refusal := stripeError("invalid_request_error", "", "", "The payment method you provided has already been attached to a customer.")
	missing := `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such PaymentMethod"}}`
	tests := []struct {
		name     string
		status   int    // of the attach or detach
		body     string // of the attach or detach
		owner    string // the "customer" of the PaymentMethod read back: JSON
		detach   bool
		wantErr  tierup.PaymentCode // "" for success
		wantSent int32
	}{
		{"attach: already attached to this customer", 400, refusal, `"cus_1"`, false, "", 2},
		{"attach: attached to another customer", 400, refusal, `"cus_2"`, false, tierup.PayCodeInvalidRequest, 2},
		{"attach: unknown card", 404, missing, `null`, false, tierup.PayCodeResourceMissing, 1},
		{"attach: Stripe down", 500, stripeError("api_error", "", "", "boom"), `"cus_1"`, false, tierup.PayCodeProcessingError, 1},
		{"detach: not attached any more", 400, stripeError("invalid_request_error", "", "", "not attached"), `null`, true, "", 2},
		{"detach: still attached", 400, stripeError("invalid_request_error", "", "", "nope"), `"cus_1"`, true, tierup.PayCodeInvalidRequest, 2},
		{"detach: unknown card", 404, missing, `null`, true, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sent atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent.Add(1)
				w.Header().Set("Content-Type", "application/json")
				if r.Method == http.MethodGet {
					_, _ = io.WriteString(w, `{"id":"pm_1","object":"payment_method","type":"card","customer":`+tt.owner+`}`)
					return
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			g, _ := newGateway(t, srv.URL)
			var err error
			if tt.detach {
				err = g.DetachPaymentMethod(context.Background(), "pm_1")
			} else {
				err = g.AttachPaymentMethod(context.Background(), "pm_1", "cus_1")
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("err = %v, want success", err)
				}
			} else if pe := asPaymentError(t, err); pe.Code != tt.wantErr {
				t.Errorf("code %s, want %s", pe.Code, tt.wantErr)
			}
			if n := sent.Load(); n != tt.wantSent {
				t.Errorf("sent %d requests, want %d", n, tt.wantSent)
			}
		})
	}
}

func TestCustomerRequestsRefusedBeforeSending(t *testing.T) {
	g, c := newGateway(t, "http://127.0.0.1:1")
	ctx := context.Background()
	for name, err := range map[string]error{
		"customer without key": func() error { _, err := g.EnsureCustomer(ctx, tierup.CustomerRequest{AccountID: "acct_1"}); return err }(),
		"attach a non-pm ref":  g.AttachPaymentMethod(ctx, "tok_visa", "cus_1"),
		"attach no customer":   g.AttachPaymentMethod(ctx, "pm_1", ""),
		"detach a non-pm ref":  g.DetachPaymentMethod(ctx, "card_1"),
	} {
		var pe *tierup.PaymentError
		if err == nil || errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a plain error", name, err)
		}
	}
	if n := len(c.all()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}
