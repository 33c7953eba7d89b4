package receiptpdf_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/pdftext"
	"github.com/tierup/tierup/receiptpdf"
)

func sample(kind tierup.ReceiptKind, currency tierup.Currency) *tierup.Receipt {
	m := func(n int64) tierup.Money { return tierup.Money{Amount: n, Currency: currency} }
	r := &tierup.Receipt{ID: "rcpt_1", Number: "TU-2026-000042", Kind: kind, AccountID: "acct_1", UpgradeID: "upg_1", QuoteID: "quo_1",
		PaymentRef: "ch_1", IssuedAt: time.Date(2026, 3, 22, 9, 0, 0, 0, time.UTC), TimeZone: "Europe/Berlin", IssuedDate: "22 March 2026",
		Seller: tierup.Seller{Name: "Zoë Müller GmbH", Address: "Hauptstraße 1\n10115 Berlin", TaxID: "DE123456789"},
		Buyer:  tierup.Buyer{Name: "François Lefèvre", Email: "francois@example.com"},
		Lines: []tierup.Line{{Description: "Team (1 month), 22 Mar 2026 to 22 Apr 2026", Amount: m(9900)},
			{Description: "Unused time on Pro (1 month) (10 days)", Amount: m(-967)}},
		Adjustment: "Credit: the unused time on Pro (1 month), worth 9.67, was taken off the price",
		Subtotal:   m(7444), TaxRate: "20%", Tax: m(1489), Total: m(8933), Card: tierup.CardRef{Brand: "visa", Last4: "4242"}}
	if kind == tierup.KindCreditNote {
		r.Number, r.PaymentRef, r.Credits = "TU-2026-000043", "re_1", &tierup.ReceiptRef{ID: "rcpt_0", Number: "TU-2026-000042"}
	}
	return r
}

// TestRender reads the PDFs back with a real text extractor: the number,
// the lines, the figures and the non-ASCII names come out as they went in.
func TestRender(t *testing.T) {
	tests := []struct {
		name string
		r    *tierup.Receipt
		want []string
	}{
		{"receipt in euros", sample(tierup.KindReceipt, "EUR"), []string{"Receipt", "Number TU-2026-000042", "Issued 22 March 2026 (Europe/Berlin)",
			"Zoë Müller GmbH", "Hauptstraße 1", "10115 Berlin", "Tax ID: DE123456789", "François Lefèvre", "francois@example.com",
			"Team (1 month), 22 Mar 2026 to 22 Apr 2026", "€99.00", "Unused time on Pro (1 month) (10 days)", "-€9.67",
			"Subtotal", "€74.44", "Tax (20%, included)", "€14.89", "Total paid", "€89.33", "Paid with Visa ending in 4242."}},
		{"credit note in pounds", sample(tierup.KindCreditNote, "GBP"), []string{"Credit note", "Number TU-2026-000043",
			"Credits receipt TU-2026-000042", "£99.00", "Total credited", "£89.33", "Refunded to Visa ending in 4242."}},
		{"yen, no minor unit", sample(tierup.KindReceipt, "JPY"), []string{"¥9,900", "¥8,933"}},
		{"text outside the code page", func() *tierup.Receipt {
			r := sample(tierup.KindReceipt, "USD")
			r.Buyer.Name = "山田 → Ada"
			return r
		}(), []string{"?? > Ada", "$89.33"}},
	}
	space := regexp.MustCompile(`[ \t]+`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := receiptpdf.Render(&buf, tt.r); err != nil {
				t.Fatal(err)
			}
			text := pdftext.Extract(t, buf.Bytes())
			lines := strings.Split(text, "\n")
			for i, l := range lines {
				lines[i] = space.ReplaceAllString(strings.TrimSpace(l), " ")
			}
			flat := strings.Join(lines, "\n")
			for _, w := range tt.want {
				if !strings.Contains(flat, w) {
					t.Errorf("%q not in the PDF's text:\n%s", w, flat)
				}
			}
			var again bytes.Buffer
			if err := receiptpdf.Render(&again, tt.r); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Errorf("rendering twice differs (%v): the PDF must depend on the receipt alone", err)
			}
		})
	}
	if got := receiptpdf.Filename(sample(tierup.KindReceipt, "USD")); got != "TU-2026-000042.pdf" {
		t.Errorf("filename %s", got)
	}
}
