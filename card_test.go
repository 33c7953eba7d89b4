package tierup_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"pgregory.net/rapid"
)

// cardNow is mid-month so that expiry tests do not depend on time zones
// unless they mean to.
var cardNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// goodCard returns a valid card of the number's brand, expiring in a year.
func goodCard(number string) tierup.Card {
	cvc := "123"
	if tierup.CardBrand(number) == tierup.BrandAmex {
		cvc = "1234"
	}
	return tierup.Card{Number: number, ExpMonth: 3, ExpYear: 2027, CVC: cvc, Name: "Ada Lovelace"}
}

// cardError returns err as a *tierup.Error of code invalid_card, failing
// the test otherwise.
func cardError(t *testing.T, err error) *tierup.Error {
	t.Helper()
	var e *tierup.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *tierup.Error", err, err)
	}
	if e.Code != tierup.CodeInvalidCard {
		t.Fatalf("code = %q, want %q", e.Code, tierup.CodeInvalidCard)
	}
	return e
}

func locations(e *tierup.Error) []string {
	var l []string
	for _, f := range e.Fields {
		l = append(l, f.Location)
	}
	slices.Sort(l)
	return l
}

func TestValidateCardAcceptsStripeTestNumbers(t *testing.T) {
	for _, tc := range []struct{ number, brand string }{
		{"4242424242424242", "visa"},
		{"5555555555554444", "mastercard"},
		{"2223003122003222", "mastercard"},
		{"378282246310005", "amex"},
		{"371449635398431", "amex"},
		{"4000000000000002", "visa"}, // declines at the gateway, valid here
		{"4000000000009995", "visa"},
		{"4000000000000069", "visa"},
		{"4000000000000127", "visa"},
		{"4000000000000119", "visa"},
		{"6011111111111117", "discover"},
		{"6011000990139424", "discover"},
		{"3056930009020004", "diners"},
		{"36227206271667", "diners"},
		{"3566002020360505", "jcb"},
		{"6200000000000005", "unionpay"},
		{"4242 4242 4242 4242", "visa"},
		{"4242-4242-4242-4242", "visa"},
		{"4242\u00a04242\u00a04242\u00a04242", "visa"},
	} {
		t.Run(tc.number, func(t *testing.T) {
			brand, err := tierup.ValidateCard(goodCard(tc.number), cardNow, time.UTC)
			if err != nil {
				t.Fatalf("ValidateCard: %v %+v", err, err)
			}
			if brand != tc.brand {
				t.Errorf("brand = %q, want %q", brand, tc.brand)
			}
			if got := tierup.CardBrand(tc.number); got != tc.brand {
				t.Errorf("CardBrand = %q, want %q", got, tc.brand)
			}
		})
	}
}

