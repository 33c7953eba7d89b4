package tierup_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tierup/tierup"
)

// The fuzz targets of the domain. `go test` runs their seeds (f.Add and
// testdata/fuzz/<target>/); scripts/test.sh fuzzes each for a few seconds;
// a crasher found is fixed and its input kept in testdata/fuzz as a
// regression test.

// cardFields are where ValidateCard reports a field.
var cardFields = []string{"body.card.number", "body.card.exp_month", "body.card.exp_year", "body.card.cvc", "body.card.name"}

// FuzzCard: for any card typed in, normalisation is idempotent and removes
// exactly the separators, the brand, fingerprint and last four digits do not
// depend on them, Luhn agrees with an independent check digit, and
// ValidateCard either accepts a card that is well formed in every field or
// refuses it with invalid_card, one message per bad field and no card data
// in any text.
func FuzzCard(f *testing.F) {
	f.Add("4242 4242 4242 4242", 3, 2027, "123", "Ada Lovelace", int64(1773576000), uint8(0))
	f.Add("3782-822463-10005", 12, 2030, "1234", "Zoë Ødegård", int64(1773576000), uint8(1))
	f.Add("4242424242424241", 13, 20, "98x", "a\u202Eb", int64(0), uint8(2))
	f.Add("6011\u00a00009\u00a09013\u00a09424", 2, 2026, "999", "", int64(1772323200), uint8(3))
	key := []byte("fuzz key")
	f.Fuzz(func(t *testing.T, number string, month, year int, cvc, name string, unix int64, zone uint8) {
		n := tierup.NormalizeCardNumber(number)
		if again := tierup.NormalizeCardNumber(n); again != n {
			t.Fatalf("NormalizeCardNumber is not idempotent: %q, then %q", n, again)
		}
		if want := stripSeparators(number); n != want {
			t.Fatalf("NormalizeCardNumber(%q) = %q, want %q", number, n, want)
		}
		if tierup.CardBrand(number) != tierup.CardBrand(n) || tierup.Last4(number) != tierup.Last4(n) ||
			tierup.CardFingerprint(key, number) != tierup.CardFingerprint(key, n) {
			t.Fatalf("brand, last 4 or fingerprint of %q depend on its separators", number)
		}
		if l4 := tierup.Last4(number); len(l4) > 4 || !strings.HasSuffix(n, l4) {
			t.Fatalf("Last4(%q) = %q", number, l4)
		}
		if want := luhnDigits(n) && luhnCheckDigit(n[:len(n)-1]) == n[len(n)-1]; tierup.Luhn(n) != want {
			t.Fatalf("Luhn(%q) = %v, want %v", n, !want, want)
		}

		// Any instant from 1970 to 2100, in one of the zones.
		now := time.Unix(int64(uint64(unix)%(130*366*86400)), 0).UTC()
		loc, err := time.LoadLocation(zones[int(zone)%len(zones)])
		if err != nil {
			t.Fatal(err)
		}
		c := tierup.Card{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc, Name: name}
		brand, err := tierup.ValidateCard(c, now, loc)
		spaced := c
		spaced.Number = n
		if brand2, err2 := tierup.ValidateCard(spaced, now, loc); brand2 != brand || !sameError(err, err2) {
			t.Fatalf("ValidateCard depends on the separators of %q: %q, %v; without: %q, %v", number, brand, err, brand2, err2)
		}
		if err == nil {
			today := now.In(loc)
			expired := year < today.Year() || year == today.Year() && month < int(today.Month())
			switch {
			case brand == "" || brand != tierup.CardBrand(n):
				t.Fatalf("accepted with brand %q, the number's is %q", brand, tierup.CardBrand(n))
			case !tierup.Luhn(n) || len(n) < 12 || len(n) > 19:
				t.Fatalf("accepted the number %q", n)
			case month < 1 || month > 12 || year < 1000 || year > 9999 || expired:
				t.Fatalf("accepted the expiry %d/%d on %s", month, year, today)
			case !luhnDigits(cvc) || len(cvc) != 3 && len(cvc) != 4:
				t.Fatalf("accepted the CVC %q", cvc)
			case tierup.TextProblem(name) != "" || utf8.RuneCountInString(name) > tierup.MaxCardNameLength:
				t.Fatalf("accepted the name %q", name)
			}
			return
		}
		var e *tierup.Error
		if !errors.As(err, &e) || e.Code != tierup.CodeInvalidCard || len(e.Fields) == 0 || e.Message == "" {
			t.Fatalf("refused with %#v, want invalid_card with fields", err)
		}
		seen := map[string]bool{}
		for _, fe := range e.Fields {
			if !slices.Contains(cardFields, fe.Location) || seen[fe.Location] || fe.Message == "" {
				t.Fatalf("field error %+v (fields %+v)", fe, e.Fields)
			}
			seen[fe.Location] = true
		}
		// Short values can occur in messages by chance ("3 digits", "2030").
		if leak := leakedCardData(c, err, 5); leak != "" {
			t.Fatal(leak)
		}
	})
}

