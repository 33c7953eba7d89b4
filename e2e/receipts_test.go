package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/pdftext"
	"github.com/tierup/tierup/stack"
)

// TestReceipts runs an upgrade and a canceled one: the charges get
// receipts and the refund a credit note, numbered in one series; the
// completion email links the receipt, and the dashboard's history lists
// it with its PDF, which only the owner may download.
func TestReceipts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn, func(o *stack.Options) {
			o.Workflow.Receipts = tierup.ReceiptConfig{Seller: tierup.Seller{Name: "Zoë Müller GmbH", Address: "Hauptstraße 1, Berlin", TaxID: "DE123456789"},
				TaxRate: 2000, BaseURL: "https://billing.example.com"}
		})
		acct, token := h.account(map[string]any{"email": "zoe@example.com", "name": "Zoë Müller", "timezone": "Europe/Berlin", "plan": "pro-1m",
			"current_period_start": time.Now().UTC().Add(-72 * time.Hour).Format(time.RFC3339)})
		id := h.upgrade(token, "pro-12m", h.card(token, "4242424242424242"))
		u := h.waitStatus(token, id, "completed")

		list := h.Do("GET", "/v1/receipts", token, nil)
		h.Expect(list, 200, "")
		if len(list.List("data")) != 1 {
			t.Fatalf("receipts after one charge: %s", list.Raw)
		}
		rc := list.List("data")[0]
		number, rid := apitest.Dig(rc, "number").(string), apitest.Dig(rc, "id").(string)
		if !regexp.MustCompile(`^TU-\d{4}-000001$`).MatchString(number) || apitest.Dig(rc, "total.amount") != float64(u.Num("payment.amount.amount")) ||
			apitest.Dig(rc, "tax.amount") != 4833.0 || apitest.Dig(rc, "payment_ref") != u.Str("payment.charge_id") ||
			!strings.HasPrefix(apitest.Dig(rc, "adjustment").(string), "Extension: the ") || apitest.Dig(rc, "buyer.name") != "Zoë Müller" {
			t.Errorf("receipt: %v\nupgrade: %s", rc, u.Raw)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mails, err := h.smtp.WaitFor(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if link := "Your receipt " + number + ": https://billing.example.com/receipts/" + rid + ".pdf"; !strings.Contains(mails[0].Body, link) {
			t.Errorf("the completion email lacks %q:\n%s", link, mails[0].Body)
		}

		c, _ := dashboard(t, h, acct)
		res, err := c.Get(h.BaseURL + "/history")
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, res)
		if !strings.Contains(page, number) || !strings.Contains(page, `href="/receipts/`+rid+`.pdf"`) {
			t.Errorf("the history does not list the receipt:\n%s", page)
		}
		res, err = c.Get(h.BaseURL + "/receipts/" + rid + ".pdf")
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
			res.Header.Get("Content-Disposition") != `inline; filename="`+number+`.pdf"` {
			t.Errorf("PDF answer %d %v", res.StatusCode, res.Header)
		}
		text := pdftext.Extract(t, pdf)
		for _, want := range []string{number, "$290.00", "$48.33", "$241.67", "Zoë Müller", "Hauptstraße 1, Berlin", "Pro (12 months)", "Extension: the"} {
			if !strings.Contains(text, want) {
				t.Errorf("%q not in the PDF:\n%s", want, text)
			}
		}

		// A second account's upgrade, canceled after the charge.
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 3}), 201, "")
		other, otherToken := hobby(h, "other@example.com")
		oid := h.upgrade(otherToken, "pro-1m", h.card(otherToken, "5555555555554444"))
		h.waitStatus(otherToken, oid, "needs_support")
		h.Expect(h.Do("POST", "/v1/upgrades/"+oid+"/cancel", admin, nil), 202, "")
		h.waitStatus(otherToken, oid, "canceled")
		docs := h.Do("GET", "/v1/receipts", otherToken, nil).List("data")
		if len(docs) != 2 || apitest.Dig(docs[0], "kind") != "credit_note" || apitest.Dig(docs[1], "kind") != "receipt" ||
			apitest.Dig(docs[0], "credits.number") != apitest.Dig(docs[1], "number") {
			t.Fatalf("documents of the canceled upgrade: %v", docs)
		}
		series := strings.TrimSuffix(number, "-000001")
		if apitest.Dig(docs[1], "number") != series+"-000002" || apitest.Dig(docs[0], "number") != series+"-000003" {
			t.Errorf("numbers %v, %v: want the series to go on", apitest.Dig(docs[1], "number"), apitest.Dig(docs[0], "number"))
		}

		// Each account sees only its own documents, in the dashboard too.
		oc, _ := dashboard(t, h, other)
		res, err = oc.Get(h.BaseURL + "/receipts/" + rid + ".pdf")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("another account's PDF answered %d", res.StatusCode)
		}
		h.Expect(h.Do("GET", "/v1/receipts/"+rid, otherToken, nil), 404, "not_found")
	})
}
