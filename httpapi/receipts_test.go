package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/pdftext"
)

// TestReceiptsAPI lists and reads receipts as JSON and PDF, on both
// databases: the owner and the admin may read one, another account gets
// 404, and bad input gets its status and code.
func TestReceiptsAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{upgrades: true})
		ctx := context.Background()
		at := time.Date(2026, 3, 22, 9, 0, 0, 0, time.UTC)
		// upgradeOf starts an upgrade (which does not run) for a new account.
		upgradeOf := func(email string) (string, *tierup.Upgrade) {
			_, token := e.account(map[string]any{"email": email})
			q := e.do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-1m"})
			pm := e.do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{
				"number": "4242424242424242", "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"}})
			up := e.do("POST", "/v1/upgrades", token, map[string]any{"quote": q.Str("id"), "payment_method": pm.Str("id"), "accept_terms": app.TermsVersion})
			e.expect(up, 202, "")
			u, err := e.store.Upgrade(ctx, up.Str("id"))
			if err != nil {
				t.Fatal(err)
			}
			return token, u
		}
		issue := func(u *tierup.Upgrade, kind tierup.ReceiptKind, ref string, at time.Time, credits *tierup.Receipt) *tierup.Receipt {
			q, err := e.store.Quote(ctx, u.QuoteID)
			if err != nil {
				t.Fatal(err)
			}
			u.Payment.ChargeID, u.Payment.Brand, u.Payment.Last4 = "ch_"+u.ID, "visa", "4242"
			r, err := tierup.NewReceipt(tierup.ReceiptInput{Kind: kind, Config: tierup.ReceiptConfig{
				Seller: tierup.Seller{Name: "Zoë Müller GmbH", Address: "Hauptstraße 1, Berlin", TaxID: "DE123"}, TaxRate: 2000},
				Account: &tierup.Account{Email: "buyer@example.com", Name: "François", TimeZone: "Europe/Berlin"},
				Upgrade: u, Quote: q, FromPlan: "Hobby", PaymentRef: ref, Credits: credits, Now: at})
			if err != nil {
				t.Fatal(err)
			}
			r.ID = tierup.NewID("rcpt")
			if err := e.store.IssueReceipt(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		owner, ownUpgrade := upgradeOf("owner@example.com")
		stranger, otherUpgrade := upgradeOf("stranger@example.com")
		rc := issue(ownUpgrade, tierup.KindReceipt, "ch_1", at, nil)
		cn := issue(ownUpgrade, tierup.KindCreditNote, "re_1", at.Add(time.Hour), rc)
		theirs := issue(otherUpgrade, tierup.KindReceipt, "ch_2", at.Add(2*time.Hour), nil)
		if rc.Number != "TU-2026-000001" || cn.Number != "TU-2026-000002" || theirs.Number != "TU-2026-000003" {
			t.Fatalf("numbers %s %s %s", rc.Number, cn.Number, theirs.Number)
		}
		long := "rcpt_" + strings.Repeat("x", 60)

		tests := []struct {
			name, path, token string
			status            int
			code              string
			check             func(t *testing.T, r apitest.Response)
		}{
			{"the owner's list, newest first", "/v1/receipts", owner, 200, "", func(t *testing.T, r apitest.Response) {
				l := r.List("data")
				if len(l) != 2 || apitest.Dig(l[0], "number") != cn.Number || apitest.Dig(l[1], "number") != rc.Number ||
					apitest.Dig(l[0], "credits.number") != rc.Number || apitest.Dig(l[0], "kind") != "credit_note" {
					t.Errorf("list: %s", r.Raw)
				}
			}},
			{"another account's list", "/v1/receipts", stranger, 200, "", func(t *testing.T, r apitest.Response) {
				if l := r.List("data"); len(l) != 1 || apitest.Dig(l[0], "id") != theirs.ID {
					t.Errorf("list: %s", r.Raw)
				}
			}},
			{"the list needs an account", "/v1/receipts", adminToken, 403, "forbidden", nil},
			{"the list needs a token", "/v1/receipts", "", 401, "unauthenticated", nil},
			{"one receipt as JSON", "/v1/receipts/" + rc.ID, owner, 200, "", func(t *testing.T, r apitest.Response) {
				if r.Str("number") != rc.Number || r.Num("total.amount") != 2900 || r.Num("tax.amount") != 483 || r.Num("subtotal.amount") != 2417 ||
					r.Str("tax_rate") != "20%" || r.Str("seller.name") != "Zoë Müller GmbH" || r.Str("seller.tax_id") != "DE123" ||
					r.Str("buyer.email") != "buyer@example.com" || r.Str("payment_method.last4") != "4242" || r.Str("issued_date") != "22 March 2026" ||
					r.Str("timezone") != "Europe/Berlin" || len(r.List("lines")) != 1 || !strings.HasPrefix(r.Str("adjustment"), "None") {
					t.Errorf("receipt: %s", r.Raw)
				}
			}},
			{"the admin reads any", "/v1/receipts/" + theirs.ID, adminToken, 200, "", nil},
			{"another account's receipt is not found", "/v1/receipts/" + theirs.ID, owner, 404, "not_found", nil},
			{"an unknown receipt", "/v1/receipts/rcpt_none", owner, 404, "not_found", nil},
			{"an ID too long", "/v1/receipts/" + long, owner, 422, "validation_failed", nil},
			{"the PDF", "/v1/receipts/" + rc.ID + ".pdf", owner, 200, "", func(t *testing.T, r apitest.Response) {
				if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); ct != "application/pdf" ||
					cd != `inline; filename="TU-2026-000001.pdf"` {
					t.Errorf("headers %q %q", ct, cd)
				}
				text := pdftext.Extract(t, []byte(r.Raw))
				for _, want := range []string{"Receipt", rc.Number, "$29.00", "$4.83", "$24.17", "Zoë Müller GmbH", "François", rc.Lines[0].Description} {
					if !strings.Contains(text, want) {
						t.Errorf("%q not in the PDF:\n%s", want, text)
					}
				}
			}},
			{"the credit note's PDF", "/v1/receipts/" + cn.ID + ".pdf", owner, 200, "", func(t *testing.T, r apitest.Response) {
				if text := pdftext.Extract(t, []byte(r.Raw)); !strings.Contains(text, "Credit note") || !strings.Contains(text, "Credits receipt "+rc.Number) {
					t.Errorf("credit note:\n%s", text)
				}
			}},
			{"the admin reads any PDF", "/v1/receipts/" + theirs.ID + ".pdf", adminToken, 200, "", nil},
			{"another account's PDF is not found", "/v1/receipts/" + theirs.ID + ".pdf", owner, 404, "not_found", nil},
			{"an unknown PDF", "/v1/receipts/rcpt_none.pdf", owner, 404, "not_found", nil},
			{"a PDF needs a token", "/v1/receipts/" + rc.ID + ".pdf", "", 401, "unauthenticated", nil},
			{"a PDF with a bad token", "/v1/receipts/" + rc.ID + ".pdf", "tu_acct_nope", 401, "unauthenticated", nil},
			{"a PDF ID too long", "/v1/receipts/" + long + ".pdf", owner, 422, "validation_failed", nil},
			{"a PDF of a path that is no ID", "/v1/receipts/" + rc.ID + ".x.pdf", owner, 422, "validation_failed", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := apitest.Client{T: t, BaseURL: e.srv.URL}
				r := c.Do("GET", tt.path, tt.token, nil)
				c.Expect(r, tt.status, tt.code)
				if tt.check != nil {
					tt.check(t, r)
				}
			})
		}
	})
}
