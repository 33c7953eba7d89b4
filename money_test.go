package tierup_test

import (
	"testing"

	"github.com/tierup/tierup"
)

func TestMoneyFormats(t *testing.T) {
	for _, tc := range []struct {
		m    tierup.Money
		want string
	}{
		{tierup.Money{Amount: 2900, Currency: "USD"}, "$29.00"},
		{tierup.Money{Amount: 129000, Currency: "USD"}, "$1,290.00"},
		{tierup.Money{Amount: 5, Currency: "USD"}, "$0.05"},
		{tierup.Money{Amount: 0, Currency: "EUR"}, "€0.00"},
		{tierup.Money{Amount: -14412, Currency: "GBP"}, "-£144.12"},
		{tierup.Money{Amount: 3000, Currency: "JPY"}, "¥3,000"},
		{tierup.Money{Amount: 1500, Currency: "KWD"}, "KWD 1.500"},
		{tierup.Money{Amount: -1234567, Currency: "CHF"}, "-CHF 12,345.67"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("String(%d %s) = %q, want %q", tc.m.Amount, tc.m.Currency, got, tc.want)
		}
	}
}
