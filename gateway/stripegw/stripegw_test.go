package stripegw_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v84/webhook"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/internal/stripemock"
)

const testKey = "sk_test_123"

// captured is one request the gateway sent.
type captured struct {
	Method, Path string
	Header       http.Header
	Form         url.Values
}

// capture is a RoundTripper that records outgoing requests, then sends
// them on.
type capture struct {
	mu   sync.Mutex
	reqs []captured
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Method, r.URL.Path, r.Header.Clone(), form})
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

func (c *capture) only(t *testing.T) captured {
	t.Helper()
	reqs := c.all()
	if len(reqs) != 1 {
		t.Fatalf("sent %d requests, want exactly 1 (no retries inside the gateway)", len(reqs))
	}
	return reqs[0]
}

func newGateway(t *testing.T, apiBase string) (*stripegw.Gateway, *capture) {
	t.Helper()
	c := &capture{}
	g, err := stripegw.New(stripegw.Config{
		SecretKey:     testKey,
		APIBase:       apiBase,
		HTTPClient:    &http.Client{Transport: c},
		WebhookSecret: "whsec_test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

func card(ref string) *tierup.PaymentMethod {
	return &tierup.PaymentMethod{ID: "pm_tierup_1", Brand: "visa", Last4: "4242", GatewayRef: ref}
}

func asPaymentError(t *testing.T, err error) *tierup.PaymentError {
	t.Helper()
	var pe *tierup.PaymentError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *tierup.PaymentError", err, err)
	}
	if pe.Message == "" {
		t.Errorf("PaymentError %q has no message", pe.Code)
	}
	return pe
}

func wantForm(t *testing.T, got url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g := got.Get(k); g != v {
			t.Errorf("form %s = %q, want %q", k, g, v)
		}
	}
}

func TestChargeStripeMock(t *testing.T) {
	t.Parallel()
	// The bundled fixtures answer every PaymentIntent with status
	// requires_payment_method; these make it "succeeded".
	base := stripemock.Start(t, stripemock.WithFixtures("testdata/stripe-mock-succeeded.json"))
	tests := []struct {
		name       string
		amount     tierup.Money
		ref        string
		wantAmount string
		wantCur    string
	}{
		{"visa USD", tierup.Money{Amount: 2900, Currency: "USD"}, "pm_card_visa", "2900", "usd"},
		{"mastercard JPY zero-decimal", tierup.Money{Amount: 3000, Currency: "JPY"}, "pm_card_mastercard", "3000", "jpy"},
		{"amex ISK takes two decimals at Stripe", tierup.Money{Amount: 5000, Currency: "ISK"}, "pm_card_amex", "500000", "isk"},
		{"visa KWD three decimals", tierup.Money{Amount: 12340, Currency: "KWD"}, "pm_card_visa_debit", "12340", "kwd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, c := newGateway(t, base)
			req := tierup.ChargeRequest{
				IdempotencyKey: "upgrade_1-attempt_1-" + tt.ref,
				Amount:         tt.amount,
				PaymentMethod:  card(tt.ref),
				Description:    "Upgrade to Pro",
				Metadata:       map[string]string{"upgrade_id": "up_1", "quote_id": "q_1"},
			}
			ch, err := g.Charge(context.Background(), req)
			if err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if !strings.HasPrefix(ch.ID, "pi_") || ch.Amount != tt.amount {
				t.Errorf("Charge = %+v, want a pi_ ID and amount %v", ch, tt.amount)
			}
			sent := c.only(t)
			if sent.Method != http.MethodPost || sent.Path != "/v1/payment_intents" {
				t.Errorf("sent %s %s, want POST /v1/payment_intents", sent.Method, sent.Path)
			}
			if got := sent.Header.Get("Idempotency-Key"); got != req.IdempotencyKey {
				t.Errorf("Idempotency-Key = %q, want %q", got, req.IdempotencyKey)
			}
			wantForm(t, sent.Form, map[string]string{
				"amount":                  tt.wantAmount,
				"currency":                tt.wantCur,
				"confirm":                 "true",
				"payment_method":          tt.ref,
				"payment_method_types[0]": "card",
				"description":             "Upgrade to Pro",
				"metadata[upgrade_id]":    "up_1",
				"metadata[quote_id]":      "q_1",
			})
		})
	}
}

