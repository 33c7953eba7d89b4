package tierup

import (
	"math/big"
	"strconv"
	"strings"
)

// Currency is an upper-case ISO 4217 alphabetic code such as "USD".
type Currency string

// Exponent returns the number of minor-unit digits of the currency (USD 2,
// JPY 0, KWD 3) and false for a currency tierup does not know.
func (c Currency) Exponent() (int, bool) {
	switch c {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0, true
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3, true
	case "CLF", "UYW":
		return 4, true
	case "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP",
		"HKD", "HUF", "IDR", "ILS", "INR", "MXN", "MYR", "NOK", "NZD", "PHP",
		"PLN", "RON", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "ZAR":
		return 2, true
	}
	return 0, false
}

// Money is an amount in the currency's minor unit (cents for USD, yen for
// JPY). It is never a float.
type Money struct {
	Amount   int64    `json:"amount" doc:"Amount in the currency's minor unit (cents for USD, yen for JPY)."`
	Currency Currency `json:"currency" doc:"ISO 4217 currency code."`
}

// String formats the amount the one way the product writes money — pages,
// emails, notifications, explanations, receipts, logs and the CLI alike:
// the currency's symbol when it has a common one, else its code, with
// grouped thousands and the currency's exponent, e.g. $1,290.00, ¥3,000,
// -£144.12, KWD 1.500.
func (m Money) String() string {
	exp, _ := m.Currency.Exponent()
	a := m.Amount
	sign := ""
	if a < 0 {
		sign, a = "-", -a
	}
	digits := strconv.FormatInt(a, 10)
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	out := b.String()
	if exp > 0 {
		out += "." + frac
	}
	if sym := m.Currency.symbol(); sym != "" {
		return sign + sym + out
	}
	return sign + string(m.Currency) + " " + out
}

// symbol is the currency's sign where one is common, else "".
func (c Currency) symbol() string {
	switch c {
	case "USD":
		return "$"
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	case "JPY":
		return "¥"
	}
	return ""
}

// ErrOverflow reports a result that does not fit in 64 bits.
var ErrOverflow = &Error{Code: CodeInternal, Message: "amount out of range"}

// MulDivHalfUp returns a×num/den computed exactly and rounded once, half
// away from zero. den must be positive. Errors: ErrOverflow.
func MulDivHalfUp(a, num, den int64) (int64, error) {
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(num))
	d := big.NewInt(den)
	q, r := new(big.Int).QuoRem(p, d, new(big.Int))
	// |2r| >= den rounds away from zero.
	r2 := new(big.Int).Abs(r)
	r2.Lsh(r2, 1)
	if r2.Cmp(d) >= 0 {
		if p.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return int64Of(q)
}

func int64Of(q *big.Int) (int64, error) {
	if !q.IsInt64() {
		return 0, ErrOverflow
	}
	return q.Int64(), nil
}

// MulDivFloor returns ⌊a×b×c/(d×e)⌋ for non-negative inputs, computed exactly.
// d×e must be positive. Errors: ErrOverflow.
func MulDivFloor(a, b, c, d, e int64) (int64, error) {
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	n.Mul(n, big.NewInt(c))
	m := new(big.Int).Mul(big.NewInt(d), big.NewInt(e))
	return int64Of(n.Div(n, m))
}
