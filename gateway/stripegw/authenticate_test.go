package stripegw_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/internal/stripemock"
)

// stripe-mock answers with fixed fixtures and never leaves a PaymentIntent
// in requires_action, so the 3-D Secure paths are checked against a
// loopback server answering as Stripe documents; stripe-mock checks that
// the requests themselves are valid (TestAuthenticationRequestsStripeMock).

func TestChargeRequiresAction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pi   string
		want tierup.NextAction
	}{
		{"redirect", `{"id":"pi_1","object":"payment_intent","status":"requires_action","amount":2900,"currency":"usd","client_secret":"pi_1_secret_x",
			"next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d_secure/x","return_url":"http://127.0.0.1/u"}}}`,
			tierup.NextAction{Type: tierup.NextActionRedirect, URL: "https://hooks.stripe.com/3d_secure/x"}},
		{"stripe sdk", `{"id":"pi_1","object":"payment_intent","status":"requires_action","amount":2900,"currency":"usd","client_secret":"pi_1_secret_x",
			"next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{}}}`,
			tierup.NextAction{Type: tierup.NextActionStripeSDK, ClientSecret: "pi_1_secret_x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := serve(t, 200, tt.pi)
			g, c := newGateway(t, base)
			ch, err := g.Charge(context.Background(), tierup.ChargeRequest{IdempotencyKey: "upg_1:payment:1", Amount: tierup.Money{Amount: 2900, Currency: "USD"},
				PaymentMethod: card("pm_card_threeDSecure2Required"), ReturnURL: "http://127.0.0.1/upgrades/upg_1"})
			if err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if ch.ID != "pi_1" || ch.Status != tierup.ChargeRequiresAction || ch.NextAction == nil || *ch.NextAction != tt.want {
				t.Errorf("Charge = %+v (next action %+v), want requires_action with %+v", ch, ch.NextAction, tt.want)
			}
			wantForm(t, c.only(t).Form, map[string]string{"return_url": "http://127.0.0.1/upgrades/upg_1", "confirm": "true"})
		})
	}
}

func TestLookupCharge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pi     string
		status tierup.ChargeStatus
		code   tierup.PaymentCode
		amount tierup.Money
	}{
		{"authenticated and paid", `{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":500000,"currency":"isk"}`,
			tierup.ChargeSucceeded, "", tierup.Money{Amount: 5000, Currency: "ISK"}},
		{"still waiting", `{"id":"pi_1","object":"payment_intent","status":"requires_action","amount":2900,"currency":"usd","client_secret":"s"}`,
			tierup.ChargeRequiresAction, "", tierup.Money{Amount: 2900, Currency: "USD"}},
		{"authentication failed", `{"id":"pi_1","object":"payment_intent","status":"requires_payment_method","amount":2900,"currency":"usd",
			"last_payment_error":{"type":"card_error","code":"payment_intent_authentication_failure","message":"Stripe says no"}}`,
			"", tierup.PayCodeAuthenticationFailed, tierup.Money{}},
		{"declined after authentication", `{"id":"pi_1","object":"payment_intent","status":"requires_payment_method","amount":2900,"currency":"usd",
			"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Stripe says no"}}`,
			"", tierup.PayCodeCardDeclined, tierup.Money{}},
		{"canceled", `{"id":"pi_1","object":"payment_intent","status":"canceled","amount":2900,"currency":"usd"}`,
			tierup.ChargeCanceled, "", tierup.Money{Amount: 2900, Currency: "USD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := serve(t, 200, tt.pi)
			g, c := newGateway(t, base)
			ch, err := g.LookupCharge(context.Background(), "pi_1")
			if sent := c.only(t); sent.Method != http.MethodGet || sent.Path != "/v1/payment_intents/pi_1" {
				t.Errorf("sent %s %s, want GET /v1/payment_intents/pi_1", sent.Method, sent.Path)
			}
			if tt.code != "" {
				check(t, err, want{code: tt.code, decline: map[bool]string{true: "insufficient_funds"}[tt.code == tierup.PayCodeCardDeclined]})
				return
			}
			if err != nil || ch.Status != tt.status || ch.Amount != tt.amount {
				t.Errorf("LookupCharge = %+v, %v; want %s of %v", ch, err, tt.status, tt.amount)
			}
		})
	}
}

// TestCancelCharge: a PaymentIntent that can no longer be canceled
// because the customer authenticated first is read again, so the payment
// is known, not lost.
func TestCancelCharge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cancel func(w http.ResponseWriter)
		want   tierup.ChargeStatus
		calls  int
	}{
		{"canceled", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"id":"pi_1","object":"payment_intent","status":"canceled","amount":2900,"currency":"usd"}`)
		}, tierup.ChargeCanceled, 1},
		{"the customer was faster", func(w http.ResponseWriter) {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, stripeError("invalid_request_error", "payment_intent_unexpected_state", "", "already succeeded"))
		}, tierup.ChargeSucceeded, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel") {
					tt.cancel(w)
					return
				}
				_, _ = io.WriteString(w, `{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":2900,"currency":"usd"}`)
			}))
			t.Cleanup(srv.Close)
			g, c := newGateway(t, srv.URL)
			ch, err := g.CancelCharge(context.Background(), "pi_1")
			if err != nil || ch.Status != tt.want {
				t.Fatalf("CancelCharge = %+v, %v; want %s", ch, err, tt.want)
			}
			sent := c.all()
			if len(sent) != tt.calls || sent[0].Path != "/v1/payment_intents/pi_1/cancel" || sent[0].Header.Get("Idempotency-Key") != "tierup:cancel:pi_1" {
				t.Errorf("sent %+v", sent)
			}
			wantForm(t, sent[0].Form, map[string]string{"cancellation_reason": "abandoned"})
		})
	}
}

// TestAuthenticationRequestsStripeMock sends the 3-D Secure requests to
// stripe-mock, which validates them against Stripe's OpenAPI description:
// a parameter Stripe does not know fails here.
func TestAuthenticationRequestsStripeMock(t *testing.T) {
	t.Parallel()
	base := stripemock.Start(t)
	g, _ := newGateway(t, base)
	ctx := context.Background()
	_, err := g.Charge(ctx, tierup.ChargeRequest{IdempotencyKey: "k-3ds", Amount: tierup.Money{Amount: 2900, Currency: "USD"},
		PaymentMethod: card("pm_card_visa"), ReturnURL: "http://127.0.0.1:8080/upgrades/upg_1"})
	acceptedByStripe(t, "Charge with return_url", err)
	_, err = g.LookupCharge(ctx, "pi_123")
	acceptedByStripe(t, "LookupCharge", err)
	_, err = g.CancelCharge(ctx, "pi_123")
	acceptedByStripe(t, "CancelCharge", err)
}

// acceptedByStripe fails unless err is nil or a payment outcome: never a
// request Stripe refuses as malformed.
func acceptedByStripe(t *testing.T, what string, err error) {
	t.Helper()
	var pe *tierup.PaymentError
	if err != nil && (!errors.As(err, &pe) || pe.Code == stripegw.CodeInvalidRequest || pe.Code == "parameter_unknown" || pe.Code == "parameter_missing") {
		t.Errorf("%s: %v", what, err)
	}
}
