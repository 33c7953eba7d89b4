package httpapi_test

import (
	"strings"
	"testing"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
)

// TestBodiesAsAnAttackerSendsThem sends what encoding/json would accept but
// read otherwise than the client meant, or what would leak Go's names: each
// is refused with a problem that says what is wrong in the API's words, and
// nothing is saved.
func TestBodiesAsAnAttackerSendsThem(t *testing.T) {
	const good = `{"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}`
	const declined = `{"number": "4000000000000002", "exp_month": 12, "exp_year": 2030, "cvc": "123"}`
	card := func(fields string) string {
		return `{"card": {"number": "4242424242424242", "exp_year": 2030, "cvc": "123", ` + fields + `}}`
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{})
		_, token := e.account(map[string]any{"email": "mallory@example.com"})
		for _, tc := range []struct {
			name, path, token, body string
			status                  int
			code, location, message string
		}{
			{"the same key twice: the last would win", "/v1/payment-methods", token,
				`{"card": ` + declined + `, "card": ` + good + `}`, 422, "validation_failed", "body.card", `"card" appears more than once`},
			{"the same key twice in another case", "/v1/payment-methods", token,
				card(`"exp_month": 12, "Exp_Month": 1`), 422, "validation_failed", "body.card.Exp_Month", "appears more than once"},
			{"a number too large for a whole-number field", "/v1/payment-methods", token,
				card(`"exp_month": 1e308`), 422, "validation_failed", "body.card.exp_month", "must be a whole number"},
			{"a number too large for a count", "/v1/accounts", adminToken,
				`{"email": "big@example.com", "usage": {"functions": 1e300, "cronjobs": 1, "storage_mb": 1}}`, 422, "validation_failed", "body.usage.functions", "must be a whole number"},
			{"bytes that are not UTF-8", "/v1/payment-methods", token,
				card("\"exp_month\": 12, \"name\": \"Mal\xffory\""), 400, "bad_request", "", "not valid UTF-8"},
			{"JSON cut short", "/v1/payment-methods", token, `{"card": {`, 400, "bad_request", "body", "not valid JSON"},
			{"NUL in the card holder's name", "/v1/payment-methods", token,
				card(`"exp_month": 12, "name": "Mal\u0000lory"`), 422, "invalid_card", "body.card.name", "control characters"},
			{"a right-to-left override in the card holder's name", "/v1/payment-methods", token,
				card(`"exp_month": 12, "name": "Mallory\u202Egpj.exe"`), 422, "invalid_card", "body.card.name", "text-direction"},
			{"an escape sequence in an account's name", "/v1/accounts", adminToken,
				`{"email": "esc@example.com", "name": "\u001b[31mred"}`, 422, "validation_failed", "body.name", "control characters"},
			{"a bidi isolate in an email address", "/v1/accounts", adminToken,
				`{"email": "a\u2066b@example.com"}`, 422, "validation_failed", "body.email", "text-direction"},
			{"a body over 64 KiB", "/v1/quotes", token,
				`{"plan": "pro-1m"` + strings.Repeat(" ", 70<<10) + `}`, 413, "request_too_large", "", "larger than 64 KiB"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", tc.path, tc.token, tc.body)
				e.expect(r, tc.status, tc.code)
				if !strings.Contains(r.Str("detail"), tc.message) {
					t.Errorf("detail %q does not say %q", r.Str("detail"), tc.message)
				}
				for _, leak := range []string{"Go ", "cardInput", "int64", "of type", "struct"} {
					if strings.Contains(r.Raw, leak) {
						t.Errorf("the problem shows Go's words (%q): %s", leak, r.Raw)
					}
				}
				if tc.location != "" {
					errs := r.List("errors")
					if len(errs) == 0 || apitest.Dig(errs[0], "location") != tc.location {
						t.Errorf("errors %v, want location %s", errs, tc.location)
					}
				}
			})
		}
		// Nothing of it was saved: no card, and only the one account.
		if r := e.do("GET", "/v1/payment-methods", token, nil); len(r.List("data")) != 0 {
			t.Errorf("cards saved from refused bodies: %s", r.Raw)
		}
		// An ordinary name of any script still passes.
		r := e.do("POST", "/v1/payment-methods", token, card(`"exp_month": 12, "name": "Zoë Ødegård 山田太郎"`))
		e.expect(r, 201, "")
	})
}
