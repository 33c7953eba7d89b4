package tierup

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReceiptKind says whether a document acknowledges a charge or a refund.
type ReceiptKind string

// Document kinds. Both share one number series.
const (
	KindReceipt    ReceiptKind = "receipt"
	KindCreditNote ReceiptKind = "credit_note"
)

// Seller is who issues receipts, as the operator configures it.
type Seller struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	TaxID   string `json:"tax_id,omitempty"`
}

// ReceiptConfig is what the operator sets for receipts.
type ReceiptConfig struct {
	Seller  Seller
	TaxRate TaxRate // included in the quoted prices; 0: no tax
	// BaseURL is the dashboard's public address, for the links in emails
	// (e.g. https://billing.example.com); empty gives relative links.
	BaseURL string
}

// DefaultReceiptConfig returns the defaults; the CLI shows them in its
// flags.
func DefaultReceiptConfig() ReceiptConfig {
	return ReceiptConfig{Seller: Seller{Name: "tierup"}}
}

// WithDefaults fills the unset fields from DefaultReceiptConfig.
func (c ReceiptConfig) WithDefaults() ReceiptConfig {
	if c.Seller.Name == "" {
		c.Seller.Name = DefaultReceiptConfig().Seller.Name
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// ReceiptPDFPath is the dashboard's address of a receipt's PDF.
func ReceiptPDFPath(id string) string { return "/receipts/" + id + ".pdf" }

// PDFURL is the absolute address of a receipt's PDF on the dashboard.
func (c ReceiptConfig) PDFURL(id string) string { return c.BaseURL + ReceiptPDFPath(id) }

// TaxRate is a tax rate in basis points: 2000 is 20 %.
type TaxRate int64

// maxTaxRate is 100 %: a tax larger than the net price is a typo.
const maxTaxRate TaxRate = 10000

// ParseTaxRate reads a percentage with at most two decimals, with or
// without the sign: "20", "20%", "7.5", "8.25 %". Errors: CodeInvalid for
// anything else, or a rate outside 0–100 %.
func ParseTaxRate(s string) (TaxRate, error) {
	bad := func() (TaxRate, error) {
		return 0, Errorf(CodeInvalid, "tax rate %q: want a percentage from 0 to 100 with at most two decimals, e.g. 20 or 7.5%%", s)
	}
	v := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	whole, frac, hasFrac := strings.Cut(v, ".")
	if whole == "" || len(frac) > 2 || (hasFrac && frac == "") || strings.Trim(whole+frac, "0123456789") != "" {
		return bad()
	}
	frac += strings.Repeat("0", 2-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || TaxRate(n) > maxTaxRate {
		return bad()
	}
	return TaxRate(n), nil
}

// String is the rate as a percentage: "20%", "7.5%", "0%".
func (r TaxRate) String() string {
	s := strconv.FormatInt(int64(r)/100, 10)
	if f := int64(r) % 100; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", f), "0")
	}
	return s + "%"
}

// Included is the tax contained in a tax-inclusive total:
// total × rate / (100 % + rate), computed exactly and rounded half-up once.
// Prices are quoted with the tax in them, so the amount charged is the
// total and stays what the quote said. Errors: ErrOverflow.
func (r TaxRate) Included(total Money) (Money, error) {
	tax, err := MulDivHalfUp(total.Amount, int64(r), int64(maxTaxRate+r))
	return Money{Amount: tax, Currency: total.Currency}, err
}

// ReceiptPrefix starts every document number.
const ReceiptPrefix = "TU"

// ReceiptSeries is the number series a document issued at t belongs to:
// the prefix and t's year in UTC ("TU-2026"). The counter restarts at 1
// each year, so the year is part of the number and numbers are gapless
// within it.
func ReceiptSeries(t time.Time) string {
	return fmt.Sprintf("%s-%04d", ReceiptPrefix, t.UTC().Year())
}

// ReceiptNumber formats the seq-th number of a series: "TU-2026-000001".
func ReceiptNumber(series string, seq int64) string {
	return fmt.Sprintf("%s-%06d", series, seq)
}

// ParseReceiptNumber splits a number into its series and position.
func ParseReceiptNumber(number string) (series string, seq int64, ok bool) {
	i := strings.LastIndexByte(number, '-')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(number[i+1:], 10, 64)
	if err != nil || seq <= 0 || !strings.HasPrefix(number, ReceiptPrefix+"-") {
		return "", 0, false
	}
	return number[:i], seq, true
}

// Buyer is the account a document is made out to.
type Buyer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

// CardRef is the card a document was paid with or refunded to.
type CardRef struct {
	Brand string `json:"brand"`
	Last4 string `json:"last4"`
}

// ReceiptRef names a receipt: the one a credit note reverses, or the one a
// payment's charge got (Payment.Receipt).
type ReceiptRef struct {
	ID     string `json:"id"`
	Number string `json:"number"`
}

// Receipt is a receipt for a charge or a credit note for a refund. Its
// content is a snapshot taken when it was issued: it never changes, even
// when the seller's configuration or the account does.
type Receipt struct {
	ID         string      `json:"id"`
	Number     string      `json:"number" doc:"Gapless within the seller's yearly series, e.g. TU-2026-000001."`
	Kind       ReceiptKind `json:"kind" enum:"receipt,credit_note"`
	AccountID  string      `json:"account"`
	UpgradeID  string      `json:"upgrade"`
	QuoteID    string      `json:"quote"`
	PaymentRef string      `json:"payment_ref" doc:"The gateway's charge (receipt) or refund (credit note) ID."`
	Credits    *ReceiptRef `json:"credits,omitempty" doc:"Credit notes: the receipt reversed."`
	IssuedAt   time.Time   `json:"issued_at"`
	TimeZone   string      `json:"timezone" doc:"The account's time zone, in which the dates are written."`
	IssuedDate string      `json:"issued_date" doc:"The issue date in the account's time zone, e.g. 22 March 2026."`
	Seller     Seller      `json:"seller"`
	Buyer      Buyer       `json:"buyer"`
	Lines      []Line      `json:"lines"`
	Adjustment string      `json:"adjustment" doc:"What happened to the time left on the previous plan, in words."`
	Subtotal   Money       `json:"subtotal" doc:"Total less the tax included in it."`
	TaxRate    string      `json:"tax_rate" doc:"Included in the prices, e.g. 20%."`
	Tax        Money       `json:"tax"`
	Total      Money       `json:"total" doc:"What was charged (receipt) or refunded (credit note)."`
	Card       CardRef     `json:"payment_method"`
}

// Title is the document's heading.
func (r *Receipt) Title() string {
	if r.Kind == KindCreditNote {
		return "Credit note"
	}
	return "Receipt"
}

// ReceiptInput is everything NewReceipt needs; it does no I/O.
type ReceiptInput struct {
	Kind       ReceiptKind
	Config     ReceiptConfig
	Account    *Account
	Upgrade    *Upgrade
	Quote      *Quote
	FromPlan   string // the previous plan's name, for the adjustment's words
	PaymentRef string
	// Credits is, for a credit note, the receipt it reverses; its lines and
	// figures are repeated. Without one (a charge from before receipts),
	// the credit note is made from the quote.
	Credits *Receipt
	Now     time.Time
}

// NewReceipt builds a document without an ID or number (the store assigns
// the number in the transaction that records the payment). The total is
// the upgrade's payment; the tax is the part of it the configured rate
// includes. Errors: ErrOverflow.
func NewReceipt(in ReceiptInput) (*Receipt, error) {
	cfg := in.Config.WithDefaults()
	loc := in.Account.Location()
	r := &Receipt{Kind: in.Kind, AccountID: in.Upgrade.AccountID, UpgradeID: in.Upgrade.ID, QuoteID: in.Upgrade.QuoteID,
		PaymentRef: in.PaymentRef, IssuedAt: in.Now.UTC().Truncate(time.Microsecond), TimeZone: loc.String(),
		IssuedDate: in.Now.In(loc).Format("2 January 2006"), Seller: cfg.Seller,
		Buyer: Buyer{Name: in.Account.Name, Email: in.Account.Email},
		Card:  CardRef{Brand: in.Upgrade.Payment.Brand, Last4: in.Upgrade.Payment.Last4}}
	if c := in.Credits; c != nil {
		r.Credits = &ReceiptRef{ID: c.ID, Number: c.Number}
		r.Lines, r.Adjustment = append([]Line{}, c.Lines...), c.Adjustment
		r.Subtotal, r.TaxRate, r.Tax, r.Total = c.Subtotal, c.TaxRate, c.Tax, c.Total
		return r, nil
	}
	r.Lines, r.Adjustment = append([]Line{}, in.Quote.Lines...), AdjustmentWords(in.Quote, in.FromPlan)
	r.Total = in.Upgrade.Payment.Amount
	tax, err := cfg.TaxRate.Included(r.Total)
	if err != nil {
		return nil, err
	}
	r.Tax, r.TaxRate = tax, cfg.TaxRate.String()
	r.Subtotal = Money{Amount: r.Total.Amount - tax.Amount, Currency: r.Total.Currency}
	return r, nil
}

// AdjustmentWords says what the quote did with the time left on the
// previous plan (named from), for receipts.
func AdjustmentWords(q *Quote, from string) string {
	if from == "" {
		from = "the previous plan"
	}
	a := q.Adjustment
	switch a.Kind {
	case AdjustExtension:
		return fmt.Sprintf("Extension: the %s left on %s were added to the new period", HumanDuration(a.Seconds), from)
	case AdjustDeduction:
		return fmt.Sprintf("Deduction: the %s left on %s count as already used of the new period", HumanDuration(-a.Seconds), from)
	case AdjustTimeCredit:
		return fmt.Sprintf("Time credit: the value left on %s bought %s more on the new plan", from, HumanDuration(a.Seconds))
	case AdjustCredit:
		s := "Credit: the unused time on " + from
		if a.Amount != nil {
			s += fmt.Sprintf(", worth %s,", a.Amount)
		}
		s += " was taken off the price"
		if q.AccountCredit != nil && q.AccountCredit.Amount > 0 {
			s += fmt.Sprintf("; %s stays on the account as credit", q.AccountCredit)
		}
		return s
	}
	return "None: no time was left on " + from
}