func TestCardBrand(t *testing.T) {
	for _, tc := range []struct{ prefix, brand string }{
		{"4", "visa"},
		{"51", "mastercard"}, {"55", "mastercard"}, {"50", ""}, {"56", ""},
		{"2221", "mastercard"}, {"2720", "mastercard"}, {"2220", ""}, {"2721", ""},
		{"34", "amex"}, {"37", "amex"}, {"35", ""},
		{"6011", "discover"}, {"644", "discover"}, {"649", "discover"}, {"65", "discover"},
		{"6012", ""}, {"643", ""},
		{"300", "diners"}, {"305", "diners"}, {"306", ""}, {"36", "diners"}, {"38", "diners"}, {"39", "diners"},
		{"3528", "jcb"}, {"3589", "jcb"}, {"3527", ""}, {"3590", ""},
		{"62", "unionpay"}, {"6221", "unionpay"},
		{"", ""}, {"1", ""}, {"9", ""}, {"x4", ""},
	} {
		// Pad to a plausible length: the brand depends on the prefix only.
		number := tc.prefix + strings.Repeat("0", 16-min(len(tc.prefix), 16))
		if got := tierup.CardBrand(number); got != tc.brand {
			t.Errorf("CardBrand(%q) = %q, want %q", number, got, tc.brand)
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, tc := range []struct {
		number string
		want   bool
	}{
		{"4242424242424242", true},
		{"4242424242424241", false},
		{"79927398713", true},
		{"79927398710", false},
		{"0", true},
		{"", false},
		{"4242 4242 4242 4242", false}, // Luhn takes digits only
		{"424242424242424a", false},
		{"٤٢٤٢", false}, // Arabic-Indic digits are not ASCII digits
	} {
		if got := tierup.Luhn(tc.number); got != tc.want {
			t.Errorf("Luhn(%q) = %v, want %v", tc.number, got, tc.want)
		}
	}
}

func TestNormalizeCardNumberAndLast4(t *testing.T) {
	for _, tc := range []struct{ in, norm, last4 string }{
		{"4242 4242 4242 4242", "4242424242424242", "4242"},
		{" 3782-822463-10005 ", "378282246310005", "0005"},
		{"4000\t0000 0000-0119", "4000000000000119", "0119"},
		{"12", "12", "12"},
		{"", "", ""},
	} {
		if got := tierup.NormalizeCardNumber(tc.in); got != tc.norm {
			t.Errorf("NormalizeCardNumber(%q) = %q, want %q", tc.in, got, tc.norm)
		}
		if got := tierup.Last4(tc.in); got != tc.last4 {
			t.Errorf("Last4(%q) = %q, want %q", tc.in, got, tc.last4)
		}
	}
}

func TestCardFingerprint(t *testing.T) {
	key := []byte("server key")
	a := tierup.CardFingerprint(key, "4242424242424242")
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("fingerprint %q is not hex SHA-256", a)
	}
	if b := tierup.CardFingerprint(key, "4242 4242-4242 4242"); b != a {
		t.Errorf("formatting changed the fingerprint: %q vs %q", b, a)
	}
	if b := tierup.CardFingerprint(key, "5555555555554444"); b == a {
		t.Errorf("two cards share a fingerprint")
	}
	if b := tierup.CardFingerprint([]byte("other key"), "4242424242424242"); b == a {
		t.Errorf("the key does not change the fingerprint")
	}
	// Known answer, so that a change of algorithm cannot go unnoticed: it
	// would split every stored card from its new fingerprint.
	// printf 4242424242424242 | openssl dgst -sha256 -hmac 'server key'
	if want := "83f16ded88c874ac5ad72edf6b97c31d3beea0318fdbb8ecd32c268b5405eb72"; a != want {
		t.Errorf("fingerprint = %s, want %s", a, want)
	}
}

func TestValidateCardRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(c *tierup.Card)
		fields []string
		msg    string // the message of the first field, when set
	}{
		{"bad Luhn", func(c *tierup.Card) { c.Number = "4242424242424241" },
			[]string{"body.card.number"}, "The card number is not valid: check the digits."},
		{"visa too short", func(c *tierup.Card) { c.Number = "424242424242424" },
			[]string{"body.card.number"}, "Visa card numbers have 13, 16 or 19 digits: check that none is missing or extra."},
		{"visa 17 digits", func(c *tierup.Card) { c.Number = "42424242424242426" },
			[]string{"body.card.number"}, ""},
		{"amex 16 digits", func(c *tierup.Card) { c.Number = "3782822463100050"; c.CVC = "1234" },
			[]string{"body.card.number"}, "American Express card numbers have 15 digits: check that none is missing or extra."},
		{"mastercard 15 digits", func(c *tierup.Card) { c.Number = "555555555555444" },
			[]string{"body.card.number"}, ""},
		{"diners 13 digits", func(c *tierup.Card) { c.Number = "3056930009020" },
			[]string{"body.card.number"}, ""},
		{"jcb 20 digits", func(c *tierup.Card) { c.Number = "35660020203605050000" },
			[]string{"body.card.number"}, ""},
		{"unknown brand", func(c *tierup.Card) { c.Number = "9999999999999995" },
			[]string{"body.card.number"}, ""},
		{"letters", func(c *tierup.Card) { c.Number = "4242x42424242424" },
			[]string{"body.card.number"}, "The card number can only contain digits, spaces and dashes."},
		{"empty number", func(c *tierup.Card) { c.Number = "" },
			[]string{"body.card.number"}, "Enter the card number."},
		{"month 0", func(c *tierup.Card) { c.ExpMonth = 0 }, []string{"body.card.exp_month"}, ""},
		{"month 13", func(c *tierup.Card) { c.ExpMonth = 13 }, []string{"body.card.exp_month"}, ""},
		{"two-digit year", func(c *tierup.Card) { c.ExpYear = 27 }, []string{"body.card.exp_year"}, ""},
		{"five-digit year", func(c *tierup.Card) { c.ExpYear = 20270 }, []string{"body.card.exp_year"}, ""},
		{"amex 3-digit cvc", func(c *tierup.Card) { c.Number = "378282246310005"; c.CVC = "123" },
			[]string{"body.card.cvc"}, "The security code of an American Express card has 4 digits."},
		{"visa 4-digit cvc", func(c *tierup.Card) { c.CVC = "1234" }, []string{"body.card.cvc"}, ""},
		{"cvc letters", func(c *tierup.Card) { c.CVC = "12a" }, []string{"body.card.cvc"}, ""},
		{"empty cvc", func(c *tierup.Card) { c.CVC = "" }, []string{"body.card.cvc"}, ""},
		{"long name", func(c *tierup.Card) { c.Name = strings.Repeat("é", 201) }, []string{"body.card.name"}, ""},
		{"everything", func(c *tierup.Card) {
			*c = tierup.Card{Number: "4242424242424241", ExpMonth: 13, ExpYear: 99, CVC: "1", Name: strings.Repeat("a", 300)}
		}, []string{"body.card.cvc", "body.card.exp_month", "body.card.exp_year", "body.card.name", "body.card.number"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := goodCard("4242424242424242")
			tc.edit(&c)
			brand, err := tierup.ValidateCard(c, cardNow, time.UTC)
			if err == nil {
				t.Fatalf("ValidateCard accepted the card (brand %q)", brand)
			}
			if brand != "" {
				t.Errorf("brand = %q on error, want empty", brand)
			}
			e := cardError(t, err)
			if got := locations(e); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields = %v, want %v (%+v)", got, tc.fields, e.Fields)
			}
			for _, f := range e.Fields {
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Location)
				}
			}
			if tc.msg != "" && e.Fields[0].Message != tc.msg {
				t.Errorf("message = %q, want %q", e.Fields[0].Message, tc.msg)
			}
			if len(e.Fields) == 1 && e.Message != e.Fields[0].Message {
				t.Errorf("error message %q differs from its only field's %q", e.Message, e.Fields[0].Message)
			}
			if e.Message == "" {
				t.Errorf("error has no message")
			}
		})
	}
}

