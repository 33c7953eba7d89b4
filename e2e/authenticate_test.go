package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// TestThreeDSecure pays with each of Stripe's 3-D Secure test cards in the
// sandbox: the upgrade waits in payment_action_required with a redirect to
// the sandbox's challenge page, and the customer's answer there decides.
// (stripe-mock cannot leave a PaymentIntent in requires_action; the Stripe
// gateway's side is covered in gateway/stripegw against a loopback server.)
func TestThreeDSecure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		tests := []struct {
			name, card, answer string
			status, code       string
			decline            string
		}{
			{"always required, completed", "4000002760003184", "complete", "completed", "", ""},
			{"3DS2 required, completed", "4000000000003220", "complete", "completed", "", ""},
			{"required once, completed", "4000002500003155", "complete", "completed", "", ""},
			{"insufficient funds after authenticating", "4000008260003178", "complete", "payment_failed", "card_declined", "insufficient_funds"},
			{"declined after authenticating", "4000008400001629", "complete", "payment_failed", "card_declined", "generic_decline"},
			{"authentication failed", "4000002760003184", "fail", "payment_failed", "payment_intent_authentication_failure", ""},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				parent := h.T
				h.T = t
				defer func() { h.T = parent }()
				_, token := hobby(h, fmt.Sprintf("3ds-%d@example.com", i))
				charged, _, _ := h.charges()
				id := h.upgrade(token, "pro-1m", h.card(token, tt.card))
				u := h.waitStatus(token, id, "payment_action_required")
				link := u.Str("payment.next_action.url")
				if u.Str("payment.status") != "requires_action" || u.Str("payment.next_action.type") != "redirect_to_url" ||
					!strings.HasPrefix(link, "/sandbox/authenticate/pi_sb_") || u.Str("payment.action_expires_at") == "" {
					t.Fatalf("waiting upgrade: %s", u.Raw)
				}
				if c, _, _ := h.charges(); c != charged {
					t.Fatalf("%d charges before the customer authenticated", c-charged)
				}
				page := h.get(link)
				if page.StatusCode != 200 || !strings.Contains(page.Body, "Complete authentication") || !strings.Contains(page.Body, "Fail authentication") ||
					!strings.Contains(page.Body, "$29.00") {
					t.Fatalf("challenge page %d: %s", page.StatusCode, page.Body)
				}
				if bad := h.get(strings.SplitN(link, "?", 2)[0] + "?secret=guess"); bad.StatusCode != 404 {
					t.Errorf("a wrong secret got %d", bad.StatusCode)
				}
				if back := h.answer(link, tt.answer); back != "/upgrades/"+id {
					t.Errorf("the challenge sent the customer to %q", back)
				}
				u = h.waitStatus(token, id, tt.status)
				if u.Str("payment.failure_code") != tt.code || u.Str("payment.decline_code") != tt.decline || u.Get("payment.next_action") != nil {
					t.Errorf("payment after %s: %s", tt.answer, u.Raw)
				}
				// The same payment, never a second one: one charge intent.
				if n := count(h.actions(token, id), "payment_action_required"); n != 1 {
					t.Errorf("%d payment_action_required events", n)
				}
				if tt.status != "payment_failed" {
					return
				}
				if !strings.Contains(u.Str("payment.message"), "Try") {
					t.Errorf("the message does not say what to do: %q", u.Str("payment.message"))
				}
				h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4242424242424242")}), 202, "")
				h.waitStatus(token, id, "completed")
			})
		}
		if c, _, _ := h.charges(); c != len(tests) {
			t.Errorf("ledger: %d charges for %d upgrades", c, len(tests))
		}
	})
}

// TestThreeDSecureAbandoned: nobody answers within the authentication
// timeout, so the charge is canceled at the gateway (a late answer takes
// no money) and the payment fails in words a person understands.
func TestThreeDSecureAbandoned(t *testing.T) {
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Workflow.AuthenticationTimeout, o.Workflow.AuthenticationCheck = 500*time.Millisecond, 50*time.Millisecond
	})
	_, token := hobby(h, "abandoned@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4000002760003184"))
	link := h.waitStatus(token, id, "payment_action_required").Str("payment.next_action.url")
	u := h.waitStatus(token, id, "payment_failed")
	if u.Str("payment.failure_code") != "authentication_expired" || !strings.Contains(u.Str("payment.message"), "nothing was charged") {
		t.Errorf("payment: %s", u.Raw)
	}
	h.answer(link, "complete")
	if page := h.get(link); !strings.Contains(page.Body, "already answered") {
		t.Errorf("the challenge of an abandoned charge: %s", page.Body)
	}
	time.Sleep(200 * time.Millisecond) // a check the late answer might wrongly have caused
	if c, _, _ := h.charges(); c != 0 {
		t.Errorf("%d charges after the customer authenticated too late", c)
	}
	if u := h.Do("GET", "/v1/upgrades/"+id, token, nil); u.Str("status") != "payment_failed" {
		t.Errorf("a late answer moved the upgrade: %s", u.Raw)
	}
}

type fetched struct {
	StatusCode int
	Body       string
}

// get fetches a dashboard page without a session, as the bank's page is
// opened.
func (h *harness) get(path string) fetched {
	h.T.Helper()
	res, err := http.Get(h.BaseURL + path)
	if err != nil {
		h.T.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, res.Body)
	return fetched{res.StatusCode, b.String()}
}

// answer submits the challenge page's form and returns where it sends the
// customer.
func (h *harness) answer(link, outcome string) string {
	h.T.Helper()
	u, err := url.Parse(link)
	if err != nil {
		h.T.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(h.BaseURL+u.Path, url.Values{"secret": {u.Query().Get("secret")}, "outcome": {outcome}})
	if err != nil {
		h.T.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		h.T.Fatalf("answering the challenge: %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}
