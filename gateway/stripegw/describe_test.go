package stripegw_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/internal/stripemock"
)

// checkDescribeRequest asserts the gateway sent exactly one
// GET /v1/payment_methods/{ref}.
func checkDescribeRequest(t *testing.T, c *capture, ref string) {
	t.Helper()
	sent := c.only(t)
	if sent.Method != http.MethodGet || sent.Path != "/v1/payment_methods/"+ref {
		t.Errorf("sent %s %s, want GET /v1/payment_methods/%s", sent.Method, sent.Path, ref)
	}
}

func TestDescribeCardStripeMock(t *testing.T) {
	t.Parallel()
	// stripe-mock is stateless: every GET /v1/payment_methods/{id} answers
	// its bundled card fixture (a visa 4242, 8/2030, without billing name)
	// under the requested ID.
	base := stripemock.Start(t)
	for _, ref := range []string{"pm_card_visa", "pm_1PgT2yLkdIwHu7ix3cGQ4Cbd"} {
		t.Run(ref, func(t *testing.T) {
			t.Parallel()
			g, c := newGateway(t, base)
			got, err := g.DescribeCard(context.Background(), ref)
			if err != nil {
				t.Fatalf("DescribeCard: %v", err)
			}
			want := tierup.PaymentMethod{
				Brand: tierup.BrandVisa, Last4: "4242", ExpMonth: 8, ExpYear: 2030,
				Fingerprint: "stripe:AOB934RVNwzk6xtn", GatewayRef: ref,
			}
			if *got != want {
				t.Errorf("DescribeCard = %+v\nwant %+v", *got, want)
			}
			checkDescribeRequest(t, c, ref)
		})
	}
}

// paymentMethod is a Stripe PaymentMethod body of type typ; card is the
// JSON of its card hash ("" for none).
func paymentMethod(typ, card string) string {
	body := `{"id":"pm_1","object":"payment_method","type":"` + typ + `",` +
		`"billing_details":{"name":"Jenny Rosen","email":"jenny@example.com"}`
	if card != "" {
		body += `,"card":` + card
	}
	return body + `}`
}

func cardJSON(brand string) string {
	return `{"brand":"` + brand + `","last4":"0005","exp_month":3,"exp_year":2031,"fingerprint":"Xt5EWLLDS7FJjR1c","funding":"credit","country":"US"}`
}

func TestDescribeCardMapping(t *testing.T) {
	t.Parallel()
	const ref = "pm_1PgT2yLkdIwHu7ix3cGQ4Cbd"
	full := func(brand string) *tierup.PaymentMethod {
		return &tierup.PaymentMethod{Brand: brand, Last4: "0005", ExpMonth: 3, ExpYear: 2031,
			Fingerprint: "stripe:Xt5EWLLDS7FJjR1c", Name: "Jenny Rosen", GatewayRef: ref}
	}
	tests := []struct {
		name    string
		body    string
		want    *tierup.PaymentMethod // nil when an error is expected
		wantErr tierup.PaymentCode
	}{
		{"visa", paymentMethod("card", cardJSON("visa")), full(tierup.BrandVisa), ""},
		{"mastercard", paymentMethod("card", cardJSON("mastercard")), full(tierup.BrandMastercard), ""},
		{"amex", paymentMethod("card", cardJSON("amex")), full(tierup.BrandAmex), ""},
		{"discover", paymentMethod("card", cardJSON("discover")), full(tierup.BrandDiscover), ""},
		{"diners", paymentMethod("card", cardJSON("diners")), full(tierup.BrandDiners), ""},
		{"jcb", paymentMethod("card", cardJSON("jcb")), full(tierup.BrandJCB), ""},
		{"unionpay", paymentMethod("card", cardJSON("unionpay")), full(tierup.BrandUnionPay), ""},
		{"no billing details", `{"id":"pm_1","object":"payment_method","type":"card","card":` + cardJSON("visa") + `}`,
			&tierup.PaymentMethod{Brand: tierup.BrandVisa, Last4: "0005", ExpMonth: 3, ExpYear: 2031,
				Fingerprint: "stripe:Xt5EWLLDS7FJjR1c", GatewayRef: ref}, ""},
		{"no fingerprint", paymentMethod("card", `{"brand":"visa","last4":"0005","exp_month":3,"exp_year":2031}`),
			&tierup.PaymentMethod{Brand: tierup.BrandVisa, Last4: "0005", ExpMonth: 3, ExpYear: 2031,
				Name: "Jenny Rosen", GatewayRef: ref}, ""},
		{"unknown brand", paymentMethod("card", cardJSON("unknown")), nil, stripegw.CodeUnsupportedCard},
		{"cartes bancaires", paymentMethod("card", cardJSON("cartes_bancaires")), nil, stripegw.CodeUnsupportedCard},
		{"eftpos", paymentMethod("card", cardJSON("eftpos_au")), nil, stripegw.CodeUnsupportedCard},
		{"sepa debit", paymentMethod("sepa_debit", ""), nil, stripegw.CodeUnsupportedPaymentMethod},
		{"us bank account", paymentMethod("us_bank_account", ""), nil, stripegw.CodeUnsupportedPaymentMethod},
		{"card present", paymentMethod("card_present", ""), nil, stripegw.CodeUnsupportedPaymentMethod},
		{"card type without card", paymentMethod("card", ""), nil, stripegw.CodeUnsupportedPaymentMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := serve(t, 200, tt.body)
			g, c := newGateway(t, base)
			got, err := g.DescribeCard(context.Background(), ref)
			checkDescribeRequest(t, c, ref)
			if tt.want == nil {
				if got != nil {
					t.Errorf("DescribeCard = %+v, want nil with the error", got)
				}
				check(t, err, want{code: tt.wantErr})
				return
			}
			if err != nil {
				t.Fatalf("DescribeCard: %v", err)
			}
			if *got != *tt.want {
				t.Errorf("DescribeCard = %+v\nwant %+v", *got, *tt.want)
			}
		})
	}
}