func TestStripeMockBundledFixtures(t *testing.T) {
	t.Parallel()
	base := stripemock.Start(t)

	t.Run("charge not succeeded is a PaymentError", func(t *testing.T) {
		g, _ := newGateway(t, base)
		_, err := g.Charge(context.Background(), tierup.ChargeRequest{
			IdempotencyKey: "k-unpaid",
			Amount:         tierup.Money{Amount: 2900, Currency: "USD"},
			PaymentMethod:  card("pm_card_visa"),
		})
		pe := asPaymentError(t, err)
		if pe.Code != stripegw.CodePaymentFailed || pe.Retryable || pe.Unavailable {
			t.Errorf("got %+v, want code %s, not retryable", pe, stripegw.CodePaymentFailed)
		}
	})

	t.Run("refund", func(t *testing.T) {
		g, c := newGateway(t, base)
		req := tierup.RefundRequest{
			IdempotencyKey: "upgrade_1-refund",
			ChargeID:       "pi_123",
			Amount:         tierup.Money{Amount: 1450, Currency: "USD"},
			Reason:         "requested_by_customer",
		}
		re, err := g.Refund(context.Background(), req)
		if err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if !strings.HasPrefix(re.ID, "re_") || re.ChargeID != "pi_123" || re.Amount != req.Amount {
			t.Errorf("Refund = %+v", re)
		}
		sent := c.only(t)
		if sent.Path != "/v1/refunds" || sent.Header.Get("Idempotency-Key") != req.IdempotencyKey {
			t.Errorf("sent %s with Idempotency-Key %q", sent.Path, sent.Header.Get("Idempotency-Key"))
		}
		wantForm(t, sent.Form, map[string]string{
			"payment_intent":   "pi_123",
			"amount":           "1450",
			"reason":           "requested_by_customer",
			"metadata[reason]": "requested_by_customer",
		})
	})

	t.Run("free-text refund reason goes to metadata only", func(t *testing.T) {
		g, c := newGateway(t, base)
		_, err := g.Refund(context.Background(), tierup.RefundRequest{
			IdempotencyKey: "upgrade_2-refund",
			ChargeID:       "pi_456",
			Amount:         tierup.Money{Amount: 100, Currency: "USD"},
			Reason:         "node provisioning failed",
		})
		if err != nil {
			t.Fatalf("Refund: %v", err)
		}
		sent := c.only(t)
		if _, ok := sent.Form["reason"]; ok {
			t.Errorf("sent reason=%q; Stripe only takes its enum", sent.Form.Get("reason"))
		}
		wantForm(t, sent.Form, map[string]string{"metadata[reason]": "node provisioning failed"})
	})
}

