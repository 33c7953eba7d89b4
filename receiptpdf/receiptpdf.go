// Package receiptpdf renders receipts and credit notes as PDF documents
// with fpdf (pure Go, no cgo). It uses the PDF core fonts, which every
// viewer has, so nothing is embedded; their encoding is Windows-1252, into
// which the text is translated: accented Latin letters, €, £ and ¥ render
// as they are, and a character outside the code page becomes "?".
package receiptpdf

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"github.com/tierup/tierup"
)

// ContentType is the media type Render writes.
const ContentType = "application/pdf"

// Filename is the name a download of r's PDF gets, e.g. TU-2026-000001.pdf.
func Filename(r *tierup.Receipt) string { return r.Number + ".pdf" }

// Page geometry, in millimetres on A4.
const (
	margin    = 20.0
	width     = 210.0 - 2*margin
	amountCol = 45.0
	lineH     = 6.0
)

// Render writes r as a one-page PDF. The output depends only on r: its
// dates are the receipt's own, never the time of rendering.
func Render(w io.Writer, r *tierup.Receipt) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin)
	pdf.SetCreationDate(r.IssuedAt)
	pdf.SetModificationDate(r.IssuedAt)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(r.Title()+" "+r.Number, true)
	pdf.SetAuthor(r.Seller.Name, true)
	pdf.SetCreator("tierup", true)
	cp := pdf.UnicodeTranslatorFromDescriptor("") // cp1252, the core fonts' encoding
	tr := func(s string) string { return cp(strings.Map(replaceUnencodable, s)) }
	text := func(style string, size float64, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(width, lineH, tr(s), "", "L", false)
	}
	row := func(style, label, amount string) {
		pdf.SetFont("Helvetica", style, 10)
		y := pdf.GetY()
		pdf.MultiCell(width-amountCol, lineH, tr(label), "", "L", false)
		after := pdf.GetY()
		pdf.SetXY(margin+width-amountCol, y)
		pdf.CellFormat(amountCol, lineH, tr(amount), "", 0, "R", false, 0, "")
		pdf.SetXY(margin, after)
	}
	rule := func() {
		y := pdf.GetY() + 1
		pdf.SetDrawColor(160, 160, 160)
		pdf.Line(margin, y, margin+width, y)
		pdf.SetY(y + 2)
	}

	pdf.AddPage()
	text("B", 20, r.Title())
	text("", 11, "Number "+r.Number)
	text("", 10, fmt.Sprintf("Issued %s (%s)", r.IssuedDate, r.TimeZone))
	if r.Credits != nil {
		text("", 10, "Credits receipt "+r.Credits.Number)
	}
	pdf.Ln(4)

	text("B", 10, "From")
	text("", 10, r.Seller.Name)
	if r.Seller.Address != "" {
		text("", 10, r.Seller.Address)
	}
	if r.Seller.TaxID != "" {
		text("", 10, "Tax ID: "+r.Seller.TaxID)
	}
	pdf.Ln(3)
	text("B", 10, "To")
	if r.Buyer.Name != "" {
		text("", 10, r.Buyer.Name)
	}
	text("", 10, r.Buyer.Email)
	pdf.Ln(4)

	row("B", "Description", "Amount ("+string(r.Total.Currency)+")")
	rule()
	for _, l := range r.Lines {
		row("", l.Description, l.Amount.String())
	}
	if r.Adjustment != "" {
		pdf.Ln(1)
		text("I", 9, r.Adjustment)
	}
	rule()
	row("", "Subtotal", r.Subtotal.String())
	row("", "Tax ("+r.TaxRate+", included)", r.Tax.String())
	total := "Total paid"
	if r.Kind == tierup.KindCreditNote {
		total = "Total credited"
	}
	row("B", total, r.Total.String())
	pdf.Ln(4)

	card := fmt.Sprintf("%s ending in %s", brand(r.Card.Brand), r.Card.Last4)
	if r.Kind == tierup.KindCreditNote {
		text("", 10, "Refunded to "+card+".")
	} else {
		text("", 10, "Paid with "+card+".")
	}
	note := "No tax was charged."
	if r.Tax.Amount != 0 || r.TaxRate != "0%" {
		note = "Prices include tax at " + r.TaxRate + "."
	}
	text("", 9, note+" Upgrade "+r.UpgradeID+", payment "+r.PaymentRef+".")
	return pdf.Output(w)
}

// replaceUnencodable keeps what Windows-1252 has (the translator maps
// it) and makes the rest a visible "?" rather than fpdf's ".".
func replaceUnencodable(r rune) rune {
	if r < 0x80 || cp1252Extra(r) || (r >= 0xA0 && r <= 0xFF) {
		return r
	}
	if r == utf8.RuneError {
		return '?'
	}
	switch r {
	case '→':
		return '>'
	case '\u2009', '\u202F': // thin spaces
		return ' '
	}
	return '?'
}

// cp1252Extra reports the characters Windows-1252 puts in 0x80–0x9F.
func cp1252Extra(r rune) bool {
	return strings.ContainsRune("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ", r)
}

// brand names a card brand for people: "visa" → "Visa".
func brand(b string) string {
	switch b {
	case "amex":
		return "American Express"
	case "":
		return "Card"
	}
	return strings.ToUpper(b[:1]) + b[1:]
}

// Serve answers an HTTP request with r's PDF, named by its number. It
// renders before writing anything, so a failure can still be answered
// with an error.
func Serve(w http.ResponseWriter, r *tierup.Receipt) error {
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Disposition", `inline; filename="`+Filename(r)+`"`)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, err := w.Write(buf.Bytes())
	return err
}
