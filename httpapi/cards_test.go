package httpapi_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
)

func cardBody(number string) map[string]any {
	return map[string]any{"card": map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"}}
}

// TestPaymentMethods lists, deletes and reuses saved cards through the API
// on both databases, in order: each step starts from the previous one's
// state.
func TestPaymentMethods(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{upgrades: true})
		ctx := context.Background()
		ownerID, owner := e.account(map[string]any{"email": "owner@example.com"})
		_, stranger := e.account(map[string]any{"email": "stranger@example.com"})
		add := func(token, number string) string {
			r := e.do("POST", "/v1/payment-methods", token, cardBody(number))
			e.expect(r, 201, "")
			return r.Str("id")
		}
		list := func(token string) []any {
			r := e.do("GET", "/v1/payment-methods", token, nil)
			e.expect(r, 200, "")
			return r.List("data")
		}

		// Two cards added at once: the account gets one gateway customer
		// and both are attached to it.
		ids := make([]string, 2)
		var wg sync.WaitGroup
		for i, n := range []string{"4242424242424242", "5555555555554444"} {
			wg.Go(func() { ids[i] = add(owner, n) })
		}
		wg.Wait()
		customer, err := e.store.GatewayCustomer(ctx, ownerID, "sandbox")
		if err != nil || customer == "" {
			t.Fatalf("owner's customer: %q, %v", customer, err)
		}
		for _, id := range ids {
			if pm, err := e.store.PaymentMethod(ctx, id); err != nil || pm.Customer != customer {
				t.Fatalf("card %s attached to %q (%v), want the account's customer %s", id, pm.Customer, err, customer)
			}
		}
		visa, mc := ids[0], ids[1]
		// A third card, added last, is the default.
		discover := add(owner, "6011111111111117")
		quote := e.do("POST", "/v1/quotes", owner, map[string]any{"plan": "pro-1m"})
		e.expect(quote, 201, "")
		up := e.do("POST", "/v1/upgrades", owner, map[string]any{"quote": quote.Str("id"), "payment_method": visa, "accept_terms": app.TermsVersion})
		e.expect(up, 202, "")

		steps := []struct {
			name   string
			method string
			path   string
			token  string
			status int
			code   string
		}{
			{"another account's card is not found", "DELETE", "/v1/payment-methods/" + mc, stranger, 404, "not_found"},
			{"an unknown card is not found", "DELETE", "/v1/payment-methods/pm_nothing", owner, 404, "not_found"},
			{"the card an active upgrade pays with is in use", "DELETE", "/v1/payment-methods/" + visa, owner, 409, "payment_method_in_use"},
			{"an idle card is deleted", "DELETE", "/v1/payment-methods/" + mc, owner, 204, ""},
			{"deleted twice is not found", "DELETE", "/v1/payment-methods/" + mc, owner, 404, "not_found"},
			{"a deleted card cannot pay a retry", "POST", "/v1/upgrades/" + up.Str("id") + "/payment", owner, 422, "validation_failed"},
			{"without a token", "GET", "/v1/payment-methods", "", 401, "unauthenticated"},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				var body any
				if s.method == "POST" {
					body = map[string]any{"payment_method": mc}
				}
				api := apitest.Client{T: t, BaseURL: e.srv.URL}
				api.Expect(api.Do(s.method, s.path, s.token, body), s.status, s.code)
			})
		}

		t.Run("the list shows the remaining cards, newest first, the newest the default", func(t *testing.T) {
			type row struct {
				id, brand, last4 string
				expMonth         float64
				isDefault        bool
			}
			var got []row
			for _, c := range list(owner) {
				id, _ := apitest.Dig(c, "id").(string)
				brand, _ := apitest.Dig(c, "brand").(string)
				last4, _ := apitest.Dig(c, "last4").(string)
				month, _ := apitest.Dig(c, "exp_month").(float64)
				def, _ := apitest.Dig(c, "default").(bool)
				got = append(got, row{id, brand, last4, month, def})
			}
			want := []row{{discover, "discover", "1117", 12, true}, {visa, "visa", "4242", 12, false}}
			if !slices.Equal(got, want) {
				t.Errorf("listed %+v, want %+v", got, want)
			}
		})
		t.Run("another account sees none of them", func(t *testing.T) {
			if got := list(stranger); len(got) != 0 {
				t.Errorf("stranger lists %v", got)
			}
		})
		t.Run("the deleted card is kept for the history", func(t *testing.T) {
			pm, err := e.store.PaymentMethod(ctx, mc)
			if err != nil || pm.DeletedAt == nil || pm.Brand != "mastercard" || pm.Last4 != "4444" {
				t.Errorf("deleted card: %+v, %v", pm, err)
			}
		})
	})
}