func TestTokenizeCardRefuses(t *testing.T) {
	g, c := newGateway(t, "http://127.0.0.1:1")
	ref, err := g.TokenizeCard(context.Background(), tierup.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123"})
	pe := asPaymentError(t, err)
	if ref != "" || pe.Code != "tokenization_unsupported" || !strings.Contains(pe.Message, "pm_") {
		t.Errorf("got %q, %+v", ref, pe)
	}
	if strings.Contains(pe.Error(), "4242") {
		t.Errorf("error echoes card data: %s", pe.Error())
	}
	if n := len(c.all()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

// stripeError is the body Stripe sends with an error status.
func stripeError(typ, code, decline, msg string) string {
	return fmt.Sprintf(`{"error":{"type":%q,"code":%q,"decline_code":%q,"message":%q}}`, typ, code, decline, msg)
}

// serve starts a loopback server answering every request with status and
// body, counting requests.
func serve(t *testing.T, status int, body string) (url string, count func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Request-Id", "req_test")
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

type want struct {
	code                   tierup.PaymentCode
	decline                string
	retryable, unavailable bool
}

func check(t *testing.T, err error, w want) {
	t.Helper()
	pe := asPaymentError(t, err)
	if pe.Code != w.code || pe.DeclineCode != w.decline || pe.Retryable != w.retryable || pe.Unavailable != w.unavailable {
		t.Errorf("got {Code:%s DeclineCode:%s Retryable:%v Unavailable:%v}, want %+v",
			pe.Code, pe.DeclineCode, pe.Retryable, pe.Unavailable, w)
	}
	if strings.Contains(pe.Error(), "4242") || strings.Contains(pe.Error(), "Stripe says") {
		t.Errorf("message repeats Stripe's text: %s", pe.Error())
	}
}

type op struct {
	name string
	call func(g *stripegw.Gateway) error
}

// ops runs the same failure through Charge and Refund: both map errors
// alike.
func ops() []op {
	return []op{
		{"charge", func(g *stripegw.Gateway) error {
			_, err := g.Charge(context.Background(), tierup.ChargeRequest{
				IdempotencyKey: "k1",
				Amount:         tierup.Money{Amount: 2900, Currency: "USD"},
				PaymentMethod:  card("pm_card_visa"),
			})
			return err
		}},
		{"refund", func(g *stripegw.Gateway) error {
			_, err := g.Refund(context.Background(), tierup.RefundRequest{
				IdempotencyKey: "k2",
				ChargeID:       "pi_1",
				Amount:         tierup.Money{Amount: 2900, Currency: "USD"},
			})
			return err
		}},
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	// Stripe's messages here carry a card number to prove it never reaches
	// ours.
	const leak = "Stripe says card 4242424242424242 "
	tests := []struct {
		name   string
		status int
		body   string
		want   want
	}{
		{"insufficient funds", 402, stripeError("card_error", "card_declined", "insufficient_funds", leak+"has insufficient funds."),
			want{code: "card_declined", decline: "insufficient_funds"}},
		{"generic decline", 402, stripeError("card_error", "card_declined", "generic_decline", leak+"was declined."),
			want{code: "card_declined", decline: "generic_decline"}},
		{"stolen card", 402, stripeError("card_error", "card_declined", "stolen_card", leak+"was declined."),
			want{code: "card_declined", decline: "stolen_card"}},
		{"expired card", 402, stripeError("card_error", "expired_card", "expired_card", leak+"has expired."),
			want{code: "expired_card", decline: "expired_card"}},
		{"incorrect cvc", 402, stripeError("card_error", "incorrect_cvc", "", leak+"CVC is incorrect."),
			want{code: "incorrect_cvc"}},
		{"card processing error", 402, stripeError("card_error", "processing_error", "", leak+"processing error."),
			want{code: "processing_error", retryable: true}},
		{"rate limited", 429, stripeError("invalid_request_error", "rate_limit", "", leak+"too many requests."),
			want{code: stripegw.CodeRateLimited, retryable: true}},
		{"lock timeout", 429, stripeError("invalid_request_error", "lock_timeout", "", leak+"lock timeout."),
			want{code: stripegw.CodeRateLimited, retryable: true}},
		{"api error 500", 500, stripeError("api_error", "", "", leak+"internal error."),
			want{code: stripegw.CodeProcessingError, retryable: true}},
		{"proxy 502 not JSON", 502, "<html>Bad Gateway</html>",
			want{code: stripegw.CodeProcessingError, retryable: true}},
		{"idempotency mismatch", 400, stripeError("idempotency_error", "", "", leak+"Keys for idempotent requests can only be used with the same parameters."),
			want{code: "idempotency_key_reused"}},
		{"idempotency key in use", 409, stripeError("invalid_request_error", "idempotency_key_in_use", "", leak+"in use."),
			want{code: stripegw.CodeIdempotencyKeyInUse, retryable: true}},
		{"bad API key", 401, stripeError("invalid_request_error", "", "", "Invalid API Key provided: sk_test_****"),
			want{code: stripegw.CodeMisconfigured, retryable: true, unavailable: true}},
		{"amount too small", 400, stripeError("invalid_request_error", "amount_too_small", "", leak+"too small."),
			want{code: "amount_too_small"}},
		{"invalid request without code", 400, stripeError("invalid_request_error", "", "", leak+"bad."),
			want{code: stripegw.CodeInvalidRequest}},
	}
	for _, tt := range tests {
		for _, op := range ops() {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				t.Parallel()
				base, count := serve(t, tt.status, tt.body)
				g, _ := newGateway(t, base)
				check(t, op.call(g), tt.want)
				if n := count(); n != 1 {
					t.Errorf("server got %d requests, want 1: stripe-go must not retry", n)
				}
			})
		}
	}
}

func TestChargeStatusNotSucceeded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pi   string
		want want
	}{
		{"processing", `{"id":"pi_1","object":"payment_intent","status":"processing"}`,
			want{code: stripegw.CodePaymentPending, retryable: true}},
		{"declined by last payment error", `{"id":"pi_1","object":"payment_intent","status":"requires_payment_method",
			"last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Stripe says no"}}`,
			want{code: "card_declined", decline: "insufficient_funds"}},
		{"requires payment method, no reason", `{"id":"pi_1","object":"payment_intent","status":"requires_payment_method"}`,
			want{code: stripegw.CodePaymentFailed}},
		{"canceled", `{"id":"pi_1","object":"payment_intent","status":"canceled"}`,
			want{code: stripegw.CodePaymentFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := serve(t, 200, tt.pi)
			g, _ := newGateway(t, base)
			check(t, ops()[0].call(g), tt.want)
		})
	}
}

func TestRefundStatus(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status string
		ok     bool
	}{{"succeeded", true}, {"pending", true}, {"failed", false}, {"canceled", false}} {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			base, _ := serve(t, 200, `{"id":"re_1","object":"refund","status":"`+tt.status+`"}`)
			g, _ := newGateway(t, base)
			err := ops()[1].call(g)
			if tt.ok {
				if err != nil {
					t.Fatalf("Refund: %v", err)
				}
				return
			}
			check(t, err, want{code: stripegw.CodeRefundFailed})
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens, the dial is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	for _, op := range ops() {
		t.Run(op.name, func(t *testing.T) {
			g, _ := newGateway(t, "http://"+addr)
			check(t, op.call(g), want{code: "gateway_unavailable", retryable: true, unavailable: true})
		})
	}
}

// hang starts a server that accepts requests and never answers them; got
// receives each request as it arrives.
func hang(t *testing.T) (url string, got <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	arrived := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL, arrived
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	base, _ := hang(t)
	g, _ := newGateway(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := g.Charge(ctx, tierup.ChargeRequest{
		IdempotencyKey: "k-timeout",
		Amount:         tierup.Money{Amount: 2900, Currency: "USD"},
		PaymentMethod:  card("pm_card_visa"),
	})
	check(t, err, want{code: stripegw.CodeTimeout, retryable: true})
}

func TestCallerCancelStaysContextError(t *testing.T) {
	t.Parallel()
	base, arrived := hang(t)
	g, _ := newGateway(t, base)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-arrived; cancel() }()
	_, err := g.Refund(ctx, tierup.RefundRequest{
		IdempotencyKey: "k-cancel",
		ChargeID:       "pi_1",
		Amount:         tierup.Money{Amount: 100, Currency: "USD"},
	})
	var pe *tierup.PaymentError
	if !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
		t.Errorf("err = %v (%T), want a wrapped context.Canceled", err, err)
	}
}

func TestInputRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	usd := tierup.Money{Amount: 2900, Currency: "USD"}
	tests := []struct {
		name string
		req  tierup.ChargeRequest
	}{
		{"no idempotency key", tierup.ChargeRequest{Amount: usd, PaymentMethod: card("pm_card_visa")}},
		{"key too long", tierup.ChargeRequest{IdempotencyKey: strings.Repeat("k", 256), Amount: usd, PaymentMethod: card("pm_card_visa")}},
		{"no payment method", tierup.ChargeRequest{IdempotencyKey: "k", Amount: usd}},
		{"no gateway ref", tierup.ChargeRequest{IdempotencyKey: "k", Amount: usd, PaymentMethod: card("")}},
		{"zero amount", tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Currency: "USD"}, PaymentMethod: card("pm_card_visa")}},
		{"negative amount", tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Amount: -1, Currency: "USD"}, PaymentMethod: card("pm_card_visa")}},
		{"unknown currency", tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Amount: 100, Currency: "XXX"}, PaymentMethod: card("pm_card_visa")}},
		{"KWD not ending in 0", tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Amount: 1255, Currency: "KWD"}, PaymentMethod: card("pm_card_visa")}},
		{"three decimals Stripe lacks", tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Amount: 1250, Currency: "IQD"}, PaymentMethod: card("pm_card_visa")}},
		{"four decimals", tierup.ChargeRequest{IdempotencyKey: "k", Amount: tierup.Money{Amount: 10000, Currency: "CLF"}, PaymentMethod: card("pm_card_visa")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, count := serve(t, 500, "{}")
			g, _ := newGateway(t, base)
			_, err := g.Charge(context.Background(), tt.req)
			var pe *tierup.PaymentError
			if err == nil || errors.As(err, &pe) {
				t.Errorf("err = %v, want a plain error", err)
			}
			if n := count(); n != 0 {
				t.Errorf("sent %d requests, want none", n)
			}
		})
	}
	t.Run("refund without amount", func(t *testing.T) {
		base, count := serve(t, 500, "{}")
		g, _ := newGateway(t, base)
		if _, err := g.Refund(context.Background(), tierup.RefundRequest{IdempotencyKey: "k", ChargeID: "pi_1"}); err == nil {
			t.Error("refund without an amount accepted; Stripe would refund everything")
		}
		if n := count(); n != 0 {
			t.Errorf("sent %d requests, want none", n)
		}
	})
}

