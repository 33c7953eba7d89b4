package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
)

// TestQuoteAcrossADeployPaysAfterADecline: an upgrade may wait in
// payment_failed while tierup is upgraded. Its quote, stored by the older
// version, must still verify when the customer pays again — whether it
// carries a signature from before signatures had versions, or the newer
// version's stored JSON has a member the older one did not know.
func TestQuoteAcrossADeployPaysAfterADecline(t *testing.T) {
	tests := []struct {
		name   string
		email  string
		legacy bool // signed the v0 way, over the quote's JSON
	}{
		{"v0 signature", "deploy-v0@example.com", true},
		{"v1 signature", "deploy-v1@example.com", false},
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		// A database from before the master secret: it kept the quote key.
		ctx := context.Background()
		key := []byte("the quote key the database kept before the master secret")
		if _, _, err := dbtest.OpenStore(t, dsn).PutSecretIfAbsent(ctx, "quote_signing_key", key); err != nil {
			t.Fatal(err)
		}
		h := start(t, dsn)
		// One harness for both cases: its client fails the test it was made with.
		for _, tt := range tests {
			_, token := hobby(h, tt.email)
			fresh, err := h.st.Store.Quote(ctx, h.quote(token, "pro-1m"))
			if err != nil {
				t.Fatal(err)
			}
			q := *fresh
			q.Seal(tierup.NewID("quo"), q.AccountID, q.ExpiresAt, key)
			if tt.legacy {
				q.PeriodValue = nil // quotes signed then predate it
				q.Signature = legacySignature(t, key, &q)
			}
			storeWithAddedMember(t, h, &q)

			r := h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": q.ID, "payment_method": h.card(token, "4000000000000002"), "accept_terms": "2026-11-01"})
			h.Expect(r, 202, "")
			id := r.Str("id")
			h.waitStatus(token, id, "payment_failed")
			h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/payment", token, map[string]any{"payment_method": h.card(token, "4242424242424242")}), 202, "")
			if u := h.waitStatus(token, id, "completed"); u.Str("payment.status") != "succeeded" {
				t.Errorf("%s: payment: %s", tt.name, u.Raw)
			}
		}
		if c, d, _ := h.charges(); c != len(tests) || d != len(tests) {
			t.Errorf("ledger: %d charges, %d declines; want %d of each", c, d, len(tests))
		}
	})
}

// legacySignature signs q as tierup did before versioning: the HMAC of
// the quote's JSON without its signature.
func legacySignature(t *testing.T, key []byte, q *tierup.Quote) string {
	t.Helper()
	c := *q
	c.Signature = ""
	body, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// storeWithAddedMember stores q as a later version would write it: its
// JSON with a member this version's Quote does not have.
func storeWithAddedMember(t *testing.T, h *harness, q *tierup.Quote) {
	t.Helper()
	b, _ := json.Marshal(q)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["promotion"] = "SPRING26"
	body, _ := json.Marshal(doc)
	if _, err := h.st.Store.SQLDB().ExecContext(context.Background(), `INSERT INTO quotes (id, account_id, from_plan, to_plan, policy, amount_due, currency, quoted_at, expires_at, body, signature)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		q.ID, q.AccountID, q.FromPlan, q.ToPlan, string(q.Policy), q.AmountDue.Amount, string(q.AmountDue.Currency),
		q.Now.UTC(), q.ExpiresAt.UTC(), string(body), q.Signature); err != nil {
		t.Fatal(err)
	}
}
