package tierup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Card brands as CardBrand and ValidateCard name them. They are the values
// of PaymentMethod.Brand.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandAmex       = "amex"
	BrandDiscover   = "discover"
	BrandDiners     = "diners"
	BrandJCB        = "jcb"
	BrandUnionPay   = "unionpay"
)

// MaxCardNameLength is the longest card holder name ValidateCard accepts,
// in characters: gateways truncate or refuse longer ones.
const MaxCardNameLength = 200

// NormalizeCardNumber removes the spaces and dashes people type or paste
// between groups of digits, so that "1234 5678-…" and "12345678…" are the
// same card. Any Unicode space counts: pasted numbers often
// carry non-breaking ones. Other characters are kept so that validation
// can refuse them.
func NormalizeCardNumber(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// Luhn reports whether number, digits only, passes the Luhn (mod 10)
// check that catches most mistyped card numbers before a gateway sees them.
// Anything but a non-empty string of ASCII digits fails.
func Luhn(number string) bool {
	if !isDigits(number) {
		return false
	}
	sum := 0
	double := false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// CardBrand names the brand of a card number from its issuer identification
// number (the leading digits), or returns "" for a brand tierup does not
// accept. It needs only the prefix, so it also works on a number that is too
// short or fails Luhn; spaces and dashes are ignored.
func CardBrand(number string) string {
	n := NormalizeCardNumber(number)
	p := func(k int) int { // the first k digits as a number, -1 if absent
		if len(n) < k || !isDigits(n[:k]) {
			return -1
		}
		v, _ := strconv.Atoi(n[:k])
		return v
	}
	p1, p2, p3, p4 := p(1), p(2), p(3), p(4)
	switch {
	case p1 == 4:
		return BrandVisa
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return BrandMastercard
	case p2 == 34, p2 == 37:
		return BrandAmex
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65:
		return BrandDiscover
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39:
		return BrandDiners
	case p4 >= 3528 && p4 <= 3589:
		return BrandJCB
	case p2 == 62:
		return BrandUnionPay
	}
	return ""
}

// cardLengths are the number lengths each brand issues; a number of another
// length is a typo, not a card.
func cardLengths(brand string) (lo, hi int, only []int) {
	switch brand {
	case BrandVisa:
		return 0, 0, []int{13, 16, 19}
	case BrandMastercard:
		return 16, 16, nil
	case BrandAmex:
		return 15, 15, nil
	case BrandDiners:
		return 14, 19, nil
	case BrandDiscover, BrandJCB, BrandUnionPay:
		return 16, 19, nil
	}
	return 0, 0, nil
}

func validCardLength(brand string, n int) bool {
	lo, hi, only := cardLengths(brand)
	for _, l := range only {
		if n == l {
			return true
		}
	}
	return lo > 0 && n >= lo && n <= hi
}

// lengthText says in words how many digits a brand's numbers have.
func lengthText(brand string) string {
	lo, hi, only := cardLengths(brand)
	switch {
	case len(only) > 0:
		s := make([]string, len(only))
		for i, l := range only {
			s[i] = strconv.Itoa(l)
		}
		return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
	case lo == hi:
		return strconv.Itoa(lo)
	default:
		return fmt.Sprintf("%d to %d", lo, hi)
	}
}

// brandName is the name card holders know a brand by.
func brandName(brand string) string {
	switch brand {
	case BrandVisa:
		return "Visa"
	case BrandMastercard:
		return "Mastercard"
	case BrandAmex:
		return "American Express"
	case BrandDiscover:
		return "Discover"
	case BrandDiners:
		return "Diners Club"
	case BrandJCB:
		return "JCB"
	case BrandUnionPay:
		return "UnionPay"
	}
	return "card"
}

// ValidateCard checks a card before it goes to the gateway, so that a
// typo costs the card holder a form error instead of a declined charge, and
// returns the card's brand.
//
// Every bad field is reported at once in a *Error with code
// CodeInvalidCard, one FieldError per field at body.card.number,
// body.card.exp_month, body.card.exp_year, body.card.cvc or body.card.name.
// No message contains the number or the CVC: errors get logged.
//
// A card is valid through the last day of its expiry month in loc (the
// account's time zone; nil means UTC), so on 1 April in Tokyo a card that
// expired 03/2026 is refused even though it is still 31 March in UTC. An
// expired card is reported at exp_year when the year is past, otherwise at
// exp_month: the field the card holder has to change.
//
// The CVC must have 4 digits for American Express and 3 for the other
// brands; when the brand is unknown (the number is already reported) either
// length is accepted, so that one typo does not produce two errors.
func ValidateCard(c Card, now time.Time, loc *time.Location) (brand string, err error) {
	if loc == nil {
		loc = time.UTC
	}
	var fields []FieldError
	bad := func(field, msg string) {
		fields = append(fields, FieldError{Location: "body.card." + field, Message: msg})
	}

	number := NormalizeCardNumber(c.Number)
	brand = CardBrand(number)
	switch {
	case number == "":
		bad("number", "Enter the card number.")
	case !isDigits(number):
		bad("number", "The card number can only contain digits, spaces and dashes.")
	case brand != "" && !validCardLength(brand, len(number)):
		bad("number", fmt.Sprintf("%s card numbers have %s digits: check that none is missing or extra.", brandName(brand), lengthText(brand)))
	case !Luhn(number):
		bad("number", "The card number is not valid: check the digits.")
	case brand == "":
		bad("number", "This kind of card is not accepted: use Visa, Mastercard, American Express, Discover, Diners Club, JCB or UnionPay.")
	}

	monthOK := c.ExpMonth >= 1 && c.ExpMonth <= 12
	yearOK := c.ExpYear >= 1000 && c.ExpYear <= 9999
	if !monthOK {
		bad("exp_month", "The expiry month must be a number from 1 to 12.")
	}
	if !yearOK {
		bad("exp_year", "Enter the expiry year with four digits, for example 2030.")
	}
	if monthOK && yearOK {
		today := now.In(loc)
		y, m := today.Year(), int(today.Month())
		if c.ExpYear < y || c.ExpYear == y && c.ExpMonth < m {
			field := "exp_month"
			if c.ExpYear < y {
				field = "exp_year"
			}
			bad(field, fmt.Sprintf("This card expired in %02d/%d.", c.ExpMonth, c.ExpYear))
		}
	}

	switch {
	case c.CVC == "":
		bad("cvc", "Enter the security code (CVC) printed on the card.")
	case brand == BrandAmex && !(isDigits(c.CVC) && len(c.CVC) == 4):
		bad("cvc", "The security code of an American Express card has 4 digits.")
	case brand != BrandAmex && brand != "" && !(isDigits(c.CVC) && len(c.CVC) == 3):
		bad("cvc", "The security code of this card has 3 digits.")
	case brand == "" && !(isDigits(c.CVC) && (len(c.CVC) == 3 || len(c.CVC) == 4)):
		bad("cvc", "The security code has 3 or 4 digits.")
	}

	if utf8.RuneCountInString(c.Name) > MaxCardNameLength {
		bad("name", fmt.Sprintf("The name on the card can have at most %d characters.", MaxCardNameLength))
	} else if why := TextProblem(c.Name); why != "" {
		bad("name", "The name on the card "+why+".")
	}

	if len(fields) > 0 {
		msg := "Some card details are not valid: see the fields."
		if len(fields) == 1 {
			msg = fields[0].Message
		}
		return "", &Error{Code: CodeInvalidCard, Message: msg, Fields: fields}
	}
	return brand, nil
}

// CardFingerprint identifies a card number without storing it: the hex
// HMAC-SHA256 of the normalised number under a server-side key. A plain hash
// would not do, as the few card numbers of a given prefix can be hashed by
// anyone who steals the database.
func CardFingerprint(key []byte, number string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(NormalizeCardNumber(number)))
	return hex.EncodeToString(mac.Sum(nil))
}

// Last4 returns the last four digits of a card number, which is all of it
// tierup shows or keeps. Spaces and dashes are ignored; a shorter number is
// returned whole.
func Last4(number string) string {
	n := NormalizeCardNumber(number)
	if len(n) <= 4 {
		return n
	}
	return n[len(n)-4:]
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
