package tierup_test

import (
	"testing"

	"github.com/tierup/tierup"
)

func TestMoneyFormats(t *testing.T) {
	for _, tc := range []struct {
		m            tierup.Money
		str, display string
	}{
		{tierup.Money{Amount: 2900, Currency: "USD"}, "USD 29.00", "$29.00"},
		{tierup.Money{Amount: 129000, Currency: "USD"}, "USD 1290.00", "$1,290.00"},
		{tierup.Money{Amount: 5, Currency: "USD"}, "USD 0.05", "$0.05"},
		{tierup.Money{Amount: 0, Currency: "EUR"}, "EUR 0.00", "€0.00"},
		{tierup.Money{Amount: -14412, Currency: "GBP"}, "GBP -144.12", "-£144.12"},
		{tierup.Money{Amount: 3000, Currency: "JPY"}, "JPY 3000", "¥3,000"},
		{tierup.Money{Amount: 1500, Currency: "KWD"}, "KWD 1.500", "KWD 1.500"},
		{tierup.Money{Amount: -1234567, Currency: "CHF"}, "CHF -12345.67", "-CHF 12,345.67"},
	} {
		if got := tc.m.String(); got != tc.str {
			t.Errorf("String(%d %s) = %q, want %q", tc.m.Amount, tc.m.Currency, got, tc.str)
		}
		if got := tc.m.Display(); got != tc.display {
			t.Errorf("Display(%d %s) = %q, want %q", tc.m.Amount, tc.m.Currency, got, tc.display)
		}
	}
}