// FuzzTextProblem: text is accepted only when it is UTF-8 with no control,
// bidirectional-control or line-breaking character.
func FuzzTextProblem(f *testing.F) {
	for _, s := range []string{"Ada Lovelace", "山田太郎", "a\x00b", "abc\u202Etxt.exe", "\xc0\xae", "a\uFFFDb", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		why := tierup.TextProblem(s)
		bad := !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x2028 || r == 0x2029
		})
		if (why != "") != bad {
			t.Fatalf("TextProblem(%q) = %q, want a problem: %v", s, why, bad)
		}
	})
}

// FuzzQuote: for any upgrade between the catalog's plans, at any instant
// from 1970 to 2200, in any of the zones, from a subscription that started
// up to two periods before, worth up to four times its price, with any
// credit balance, PriceUpgrade does not panic, refuses only with a domain
// error, and its quote keeps the property tests' invariants.
func FuzzQuote(f *testing.F) {
	f.Add(uint8(1), uint8(5), uint8(0), uint8(0), uint64(1773479213), uint64(1e6), uint64(0), uint64(0))
	f.Add(uint8(2), uint8(7), uint8(1), uint8(1), uint64(1773479213), uint64(5e6), uint64(2500), uint64(2882))
	f.Add(uint8(3), uint8(8), uint8(2), uint8(4), uint64(1709164800), uint64(0), uint64(900), uint64(400000))
	f.Add(uint8(0), uint8(4), uint8(3), uint8(5), uint64(4102444800), uint64(1<<40), uint64(1), uint64(1<<63))
	cat := tierup.DefaultCatalog()
	plans := cat.Plans()
	policies := []tierup.Policy{tierup.PolicyCarryover, tierup.PolicyValue, tierup.PolicyCredit, "", "prorate"}
	f.Fuzz(func(t *testing.T, fromI, toI, policyI, zone uint8, unix, back, value, credit uint64) {
		from, to := plans[int(fromI)%len(plans)], plans[int(toI)%len(plans)]
		loc, err := time.LoadLocation(zones[int(zone)%len(zones)])
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(int64(unix%(230*366*86400)), 0).UTC()
		worth := tierup.Money{}
		if value > 0 { // else the list price
			worth = tierup.Money{Amount: int64(value % uint64(4*from.Price.Amount+1)), Currency: from.Price.Currency}
		}
		current := subscriptionOn(from, now, int64(back%uint64(maxBack(from)+1)), worth, loc)
		in := tierup.QuoteInput{Now: now, Location: loc, Current: current, From: &from, To: &to, Policy: policies[int(policyI)%len(policies)]}
		bare, err := cat.PriceUpgrade(in)
		if err != nil {
			if code := tierup.ErrorCode(err); code == tierup.CodeInternal || code == "" {
				t.Fatalf("PriceUpgrade: %v", err)
			}
			return
		}
		if err := quoteInvariants(cat, in, bare); err != nil {
			t.Fatal(err)
		}
		in.Credit = tierup.Money{Amount: int64(credit >> 1), Currency: to.Price.Currency} // a balance is never negative
		q, err := cat.PriceUpgrade(in)
		if err != nil {
			t.Fatalf("refused only with a credit of %d: %v", in.Credit.Amount, err)
		}
		if err := creditInvariants(in, bare, q); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseCatalog: ParseCatalog either refuses a document or returns a
// catalog whose every plan can be found by its ID, belongs to a ranked
// tier, has a known currency, a price and an interval within the bounds,
// and whose default plan is on sale; an upgrade between its plans is priced
// in a quote that keeps the property tests' invariants, or refused with a
// domain error or ErrOverflow, never a panic.
func FuzzParseCatalog(f *testing.F) {
	builtIn, err := os.ReadFile("catalog.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(builtIn)
	f.Add([]byte(`{"tiers":["a","b"],"plans":[{"id":"a","tier":"a","price":{"amount":0,"currency":"EUR"}},` +
		`{"id":"b","tier":"b","interval_months":12,"price":{"amount":12000,"currency":"EUR"}}]}`))
	f.Add([]byte(`{"tiers":["a"],"default_plan":"x","plans":[]}`))
	start := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	now := start.Add(10 * 24 * time.Hour)
	f.Fuzz(func(t *testing.T, doc []byte) {
		cat, err := tierup.ParseCatalog(bytes.NewReader(doc))
		if err != nil {
			if cat != nil || !strings.HasPrefix(err.Error(), "catalog: ") {
				t.Fatalf("refused with %v and a catalog", err)
			}
			return
		}
		def := cat.DefaultPlan()
		if def == nil || def.Retired {
			t.Fatalf("default plan %+v", def)
		}
		plans := cat.Plans()
		for _, p := range plans {
			got, err := cat.Plan(p.ID)
			_, known := p.Price.Currency.Exponent()
			switch {
			case err != nil || got.ID != p.ID:
				t.Fatalf("plan %q not found: %v", p.ID, err)
			case cat.TierRank(p.Tier) < 0:
				t.Fatalf("plan %q of the unranked tier %q", p.ID, p.Tier)
			case !known || p.Price.Amount < 0 || p.Price.Amount > tierup.MaxPrice || p.IntervalMonths < 0 ||
				p.IntervalMonths > tierup.MaxIntervalMonths || p.Free() && p.Price.Amount != 0:
				t.Fatalf("plan %q: %+v", p.ID, p)
			}
		}
		// Upgrades between (the first few) plans, from a subscription
		// ten days into its period.
		plans = plans[:min(len(plans), 6)]
		for _, from := range plans {
			for _, to := range plans {
				for _, policy := range []tierup.Policy{tierup.PolicyCarryover, tierup.PolicyValue, tierup.PolicyCredit} {
					in := tierup.QuoteInput{Now: now, Location: time.UTC, Current: subscriptionOn(from, start, 0, tierup.Money{}, time.UTC),
						From: &from, To: &to, Policy: policy}
					q, err := cat.PriceUpgrade(in)
					if err != nil {
						// Overflow is the engine's refusal of plans priced wildly apart.
						if code := tierup.ErrorCode(err); (code == tierup.CodeInternal || code == "") && !errors.Is(err, tierup.ErrOverflow) {
							t.Fatalf("%s → %s (%s): %v", from.ID, to.ID, policy, err)
						}
						continue
					}
					if err := quoteInvariants(cat, in, q); err != nil {
						t.Fatalf("%s → %s (%s): %v", from.ID, to.ID, policy, err)
					}
				}
			}
		}
	})
}

// stripSeparators is NormalizeCardNumber written another way.
func stripSeparators(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r != '-' && !unicode.IsSpace(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// luhnDigits reports whether s is a non-empty string of ASCII digits.
func luhnDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
