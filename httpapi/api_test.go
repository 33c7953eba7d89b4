package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/httpapi"
	"github.com/tierup/tierup/internal/dbtest"
)

const adminToken = "tu_admin_test"

type env struct {
	t   *testing.T
	srv *httptest.Server
}

type envOptions struct {
	sandboxOff bool
	catalog    *tierup.Catalog
}

func newEnv(t *testing.T, dsn string, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	db := dbtest.OpenStore(t, dsn)
	cat := o.catalog
	if cat == nil {
		cat = tierup.DefaultCatalog()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(ctx, db, cat, tierup.SystemClock{}, log, app.Config{Sandbox: !o.sandboxOff, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(a, log).Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// str reads a string at a dotted path such as "subscription.plan".
func (r response) get(path string) any {
	var v any = r.body
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (r response) str(path string) string { s, _ := r.get(path).(string); return s }

func (r response) num(path string) int64 { f, _ := r.get(path).(float64); return int64(f) }

func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			e.t.Errorf("%s %s: %d with Content-Type %q, want application/problem+json", method, path, res.StatusCode, ct)
		}
		if r.str("code") == "" || r.str("detail") == "" || r.num("status") != int64(res.StatusCode) {
			e.t.Errorf("%s %s: problem lacks code, detail or status: %s", method, path, raw)
		}
	}
	return r
}

// expect checks status and, for errors, the problem code.
func (e *env) expect(r response, status int, code string) {
	e.t.Helper()
	if r.status != status || (code != "" && r.str("code") != code) {
		e.t.Fatalf("got %d %s, want %d %s: %s", r.status, r.str("code"), status, code, r.raw)
	}
}

func (e *env) clock(at string) string {
	r := e.do("POST", "/v1/test-clocks", adminToken, map[string]any{"frozen_time": at})
	e.expect(r, 201, "")
	return r.str("id")
}

// account opens an account and returns its ID and token.
func (e *env) account(body map[string]any) (string, string) {
	e.t.Helper()
	r := e.do("POST", "/v1/accounts", adminToken, body)
	e.expect(r, 201, "")
	return r.str("id"), r.str("token")
}

func TestAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{})

		t.Run("the foundation's curl session", func(t *testing.T) {
			clock := e.clock("2026-03-22T00:00:00Z")
			id, token := e.account(map[string]any{"email": "Dev@Example.com", "timezone": "UTC", "plan": "pro-1m",
				"current_period_start": "2026-03-01T00:00:00Z", "test_clock": clock})

			me := e.do("GET", "/v1/account", token, nil)
			e.expect(me, 200, "")
			if me.str("id") != id || me.str("email") != "dev@example.com" || me.str("subscription.plan") != "pro-1m" ||
				me.str("subscription.current_period_end") != "2026-04-01T00:00:00Z" || me.num("subscription.remaining_days") != 10 ||
				me.str("subscription.status") != "active" || me.str("now") != "2026-03-22T00:00:00Z" {
				t.Fatalf("account: %s", me.raw)
			}
			if me.get("limits.functions") != nil || me.num("limits.storage_gb") != 100 {
				t.Errorf("pro limits: %s", me.raw)
			}
			if _, ok := me.body["token"]; ok {
				t.Error("the token is shown again")
			}

			q := e.do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-3m"})
			e.expect(q, 201, "")
			if q.str("adjustment.kind") != "extension" || q.num("adjustment.seconds") != 864000 ||
				q.str("new_period.end") != "2026-07-02T00:00:00Z" || q.num("amount_due.amount") != 8100 ||
				q.str("amount_due.currency") != "USD" || q.num("remaining_days") != 10 || q.str("status") != "open" ||
				q.str("expires_at") != "2026-03-22T00:30:00Z" || len(q.str("signature")) != 64 ||
				!strings.HasPrefix(q.str("id"), "quo_") || q.str("account") != id {
				t.Fatalf("quote: %s", q.raw)
			}
			if !strings.Contains(q.str("explanation"), "10 days left on Pro (1 month) are added") {
				t.Errorf("explanation: %s", q.str("explanation"))
			}

			got := e.do("GET", "/v1/quotes/"+q.str("id"), token, nil)
			e.expect(got, 200, "")
			if got.str("signature") != q.str("signature") || got.str("status") != "open" {
				t.Errorf("read back: %s", got.raw)
			}
			e.expect(e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": "2026-03-22T00:30:00Z"}), 200, "")
			if got := e.do("GET", "/v1/quotes/"+q.str("id"), token, nil); got.str("status") != "expired" {
				t.Errorf("quote past expires_at: %s", got.raw)
			}

			admin := e.do("GET", "/v1/accounts/"+id, adminToken, nil)
			e.expect(admin, 200, "")
			if admin.num("subscription.remaining_days") != 9 {
				t.Errorf("after advancing 30 min, remaining_days = %d", admin.num("subscription.remaining_days"))
			}
		})

		t.Run("quote rejections", func(t *testing.T) {
			clock := e.clock("2026-03-01T00:00:00Z")
			_, pro12 := e.account(map[string]any{"email": "p12@example.com", "plan": "pro-12m", "current_period_start": "2026-01-01T00:00:00Z", "test_clock": clock})
			_, pro3 := e.account(map[string]any{"email": "p3@example.com", "plan": "pro-3m", "current_period_start": "2026-02-15T00:00:00Z", "test_clock": clock})
			tests := []struct {
				token, plan string
				status      int
				code        string
			}{
				{pro12, "team-1m", 422, "remaining_exceeds_new_period"},
				{pro3, "pro-1m", 422, "not_an_upgrade"},
				{pro3, "hobby", 422, "not_an_upgrade"},
				{pro3, "pro-3m", 422, "same_plan"},
				{pro3, "pro-2m", 422, "unknown_plan"},
				{pro3, "", 422, "validation_failed"},
			}
			for _, tt := range tests {
				r := e.do("POST", "/v1/quotes", tt.token, map[string]any{"plan": tt.plan})
				e.expect(r, tt.status, tt.code)
			}
			r := e.do("POST", "/v1/quotes", pro12, map[string]any{"plan": "team-1m"})
			if !strings.Contains(r.str("detail"), "1 Jan 2027") {
				t.Errorf("the refusal should say when the current period ends: %s", r.str("detail"))
			}
		})

		t.Run("authentication and authorisation", func(t *testing.T) {
			_, alice := e.account(map[string]any{"email": "alice@example.com"})
			bobID, bob := e.account(map[string]any{"email": "bob@example.com"})
			bobQuote := e.do("POST", "/v1/quotes", bob, map[string]any{"plan": "pro-1m"})
			e.expect(bobQuote, 201, "")

			tests := []struct {
				name, method, path, token string
				body                      any
				status                    int
				code                      string
			}{
				{"no token", "GET", "/v1/plans", "", nil, 401, "unauthenticated"},
				{"unknown token", "GET", "/v1/plans", "tu_acct_nope", nil, 401, "unauthenticated"},
				{"account on admin route", "POST", "/v1/accounts", alice, map[string]any{"email": "x@example.com"}, 403, "forbidden"},
				{"account reads another account", "GET", "/v1/accounts/" + bobID, alice, nil, 403, "forbidden"},
				{"admin on account route", "GET", "/v1/account", adminToken, nil, 403, "forbidden"},
				{"admin asks for a quote", "POST", "/v1/quotes", adminToken, map[string]any{"plan": "pro-1m"}, 403, "forbidden"},
				{"another account's quote", "GET", "/v1/quotes/" + bobQuote.str("id"), alice, nil, 404, "not_found"},
				{"a quote that does not exist", "GET", "/v1/quotes/quo_nope", alice, nil, 404, "not_found"},
				{"an account that does not exist", "GET", "/v1/accounts/acct_nope", adminToken, nil, 404, "not_found"},
				{"test clocks need the admin", "POST", "/v1/test-clocks", alice, map[string]any{"frozen_time": "2026-01-01T00:00:00Z"}, 403, "forbidden"},
				{"plans with any token", "GET", "/v1/plans", alice, nil, 200, ""},
				{"plans with the admin token", "GET", "/v1/plans", adminToken, nil, 200, ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := e.do(tt.method, tt.path, tt.token, tt.body)
					e.expect(r, tt.status, tt.code)
					if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				})
			}
			r := e.do("GET", "/v1/plans", alice, nil)
			data, _ := r.get("data").([]any)
			if len(data) != 9 {
				t.Errorf("%d plans", len(data))
			}
		})

		t.Run("account validation", func(t *testing.T) {
			clock := e.clock("2026-05-01T00:00:00Z")
			e.account(map[string]any{"email": "taken@example.com"})
			tests := []struct {
				name   string
				body   any
				status int
				code   string
				fields []string
			}{
				{"bad email and zone listed together", map[string]any{"email": "nope", "timezone": "Mars/Olympus"}, 422, "validation_failed", []string{"body.email", "body.timezone"}},
				{"missing email", map[string]any{"name": "x"}, 422, "validation_failed", []string{"body.email"}},
				{"unknown field", map[string]any{"email": "u@example.com", "role": "admin"}, 422, "validation_failed", []string{"body.role"}},
				{"wrong type", map[string]any{"email": 5}, 422, "validation_failed", []string{"body.email"}},
				{"unknown plan", map[string]any{"email": "u@example.com", "plan": "gold"}, 422, "unknown_plan", []string{"body.plan"}},
				{"period for a free plan", map[string]any{"email": "u@example.com", "plan": "hobby", "current_period_start": "2026-01-01T00:00:00Z"}, 422, "validation_failed", []string{"body.current_period_start"}},
				{"period in the future", map[string]any{"email": "u@example.com", "plan": "pro-1m", "current_period_start": "2026-06-01T00:00:00Z", "test_clock": clock}, 422, "validation_failed", []string{"body.current_period_start"}},
				{"unknown test clock", map[string]any{"email": "u@example.com", "test_clock": "clock_nope"}, 422, "validation_failed", []string{"body.test_clock"}},
				{"not a time", map[string]any{"email": "u@example.com", "plan": "pro-1m", "current_period_start": "yesterday"}, 422, "validation_failed", []string{"body.current_period_start"}},
				{"negative usage", map[string]any{"email": "u@example.com", "usage": map[string]any{"functions": -1, "cronjobs": 0, "storage_mb": 0}}, 422, "validation_failed", []string{"body.usage"}},
				{"email taken, case-insensitively", map[string]any{"email": "TAKEN@example.com"}, 409, "email_taken", nil},
				{"malformed JSON", `{"email": `, 400, "bad_request", nil},
				{"body too large", `{"email": "` + strings.Repeat("a", 70<<10) + `@example.com"}`, 413, "request_too_large", nil},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := e.do("POST", "/v1/accounts", adminToken, tt.body)
					e.expect(r, tt.status, tt.code)
					errs, _ := r.get("errors").([]any)
					var locs []string
					for _, x := range errs {
						m, _ := x.(map[string]any)
						loc, _ := m["location"].(string)
						msg, _ := m["message"].(string)
						// huma reports a missing property at its parent: "body", "… property email …".
						locs = append(locs, loc, strings.Replace(msg, "property ", "body.", 1))
						if _, echoed := m["value"]; echoed {
							t.Errorf("error detail echoes the value: %s", r.raw)
						}
					}
					for _, f := range tt.fields {
						if !strings.Contains(strings.Join(locs, " "), f) {
							t.Errorf("errors %v lack %s: %s", locs, f, r.raw)
						}
					}
				})
			}
			// Nothing was stored by the refused requests.
			r := e.do("POST", "/v1/accounts", adminToken, map[string]any{"email": "u@example.com"})
			e.expect(r, 201, "")
		})

		t.Run("test clocks", func(t *testing.T) {
			clock := e.clock("2026-05-01T12:00:00Z")
			e.expect(e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": "2026-05-01T11:00:00Z"}), 422, "clock_not_forward")
			e.expect(e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": "2026-05-01T12:00:00Z"}), 422, "clock_not_forward")
			e.expect(e.do("POST", "/v1/test-clocks/clock_nope/advance", adminToken, map[string]any{"frozen_time": "2027-01-01T00:00:00Z"}), 404, "not_found")
			e.expect(e.do("GET", "/v1/test-clocks/clock_nope", adminToken, nil), 404, "not_found")
			r := e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": "2026-06-01T12:00:00Z"})
			e.expect(r, 200, "")
			if got := e.do("GET", "/v1/test-clocks/"+clock, adminToken, nil); got.str("frozen_time") != "2026-06-01T12:00:00Z" {
				t.Errorf("clock: %s", got.raw)
			}
			// An ended period: the account is expired and starts afresh.
			_, token := e.account(map[string]any{"email": "late@example.com", "plan": "pro-1m", "current_period_start": "2026-04-01T00:00:00Z", "test_clock": clock})
			me := e.do("GET", "/v1/account", token, nil)
			if me.str("subscription.status") != "expired" || me.num("subscription.remaining_days") != 0 {
				t.Errorf("account: %s", me.raw)
			}
			q := e.do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-12m"})
			if q.str("adjustment.kind") != "none" || q.str("new_period.end") != "2027-06-01T12:00:00Z" {
				t.Errorf("quote: %s", q.raw)
			}
		})

		t.Run("service endpoints", func(t *testing.T) {
			r := e.do("GET", "/healthz", "", nil)
			e.expect(r, 200, "")
			spec := e.do("GET", "/openapi.json", "", nil)
			e.expect(spec, 200, "")
			if spec.str("openapi") != "3.1.0" {
				t.Errorf("openapi %q", spec.str("openapi"))
			}
			paths, _ := spec.get("paths").(map[string]any)
			for _, p := range []string{"/v1/plans", "/v1/accounts", "/v1/accounts/{id}", "/v1/account", "/v1/quotes", "/v1/quotes/{id}", "/v1/test-clocks", "/v1/test-clocks/{id}/advance"} {
				if paths[p] == nil {
					t.Errorf("openapi.json lacks %s", p)
				}
			}
			e.expect(e.do("GET", "/v1/nothing-here", adminToken, nil), 404, "not_found")
		})
	})
}