func TestNew(t *testing.T) {
	for _, cfg := range []stripegw.Config{
		{},
		{SecretKey: "pk_test_123"},
		{SecretKey: testKey, APIBase: "127.0.0.1:12111"},
		{SecretKey: testKey, APIBase: "ftp://127.0.0.1"},
	} {
		if _, err := stripegw.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	g, err := stripegw.New(stripegw.Config{SecretKey: testKey})
	if err != nil || g.Name() != "stripe" {
		t.Errorf("New = %v, %v", g, err)
	}
}

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	const secret = "whsec_test"
	g, _ := newGateway(t, "http://127.0.0.1:1")
	now := time.Unix(1_767_225_600, 0) // 2026-01-01T00:00:00Z
	sign := func(payload, secret string, at time.Time) string {
		return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload: []byte(payload), Secret: secret, Timestamp: at,
		}).Header
	}
	succeeded := `{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded","metadata":{"upgrade_id":"up_1"}}}}`
	failed := `{"id":"evt_2","object":"event","type":"payment_intent.payment_failed","data":{"object":{"id":"pi_2","object":"payment_intent","status":"requires_payment_method"}}}`
	refunded := `{"id":"evt_3","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_3","object":"charge","payment_intent":"pi_3","amount":2900,"amount_refunded":2900,"refunded":true}}}`
	partial := `{"id":"evt_4","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_4","object":"charge","payment_intent":{"id":"pi_4","object":"payment_intent"},"amount":2900,"amount_refunded":100,"refunded":false}}}`
	other := `{"id":"evt_5","object":"event","type":"customer.created","data":{"object":{"id":"cus_5","object":"customer"}}}`

	tests := []struct {
		name    string
		payload string
		header  string
		want    stripegw.Event
		wantErr error
	}{
		{"payment succeeded", succeeded, sign(succeeded, secret, now),
			stripegw.Event{ID: "evt_1", Type: "payment_intent.succeeded", PaymentIntentID: "pi_1", Status: "succeeded", Metadata: map[string]string{"upgrade_id": "up_1"}}, nil},
		{"payment failed", failed, sign(failed, secret, now.Add(-4*time.Minute)),
			stripegw.Event{ID: "evt_2", Type: "payment_intent.payment_failed", PaymentIntentID: "pi_2", Status: "requires_payment_method"}, nil},
		{"charge refunded", refunded, sign(refunded, secret, now),
			stripegw.Event{ID: "evt_3", Type: "charge.refunded", PaymentIntentID: "pi_3", Status: "refunded"}, nil},
		{"charge partially refunded, expanded intent", partial, sign(partial, secret, now),
			stripegw.Event{ID: "evt_4", Type: "charge.refunded", PaymentIntentID: "pi_4", Status: "partially_refunded"}, nil},
		{"other event type", other, sign(other, secret, now),
			stripegw.Event{ID: "evt_5", Type: "customer.created"}, nil},
		{"rolled secret: one of two signatures valid", succeeded,
			sign(succeeded, "whsec_old", now) + ",v1=" + strings.TrimPrefix(strings.Split(sign(succeeded, secret, now), ",")[1], "v1="),
			stripegw.Event{ID: "evt_1", Type: "payment_intent.succeeded", PaymentIntentID: "pi_1", Status: "succeeded", Metadata: map[string]string{"upgrade_id": "up_1"}}, nil},
		{"wrong secret", succeeded, sign(succeeded, "whsec_other", now), stripegw.Event{}, stripegw.ErrBadSignature},
		{"tampered payload", strings.Replace(succeeded, "pi_1", "pi_9", 1), sign(succeeded, secret, now), stripegw.Event{}, stripegw.ErrBadSignature},
		{"too old", succeeded, sign(succeeded, secret, now.Add(-6*time.Minute)), stripegw.Event{}, stripegw.ErrSignatureExpired},
		{"from the future", succeeded, sign(succeeded, secret, now.Add(6*time.Minute)), stripegw.Event{}, stripegw.ErrSignatureExpired},
		{"no header", succeeded, "", stripegw.Event{}, stripegw.ErrBadSignature},
		{"no v1 signature", succeeded, fmt.Sprintf("t=%d,v0=abcd", now.Unix()), stripegw.Event{}, stripegw.ErrBadSignature},
		{"no timestamp", succeeded, "v1=" + strings.Split(sign(succeeded, secret, now), "v1=")[1], stripegw.Event{}, stripegw.ErrBadSignature},
		{"garbage header", succeeded, "garbage", stripegw.Event{}, stripegw.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.ParseWebhook([]byte(tt.payload), tt.header, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, stripegw.ErrBadSignature) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if got.ID != tt.want.ID || got.Type != tt.want.Type || got.PaymentIntentID != tt.want.PaymentIntentID ||
				got.Status != tt.want.Status || fmt.Sprint(got.Metadata) != fmt.Sprint(tt.want.Metadata) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("expired is told apart from a bad signature", func(t *testing.T) {
		_, err := g.ParseWebhook([]byte(succeeded), sign(succeeded, "whsec_other", now), now)
		if errors.Is(err, stripegw.ErrSignatureExpired) {
			t.Errorf("wrong secret reported as expired: %v", err)
		}
	})
	t.Run("valid signature, not an event", func(t *testing.T) {
		body := `{"id":"pi_1","object":"payment_intent"}`
		_, err := g.ParseWebhook([]byte(body), sign(body, secret, now), now)
		if err == nil || errors.Is(err, stripegw.ErrBadSignature) {
			t.Errorf("err = %v, want a payload error", err)
		}
	})
	t.Run("no secret configured", func(t *testing.T) {
		g, err := stripegw.New(stripegw.Config{SecretKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.ParseWebhook([]byte(succeeded), sign(succeeded, "", now), now); !errors.Is(err, stripegw.ErrNoWebhookSecret) {
			t.Errorf("err = %v, want ErrNoWebhookSecret", err)
		}
	})
}
