package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/gateway/stripegw"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/stripemock"
	"github.com/tierup/tierup/stack"
)

const webhookSecret = "whsec_e2e"

// TestStripeGateway runs an upgrade with the stripe gateway against
// stripe-mock: a card registered from Stripe.js, a PaymentIntent charge,
// then a signed webhook recorded in the audit log once, however often it
// arrives.
func TestStripeGateway(t *testing.T) {
	base := stripemock.Start(t, stripemock.WithFixtures(mustAbs(t, "../gateway/stripegw/testdata/stripe-mock-succeeded.json")))
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Gateway = "stripe"
		o.Stripe = stripegw.Config{SecretKey: "sk_test_e2e", APIBase: base, WebhookSecret: webhookSecret}
	})
	_, token := hobby(h, "stripe@example.com")

	// Raw cards go to Stripe.js, not to tierup.
	h.Expect(h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}), 422, "invalid_card")
	h.Expect(h.Do("POST", "/v1/payment-methods", token, map[string]any{}), 422, "validation_failed")
	pm := h.Do("POST", "/v1/payment-methods", token, map[string]any{"stripe_payment_method": "pm_card_visa"})
	h.Expect(pm, 201, "")
	if pm.Str("brand") != "visa" || pm.Str("last4") != "4242" {
		t.Fatalf("payment method: %s", pm.Raw)
	}
	id := h.upgrade(token, "pro-1m", pm.Str("id"))
	u := h.waitStatus(token, id, "completed")
	if !strings.HasPrefix(u.Str("payment.charge_id"), "pi_") || u.Str("payment.status") != "succeeded" {
		t.Errorf("payment: %s", u.Raw)
	}
	h.Expect(h.Do("GET", "/v1/sandbox/ledger", admin, nil), 404, "sandbox_disabled")

	event := func(evt string) string {
		return fmt.Sprintf(`{"id":%q,"object":"event","type":"payment_intent.succeeded","data":{"object":{"id":%q,"object":"payment_intent","status":"succeeded","metadata":{"upgrade":%q}}}}`,
			evt, u.Str("payment.charge_id"), id)
	}
	payload := event("evt_1")
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", h.BaseURL+"/v1/webhooks/stripe", bytes.NewReader([]byte(payload)))
		req.Header.Set("Stripe-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := post(sign(payload, "whsec_wrong", time.Now())); s != 400 {
		t.Errorf("a forged event got %d", s)
	}
	if s := post(sign(payload, webhookSecret, time.Now().Add(-time.Hour))); s != 400 {
		t.Errorf("a replayed old event got %d", s)
	}
	sig := sign(payload, webhookSecret, time.Now())
	if s := post(sig); s != 200 {
		t.Fatalf("a signed event got %d", s)
	}
	// The same event again is acknowledged, so that Stripe stops retrying,
	// and changes nothing: the very request replayed within the tolerance,
	// and Stripe's retry, signed anew.
	if s := post(sig); s != 200 {
		t.Errorf("the replayed event got %d", s)
	}
	if s := post(sign(payload, webhookSecret, time.Now().Add(time.Second))); s != 200 {
		t.Errorf("the retried event got %d", s)
	}
	if acts := h.actions(token, id); count(acts, "stripe_payment_intent.succeeded") != 1 {
		t.Errorf("audit after the replays: %v", acts)
	}
	if !strings.Contains(h.log.String(), "already processed") {
		t.Error("the replay was not logged")
	}
	// Another event of the same kind is a new event.
	payload = event("evt_2")
	if s := post(sign(payload, webhookSecret, time.Now())); s != 200 {
		t.Fatalf("a second event got %d", s)
	}
	if acts := h.actions(token, id); count(acts, "stripe_payment_intent.succeeded") != 2 {
		t.Errorf("audit after a second event: %v", acts)
	}

	// An older event delivered late cannot roll the upgrade back: the
	// PaymentIntent as it is decides, never the order of events.
	before := h.Do("GET", "/v1/upgrades/"+id, token, nil)
	failed := fmt.Sprintf(`{"id":"evt_old","object":"event","type":"payment_intent.payment_failed","data":{"object":{"id":%q,"object":"payment_intent","status":"requires_payment_method","metadata":{"upgrade":%q}}}}`,
		u.Str("payment.charge_id"), id)
	payload = failed
	if s := post(sign(payload, webhookSecret, time.Now())); s != 200 {
		t.Fatalf("the late payment_failed event got %d", s)
	}
	after := h.Do("GET", "/v1/upgrades/"+id, token, nil)
	if after.Str("status") != "completed" || after.Str("payment.status") != "succeeded" || after.Num("version") != before.Num("version") {
		t.Errorf("a late payment_failed changed the upgrade: %s", after.Raw)
	}
	if me := h.Do("GET", "/v1/account", token, nil); me.Str("subscription.plan") != "pro-1m" {
		t.Errorf("plan after a late payment_failed: %s", me.Raw)
	}
	if acts := h.actions(token, id); count(acts, "stripe_payment_intent.payment_failed") != 1 || count(acts, "payment_failed") != 0 {
		t.Errorf("audit after a late payment_failed: %v", acts)
	}
}

// sign makes a Stripe-Signature header (scheme v1).
func sign(payload, secret string, at time.Time) string {
	ts := fmt.Sprint(at.Unix())
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + payload))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