func TestDescribeCardErrorMapping(t *testing.T) {
	t.Parallel()
	const ref = "pm_123"
	tests := []struct {
		name   string
		status int
		body   string
		want   want
	}{
		{"not found", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id",` +
			`"message":"Stripe says No such PaymentMethod: 'pm_123'"}}`,
			want{code: stripegw.CodeResourceMissing}},
		{"bad API key", 401, stripeError("invalid_request_error", "", "", "Invalid API Key provided: sk_test_****"),
			want{code: stripegw.CodeMisconfigured, retryable: true, unavailable: true}},
		{"rate limited", 429, stripeError("invalid_request_error", "rate_limit", "", "Stripe says too many requests."),
			want{code: stripegw.CodeRateLimited, retryable: true}},
		{"api error 500", 500, stripeError("api_error", "", "", "Stripe says internal error."),
			want{code: stripegw.CodeProcessingError, retryable: true}},
		{"proxy 502 not JSON", 502, "<html>Bad Gateway</html>",
			want{code: stripegw.CodeProcessingError, retryable: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, count := serve(t, tt.status, tt.body)
			g, c := newGateway(t, base)
			got, err := g.DescribeCard(context.Background(), ref)
			if got != nil {
				t.Errorf("DescribeCard = %+v, want nil with the error", got)
			}
			check(t, err, tt.want)
			checkDescribeRequest(t, c, ref)
			if n := count(); n != 1 {
				t.Errorf("server got %d requests, want 1: stripe-go must not retry", n)
			}
			if tt.want.code == stripegw.CodeResourceMissing {
				if msg := asPaymentError(t, err).Message; strings.Contains(msg, "our side") || strings.Contains(msg, "pm_123") {
					t.Errorf("message %q: want a plain one for the card holder", msg)
				}
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		g, _ := newGateway(t, "http://"+addr)
		_, err = g.DescribeCard(context.Background(), ref)
		check(t, err, want{code: stripegw.CodeGatewayUnavailable, retryable: true, unavailable: true})
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		base, _ := hang(t)
		g, _ := newGateway(t, base)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := g.DescribeCard(ctx, ref)
		check(t, err, want{code: stripegw.CodeTimeout, retryable: true})
	})

	t.Run("caller cancel", func(t *testing.T) {
		t.Parallel()
		base, arrived := hang(t)
		g, _ := newGateway(t, base)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-arrived; cancel() }()
		_, err := g.DescribeCard(ctx, ref)
		var pe *tierup.PaymentError
		if !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
			t.Errorf("err = %v (%T), want a wrapped context.Canceled", err, err)
		}
	})
}

func TestDescribeCardBadRefRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	for _, ref := range []string{
		"",
		"pm_",
		"tok_visa",
		"card_1PgT2y",
		"PM_123",
		" pm_123",
		"pm_123 ",
		"pm_123/../../v1/charges",
		"pm_123?expand[]=customer",
		"pm_" + strings.Repeat("a", 253),
	} {
		t.Run(ref, func(t *testing.T) {
			t.Parallel()
			base, count := serve(t, 500, "{}")
			g, c := newGateway(t, base)
			got, err := g.DescribeCard(context.Background(), ref)
			if got != nil {
				t.Errorf("DescribeCard = %+v, want nil", got)
			}
			check(t, err, want{code: stripegw.CodeInvalidRequest})
			if n, sent := count(), len(c.all()); n != 0 || sent != 0 {
				t.Errorf("sent %d requests (server saw %d), want none", sent, n)
			}
		})
	}
}
