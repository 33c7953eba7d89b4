package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tierup/tierup/httpapi"
	"github.com/tierup/tierup/internal/fuzzenv"
)

// apiBody is a request of one of the API's operations that take a JSON
// body. In the fuzzer's bodies $QUOTE, $PM and $TERMS stand for the
// account's open quote, its card and the terms version, so that the
// committed corpus works with any run's IDs.
type apiBody struct {
	path    func(e *fuzzenv.Env, clock string) string
	account func(e *fuzzenv.Env) *fuzzenv.Account // nil: the admin
	seeds   []string                              // a valid body first
}

// The operations, by the fuzz input's route number: append only, the
// committed corpus names them by position.
var apiBodies = []apiBody{
	{ // 0 create-account
		func(*fuzzenv.Env, string) string { return "/v1/accounts" }, nil,
		[]string{`{"email":"new@example.com","name":"Ada","timezone":"Asia/Tokyo","plan":"pro-1m","current_period_start":"2026-03-01T00:00:00Z","usage":{"functions":3,"cronjobs":1,"storage_mb":500}}`,
			`{"email":"x@example.com","usage":{"functions":1e308}}`, `{"email":"x@example.com","current_period_start":"9999-12-31T23:59:59-23:59"}`,
			`{"email":"x@example.com","plan":"hobby","current_period_start":"2026-03-01T00:00:00Z"}`, `{"email":"a@b","timezone":"Mars/Olympus"}`}},
	{ // 1 create-quote
		func(*fuzzenv.Env, string) string { return "/v1/quotes" }, func(e *fuzzenv.Env) *fuzzenv.Account { return &e.Buyer },
		[]string{`{"plan":"team-12m"}`, `{"plan":3}`, `{"plan":"team-12m","plan":"pro-3m"}`, `{"PLAN":"team-12m","plan":"x"}`, `[]`, `null`}},
	{ // 2 create-test-clock
		func(*fuzzenv.Env, string) string { return "/v1/test-clocks" }, nil,
		[]string{`{"frozen_time":"2026-03-01T00:00:00Z"}`, `{"frozen_time":"2026-02-30T00:00:00Z"}`, `{"frozen_time":"0000-01-01T00:00:00+00:01"}`, `{}`}},
	{ // 3 advance-test-clock
		func(_ *fuzzenv.Env, clock string) string { return "/v1/test-clocks/" + clock + "/advance" }, nil,
		[]string{`{"frozen_time":"2026-04-01T00:00:00Z"}`, `{"frozen_time":"2026-01-01T00:00:00Z"}`, `{"frozen_time":"9999-12-31T23:59:59-23:59"}`, `{"frozen_time":1}`}},
	{ // 4 create-payment-method
		func(*fuzzenv.Env, string) string { return "/v1/payment-methods" }, func(e *fuzzenv.Env) *fuzzenv.Account { return &e.Buyer },
		[]string{`{"card":{"number":"4242 4242 4242 4242","exp_month":3,"exp_year":2030,"cvc":"123","name":"Ada Lovelace"}}`,
			`{"card":{"number":"4242424242424242","exp_month":1e308,"exp_year":2030,"cvc":"123"}}`,
			`{"card":{"number":"4000000000000002","exp_month":3,"exp_year":2030,"cvc":"123"},"card":{"number":"4242424242424242","exp_month":3,"exp_year":2030,"cvc":"123"}}`,
			`{"card":{"number":"4242424242424242","exp_month":"3","exp_year":2030,"cvc":"123","name":"a\u0000b"}}`,
			`{"card":null,"stripe_payment_method":"pm_x"}`, `{"card":{"number":"4242424242424242","extra":1}}`}},
	{ // 5 create-upgrade
		func(*fuzzenv.Env, string) string { return "/v1/upgrades" }, func(e *fuzzenv.Env) *fuzzenv.Account { return &e.Upgrader },
		[]string{`{"quote":"$QUOTE","payment_method":"$PM","accept_terms":"$TERMS"}`, `{"quote":"$QUOTE","payment_method":"$PM","accept_terms":"1999-01-01"}`,
			`{"quote":"$QUOTE","payment_method":["$PM"],"accept_terms":"$TERMS"}`, `{"quote":"$QUOTE"`}},
	{ // 6 retry-payment
		func(e *fuzzenv.Env, _ string) string { return "/v1/upgrades/" + e.Declined.Upgrade + "/payment" },
		func(e *fuzzenv.Env) *fuzzenv.Account { return &e.Declined },
		[]string{`{"payment_method":"$PM"}`, `{"payment_method":"pm_nope"}`, `{"payment_method":true}`, `{"payment_method":"$PM"} x`}},
	{ // 7 inject-fault (cleared after each)
		func(*fuzzenv.Env, string) string { return "/v1/sandbox/faults" }, nil,
		[]string{`{"kind":"resource_shortage","count":1}`, `{"kind":"gateway_unreachable","seconds":86401}`, `{"kind":"nope","count":-1}`, `{"count":9223372036854775808}`}},
}