func TestProductionRefusesSandbox(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), envOptions{sandboxOff: true})
	e.expect(e.do("POST", "/v1/test-clocks", adminToken, map[string]any{"frozen_time": "2026-01-01T00:00:00Z"}), 404, "not_found")
	e.expect(e.do("POST", "/v1/test-clocks/clock_x/advance", adminToken, map[string]any{"frozen_time": "2026-01-01T00:00:00Z"}), 404, "not_found")
	e.expect(e.do("POST", "/v1/accounts", adminToken, map[string]any{"email": "a@example.com", "test_clock": "clock_x"}), 404, "sandbox_disabled")
}

func TestCatalogRules(t *testing.T) {
	cat, err := tierup.ParseCatalog(strings.NewReader(`{"tiers":["hobby","pro","team"],"plans":[
	  {"id":"hobby","tier":"hobby","name":"Hobby","interval_months":0,"price":{"amount":0,"currency":"USD"}},
	  {"id":"pro-1m","tier":"pro","name":"Pro","interval_months":1,"price":{"amount":2900,"currency":"USD"}},
	  {"id":"team-legacy","tier":"team","name":"Team (legacy)","interval_months":1,"retired":true,"price":{"amount":5000,"currency":"USD"}},
	  {"id":"team-eur","tier":"team","name":"Team EUR","interval_months":1,"price":{"amount":9000,"currency":"EUR"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dbtest.SQLite(t), envOptions{catalog: cat})
	_, token := e.account(map[string]any{"email": "p@example.com", "plan": "pro-1m", "current_period_start": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)})
	e.expect(e.do("POST", "/v1/quotes", token, map[string]any{"plan": "team-legacy"}), 422, "plan_unavailable")
	e.expect(e.do("POST", "/v1/quotes", token, map[string]any{"plan": "team-eur"}), 422, "currency_mismatch")
	e.expect(e.do("POST", "/v1/accounts", adminToken, map[string]any{"email": "l@example.com", "plan": "team-legacy"}), 422, "plan_unavailable")
}
