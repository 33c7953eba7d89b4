package tierup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

func TestParseTaxRate(t *testing.T) {
	tests := []struct {
		in   string
		want tierup.TaxRate
		str  string
	}{
		{"20", 2000, "20%"}, {"20%", 2000, "20%"}, {" 7.5 % ", 750, "7.5%"}, {"8.25", 825, "8.25%"},
		{"0", 0, "0%"}, {"100", 10000, "100%"}, {"0.01%", 1, "0.01%"}, {"19.00", 1900, "19%"},
	}
	for _, tt := range tests {
		got, err := tierup.ParseTaxRate(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseTaxRate(%q) = %d (%s), %v; want %d (%s)", tt.in, got, got, err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "%", "-5", "100.01", "7.125", "20.", ".5", "twenty", "1e2", "20%%", "0x10", "99999999999999999999"} {
		if _, err := tierup.ParseTaxRate(bad); !errors.Is(err, tierup.ErrInvalid) || !strings.Contains(err.Error(), "percentage") {
			t.Errorf("ParseTaxRate(%q): %v, want a validation error", bad, err)
		}
	}
}

// TestTaxIncluded checks the tax inside a total, rounded half-up once.
func TestTaxIncluded(t *testing.T) {
	tests := []struct {
		total    int64
		currency tierup.Currency
		rate     tierup.TaxRate
		want     int64
	}{
		{2900, "USD", 2000, 483},  // 2900 / 6 = 483.33
		{8100, "USD", 2000, 1350}, // exact
		{9, "USD", 2000, 2},       // 1.5 rounds up
		{3, "USD", 2000, 1},       // 0.5 rounds up
		{2900, "USD", 0, 0},
		{2900, "USD", 750, 202}, // 2900 × 750 / 10750 = 202.33
		{3000, "JPY", 1000, 273},
		{1500, "KWD", 10000, 750},
		{0, "USD", 2000, 0},
	}
	for _, tt := range tests {
		got, err := tt.rate.Included(tierup.Money{Amount: tt.total, Currency: tt.currency})
		if err != nil || got.Amount != tt.want || got.Currency != tt.currency {
			t.Errorf("%s of %d %s: %v, %v; want %d", tt.rate, tt.total, tt.currency, got, err, tt.want)
		}
	}
}

func TestReceiptNumberFormat(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("-01", -3600)) // already 2027 in UTC
	series := tierup.ReceiptSeries(at)
	if series != "TU-2027" {
		t.Errorf("series %s", series)
	}
	tests := []struct {
		seq  int64
		want string
	}{{1, "TU-2027-000001"}, {42, "TU-2027-000042"}, {999999, "TU-2027-999999"}, {1234567, "TU-2027-1234567"}}
	for _, tt := range tests {
		n := tierup.ReceiptNumber(series, tt.seq)
		s, seq, ok := tierup.ParseReceiptNumber(n)
		if n != tt.want || !ok || s != series || seq != tt.seq {
			t.Errorf("%d: %s → %s %d %v", tt.seq, n, s, seq, ok)
		}
	}
	for _, bad := range []string{"", "TU", "TU-2026-", "XX-2026-000001", "TU-2026-000000", "TU-2026-abc"} {
		if _, _, ok := tierup.ParseReceiptNumber(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestNewReceipt(t *testing.T) {
	now := time.Date(2026, 3, 22, 23, 30, 0, 0, time.UTC)
	usd := func(n int64) tierup.Money { return tierup.Money{Amount: n, Currency: "USD"} }
	acct := &tierup.Account{ID: "acct_1", Email: "zoe@example.com", Name: "Zoë Müller", TimeZone: "Asia/Tokyo"}
	cfg := tierup.ReceiptConfig{Seller: tierup.Seller{Name: "Acme", Address: "1 Road", TaxID: "EU1"}, TaxRate: 2000}
	credit := usd(967)
	tests := []struct {
		name       string
		adjustment tierup.Adjustment
		lines      []tierup.Line
		due        int64
		cfg        tierup.ReceiptConfig
		words      string
		sub, tax   int64
	}{
		{"extension", tierup.Adjustment{Kind: tierup.AdjustExtension, Seconds: 864000}, []tierup.Line{{Description: "Pro (3 months)", Amount: usd(8100)}}, 8100, cfg,
			"Extension: the 10 days left on Pro (1 month) were added to the new period", 6750, 1350},
		{"deduction", tierup.Adjustment{Kind: tierup.AdjustDeduction, Seconds: -3600 * 30}, []tierup.Line{{Description: "Team (1 month)", Amount: usd(9900)}}, 9900, cfg,
			"Deduction: the 1 day and 6 hours left on Pro (1 month) count as already used of the new period", 8250, 1650},
		{"credit, no tax configured", tierup.Adjustment{Kind: tierup.AdjustCredit, Amount: &credit},
			[]tierup.Line{{Description: "Team (1 month)", Amount: usd(9900)}, {Description: "Unused time on Pro (1 month)", Amount: usd(-967)}}, 8933,
			tierup.ReceiptConfig{}, "Credit: the unused time on Pro (1 month), worth $9.67, was taken off the price", 8933, 0},
		{"none", tierup.Adjustment{Kind: tierup.AdjustNone}, []tierup.Line{{Description: "Pro (1 month)", Amount: usd(2900)}}, 2900, cfg,
			"None: no time was left on Pro (1 month)", 2417, 483},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &tierup.Quote{ID: "quo_1", Adjustment: tt.adjustment, Lines: tt.lines, AmountDue: usd(tt.due)}
			u := &tierup.Upgrade{ID: "upg_1", AccountID: acct.ID, QuoteID: q.ID,
				Payment: tierup.Payment{Amount: usd(tt.due), Brand: "visa", Last4: "4242", ChargeID: "ch_1"}}
			r, err := tierup.NewReceipt(tierup.ReceiptInput{Kind: tierup.KindReceipt, Config: tt.cfg, Account: acct, Upgrade: u, Quote: q,
				FromPlan: "Pro (1 month)", PaymentRef: "ch_1", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if r.Adjustment != tt.words || r.Subtotal != usd(tt.sub) || r.Tax != usd(tt.tax) || r.Total != usd(tt.due) ||
				r.Subtotal.Amount+r.Tax.Amount != r.Total.Amount {
				t.Errorf("got %q %v + %v = %v", r.Adjustment, r.Subtotal, r.Tax, r.Total)
			}
			if r.IssuedDate != "23 March 2026" || r.TimeZone != "Asia/Tokyo" || r.Buyer.Name != "Zoë Müller" || r.Card.Last4 != "4242" ||
				len(r.Lines) != len(tt.lines) || r.Seller.Name == "" || r.Title() != "Receipt" {
				t.Errorf("content %+v", r)
			}
			// The snapshot is a copy: later changes to the quote do not reach it.
			q.Lines[0].Description = "changed"
			if r.Lines[0].Description == "changed" {
				t.Error("the receipt shares the quote's lines")
			}

			cn, err := tierup.NewReceipt(tierup.ReceiptInput{Kind: tierup.KindCreditNote, Config: cfg, Account: acct, Upgrade: u,
				PaymentRef: "re_1", Credits: r, Now: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if cn.Credits == nil || cn.Total != r.Total || cn.Tax != r.Tax || cn.Adjustment != r.Adjustment || cn.Title() != "Credit note" {
				t.Errorf("credit note %+v", cn)
			}
		})
	}
}