// goWords are Go's names that encoding/json and huma put in their errors
// (cannot unmarshal number into Go struct field cardInput.card.exp_month
// of type int): the API's answers say what is wrong in its own words.
var goWords = regexp.MustCompile(`\bGo\b|\bstruct\b|\bof type\b|json: |\bunmarshal|\breflect\b|interface ?\{\}|map\[|\[\]\w|\b[a-z]+Input\b|\bupgradeBody\b|\bUsage\.`)

// FuzzAPIBodies sends any body to each operation of the API that takes
// one, with the token it needs, and checks the answer: never a 500; a 2xx
// only for a body that is JSON, answered with JSON; any other answer an
// RFC 9457 problem (application/problem+json) with its status, a code and a
// detail, and every listed field with a location and a message; and no
// Go type, struct or field name that the body did not itself contain.
//
// Seeds: each operation's valid body and near misses (below), and
// testdata/fuzz/FuzzAPIBodies.
func FuzzAPIBodies(f *testing.F) {
	e := fuzzenv.New(f)
	ctx := context.Background()
	clock, err := e.Stack.App.CreateTestClock(ctx, e.Now)
	if err != nil {
		f.Fatal(err)
	}
	h := httpapi.New(e.Stack.App, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	for i, op := range apiBodies {
		for _, s := range op.seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		i := int(route) % len(apiBodies)
		op := apiBodies[i]
		token, sent := fuzzenv.AdminToken, body
		if op.account != nil {
			a := op.account(e)
			token = a.Token
			sent = []byte(strings.NewReplacer("$QUOTE", a.Quote, "$PM", a.PaymentMethod, "$TERMS", e.Terms).Replace(string(body)))
		}
		if i == 6 {
			e.Decline(t)
		}
		r := httptest.NewRequest("POST", op.path(e, clock.ID), bytes.NewReader(sent))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if i == 7 {
			if err := e.Stack.App.ClearFaults(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := checkAnswer(sent, w); err != "" {
			t.Fatalf("POST %s %q: %d %s: %s", r.URL.Path, sent, w.Code, err, w.Body)
		}
	})
}

// checkAnswer says what is wrong with the answer w to a request body, or
// returns "".
func checkAnswer(body []byte, w *httptest.ResponseRecorder) string {
	ct := w.Header().Get("Content-Type")
	switch {
	case w.Code == http.StatusInternalServerError:
		return "an internal error"
	case w.Code >= 200 && w.Code < 300:
		if !json.Valid(body) {
			return "accepted a body that is not JSON"
		}
		if !strings.HasPrefix(ct, "application/json") || !json.Valid(w.Body.Bytes()) {
			return "a success that is not JSON: " + ct
		}
		return ""
	}
	if ct != "application/problem+json" {
		return "an error of type " + ct
	}
	var p struct {
		Status       int
		Code, Detail string
		Errors       []struct{ Location, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		return "a problem that does not decode: " + err.Error()
	}
	if p.Status != w.Code || p.Code == "" || p.Detail == "" {
		return "a problem without its status, a code or a detail"
	}
	for _, fe := range p.Errors {
		if fe.Location == "" || fe.Message == "" {
			return "a field error without a location or a message"
		}
	}
	for _, m := range goWords.FindAllString(w.Body.String(), -1) {
		if !bytes.Contains(body, []byte(m)) {
			return "Go's words in the answer: " + m
		}
	}
	return ""
}
