package tierup_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

var sigKey = []byte("k1")

// creditQuote is a sealed quote with every optional part: a current
// period, an adjustment amount and account credit.
func creditQuote(t *testing.T) *tierup.Quote {
	t.Helper()
	cat := tierup.DefaultCatalog()
	q, err := price(t, cat, ts("2026-03-29T00:00:00Z"), time.UTC, sub(cat, "pro-12m", ts("2026-03-01T00:00:00Z"), time.UTC), "team-1m", tierup.PolicyCredit)
	if err != nil {
		t.Fatal(err)
	}
	q.Seal("quo_1", "acct_1", ts("2026-03-29T00:30:00Z"), sigKey)
	if q.CurrentPeriod == nil || q.Adjustment.Amount == nil || q.AccountCredit == nil {
		t.Fatalf("the fixture lacks optional parts: %+v", q)
	}
	return q
}

// signV0 signs the way tierup did before signatures had a version: the
// HMAC of the quote's JSON without its signature, times in UTC.
func signV0(t *testing.T, q *tierup.Quote) string {
	t.Helper()
	c := *q
	c.Signature = ""
	c.Now, c.ExpiresAt = c.Now.UTC(), c.ExpiresAt.UTC()
	body, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, sigKey)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestQuoteSignatureVersions(t *testing.T) {
	tests := []struct {
		name   string
		v0     bool // sign the legacy way instead of with Seal
		change func(q *tierup.Quote)
		want   bool
	}{
		{name: "v1 as sealed", want: true},
		{name: "v0 as signed before versioning", v0: true, want: true},
		{name: "v1, another key", change: func(q *tierup.Quote) { q.Seal(q.ID, q.AccountID, q.ExpiresAt, []byte("k2")) }, want: false},
		{name: "v1, same instants in another zone", change: func(q *tierup.Quote) { q.Now = q.Now.In(time.FixedZone("x", 3600)) }, want: true},
		{name: "v1, reworded explanation (not a term)", change: func(q *tierup.Quote) { q.Explanation = "Reworded." }, want: true},
		{name: "v1, tampered amount", change: func(q *tierup.Quote) { q.AmountDue.Amount-- }, want: false},
		{name: "v0, tampered amount", v0: true, change: func(q *tierup.Quote) { q.AmountDue.Amount-- }, want: false},
		{name: "v1, tampered line", change: func(q *tierup.Quote) { q.Lines[1].Amount.Amount-- }, want: false},
		{name: "v1, tampered credit", change: func(q *tierup.Quote) { q.AccountCredit.Amount++ }, want: false},
		{name: "v1, tampered period", change: func(q *tierup.Quote) { q.NewPeriod.End = q.NewPeriod.End.Add(time.Second) }, want: false},
		{name: "v1, tampered expiry", change: func(q *tierup.Quote) { q.ExpiresAt = q.ExpiresAt.Add(time.Hour) }, want: false},
		{name: "v1, another account", change: func(q *tierup.Quote) { q.AccountID = "acct_2" }, want: false},
		{name: "v1, another currency", change: func(q *tierup.Quote) { q.AmountDue.Currency = "EUR" }, want: false},
		{name: "v1, tampered credit applied", change: withCredit(func(q *tierup.Quote) { q.CreditApplied.Amount++ }), want: false},
		{name: "v1, credit applied removed", change: withCredit(func(q *tierup.Quote) { q.CreditApplied = nil }), want: false},
		{name: "v1, credit applied added", change: func(q *tierup.Quote) { q.CreditApplied = &tierup.Money{Amount: 1, Currency: "USD"} }, want: false},
		{name: "v1, tampered period value", change: func(q *tierup.Quote) { q.PeriodValue.Amount++ }, want: false},
		{name: "v0, credit terms added", v0: true, change: func(q *tierup.Quote) { q.PeriodValue = &tierup.Money{Amount: 1, Currency: "USD"} }, want: false},
		{name: "unknown version", change: func(q *tierup.Quote) { q.Signature = "v2" + q.Signature[2:] }, want: false},
		{name: "v1 body as v0", change: func(q *tierup.Quote) { q.Signature = q.Signature[2:] + "00" }, want: false},
		{name: "empty", change: func(q *tierup.Quote) { q.Signature = "" }, want: false},
		{name: "not hex", change: func(q *tierup.Quote) { q.Signature = "v1" + strings.Repeat("z", 62) }, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := creditQuote(t)
			if tt.v0 { // v0 quotes predate the credit terms
				q.CreditApplied, q.PeriodValue = nil, nil
				q.Signature = signV0(t, q)
			}
			if tt.change != nil {
				tt.change(q)
			}
			if got := q.Verify(sigKey); got != tt.want {
				t.Errorf("Verify = %v, want %v (signature %q)", got, tt.want, q.Signature)
			}
		})
	}
}

func TestQuoteSignatureFormat(t *testing.T) {
	q := creditQuote(t)
	// As long as the signature before versioning: clients that check it keep working.
	if !strings.HasPrefix(q.Signature, "v1") || len(q.Signature) != 64 {
		t.Errorf("signature %q: want v1 and 62 hex digits", q.Signature)
	}
}

// TestQuoteSurvivesAnAddedField stores a quote the way the store does (its
// JSON) and reads it back as a later version would, with a member the
// API type did not have when it was signed.
func TestQuoteSurvivesAnAddedField(t *testing.T) {
	q := creditQuote(t)
	body, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	doc["promotion"] = "SPRING26"
	extended, _ := json.Marshal(doc)

	var later struct {
		tierup.Quote
		Promotion string `json:"promotion"`
	}
	if err := json.Unmarshal(extended, &later); err != nil || later.Promotion != "SPRING26" {
		t.Fatalf("decoding: %+v, %v", later, err)
	}
	if !later.Quote.Verify(sigKey) {
		t.Error("a quote read with an added field no longer verifies")
	}
}

// withCredit seals the quote again with account credit applied first.
func withCredit(change func(q *tierup.Quote)) func(q *tierup.Quote) {
	return func(q *tierup.Quote) {
		q.CreditApplied = &tierup.Money{Amount: 500, Currency: "USD"}
		q.Seal(q.ID, q.AccountID, q.ExpiresAt, sigKey)
		if !q.Verify(sigKey) {
			panic("a quote with credit applied does not verify")
		}
		change(q)
	}
}

type goldenKeys struct{}

func (goldenKeys) SigningKey() (string, []byte)       { return "0a1b2c3d", sigKey }
func (goldenKeys) VerifyingKey(string) ([]byte, bool) { return sigKey, true }

// TestQuoteSignedBeforeCreditTermsVerifies checks signatures made, by the
// code before the credit terms were signed, over creditQuote's terms: the
// added terms are omitted when absent, so those quotes still verify.
func TestQuoteSignedBeforeCreditTermsVerifies(t *testing.T) {
	for _, sig := range []string{
		"v15fd00d43202bd462bfe6d494488e00546e969f8941c205b43cbd26f991008d",
		"v20a1b2c3d5fd00d43202bd462bfe6d494488e00546e969f8941c205b43cbd26",
	} {
		q := creditQuote(t)
		q.PeriodValue = nil // as stored then
		q.Signature = sig
		if !q.VerifyWith(goldenKeys{}) {
			t.Errorf("%s no longer verifies", sig[:2])
		}
	}
}