func TestValidateCardNameLimitCountsCharacters(t *testing.T) {
	c := goodCard("4242424242424242")
	c.Name = strings.Repeat("é", tierup.MaxCardNameLength) // 400 bytes, 200 characters
	if _, err := tierup.ValidateCard(c, cardNow, time.UTC); err != nil {
		t.Fatalf("a 200-character name was refused: %v", err)
	}
}

func TestValidateCardExpiry(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 20:00 UTC on 31 March is already 05:00 on 1 April in Tokyo but still
	// 16:00 on 31 March in New York.
	endOfMarch := time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC)
	// 03:00 UTC on 1 April is still 31 March in New York.
	startOfApril := time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		name        string
		month, year int
		now         time.Time
		loc         *time.Location
		field, msg  string // empty: valid
	}{
		{"this month", 3, 2026, cardNow, time.UTC, "", ""},
		{"next month", 4, 2026, cardNow, time.UTC, "", ""},
		{"last month", 2, 2026, cardNow, time.UTC, "body.card.exp_month", "This card expired in 02/2026."},
		{"last year", 12, 2025, cardNow, time.UTC, "body.card.exp_year", "This card expired in 12/2025."},
		{"last day of expiry month", 3, 2026, endOfMarch, time.UTC, "", ""},
		{"nil location is UTC", 3, 2026, endOfMarch, nil, "", ""},
		{"already April in Tokyo", 3, 2026, endOfMarch, tokyo, "body.card.exp_month", "This card expired in 03/2026."},
		{"April card in Tokyo", 4, 2026, endOfMarch, tokyo, "", ""},
		{"April in UTC", 3, 2026, startOfApril, time.UTC, "body.card.exp_month", "This card expired in 03/2026."},
		{"still March in New York", 3, 2026, startOfApril, newYork, "", ""},
		{"December card in January", 12, 2025, time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), tokyo,
			"body.card.exp_year", "This card expired in 12/2025."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := goodCard("4242424242424242")
			c.ExpMonth, c.ExpYear = tc.month, tc.year
			_, err := tierup.ValidateCard(c, tc.now, tc.loc)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("ValidateCard: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("ValidateCard accepted an expired card")
			}
			e := cardError(t, err)
			if len(e.Fields) != 1 || e.Fields[0].Location != tc.field || e.Fields[0].Message != tc.msg {
				t.Fatalf("fields = %+v, want one at %s saying %q", e.Fields, tc.field, tc.msg)
			}
		})
	}
}

// TestValidateCardErrorsNeverEchoSecrets guards the rule that card numbers
// and CVCs never reach an error, where they would be logged and returned.
func TestValidateCardErrorsNeverEchoSecrets(t *testing.T) {
	for _, c := range []tierup.Card{
		{Number: "4242424242424241", ExpMonth: 1, ExpYear: 2020, CVC: "987", Name: "A"},
		{Number: "4242 4242 4242 4241", ExpMonth: 13, ExpYear: 20, CVC: "98765"},
		{Number: "378282246310005", ExpMonth: 3, ExpYear: 2027, CVC: "987"},
		{Number: "3782822463100059", ExpMonth: 3, ExpYear: 2027, CVC: "98x"},
		{Number: "9999999999999995", ExpMonth: 3, ExpYear: 2027, CVC: "98765"},
		{Number: "4242x42424242424", ExpMonth: 3, ExpYear: 2027, CVC: "9876"},
		{Number: "42424242", ExpMonth: 3, ExpYear: 2027, CVC: "<script>987"},
	} {
		_, err := tierup.ValidateCard(c, cardNow, time.UTC)
		if err == nil {
			t.Fatalf("ValidateCard accepted %+v", c)
		}
		cardError(t, err)
		if leak := leakedCardData(c, err, 1); leak != "" {
			t.Error(leak)
		}
	}
}

// leakedCardData says which text of ValidateCard's error err for c shows
// the card's number or CVC, or returns "". Values shorter than minLen are
// not looked for.
func leakedCardData(c tierup.Card, err error, minLen int) string {
	texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	if e := (*tierup.Error)(nil); errors.As(err, &e) {
		texts = append(texts, e.Message)
		for _, f := range e.Fields {
			texts = append(texts, f.Message, f.Location)
		}
	}
	for _, s := range []string{c.Number, tierup.NormalizeCardNumber(c.Number), c.CVC} {
		if len(s) < minLen {
			continue
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				return fmt.Sprintf("error text %q contains the card data %q", text, s)
			}
		}
	}
	return ""
}

// luhnCheckDigit computes the digit that makes payload+digit pass Luhn,
// independently of tierup.Luhn.
func luhnCheckDigit(payload string) byte {
	sum := 0
	for i := 0; i < len(payload); i++ {
		d := int(payload[len(payload)-1-i] - '0')
		if i%2 == 0 { // doubled once the check digit is appended
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

func TestLuhnProperties(t *testing.T) {
	digits := rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), 0, 30, -1)
	rapid.Check(t, func(t *rapid.T) {
		payload := digits.Draw(t, "payload")
		number := payload + string(luhnCheckDigit(payload))
		if !tierup.Luhn(number) {
			t.Fatalf("Luhn(%q) = false with its check digit appended", number)
		}
		i := rapid.IntRange(0, len(number)-1).Draw(t, "position")
		shift := rapid.IntRange(1, 9).Draw(t, "shift")
		b := []byte(number)
		b[i] = '0' + (b[i]-'0'+byte(shift))%10
		if tierup.Luhn(string(b)) {
			t.Fatalf("Luhn(%q) = true after changing digit %d of %q", b, i, number)
		}
	})
}
