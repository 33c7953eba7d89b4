package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/httpapi"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/sqlstore"
	"github.com/tierup/tierup/stack"
)

const adminToken = "tu_admin_test"

type env struct {
	t   *testing.T
	srv *httptest.Server
	sim *sim.Cluster // with envOptions.upgrades
	// store is the server's, for what the API does not show (the gateway
	// customer a card is attached to, receipts' numbering).
	store *sqlstore.DB
	stack *stack.Stack
}

type envOptions struct {
	sandboxOff bool
	catalog    *tierup.Catalog
	// upgrades exposes the simulated cluster. The workflow engine is
	// wired but not started: upgrades can be created and read, but none
	// of their steps runs.
	upgrades bool
	// workflow starts the workflow engine (the job queue), as serve does.
	workflow bool
}

func newEnv(t *testing.T, dsn string, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := stack.Open(ctx, stack.Options{DB: dsn, Catalog: o.catalog, App: app.Config{Sandbox: !o.sandboxOff, AdminToken: adminToken}, SecretKey: dbtest.SecretKey, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.WithoutCancel(ctx)) })
	if _, err := st.App.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	if o.workflow {
		if err := st.StartWorkflow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, store: st.Store, stack: st}
	if o.upgrades {
		e.sim = st.Sim
	}
	e.srv = httptest.NewServer(httpapi.New(st.App, log).Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(method, path, token string, body any) apitest.Response {
	e.t.Helper()
	return apitest.Client{T: e.t, BaseURL: e.srv.URL}.Do(method, path, token, body)
}

func (e *env) expect(r apitest.Response, status int, code string) {
	e.t.Helper()
	apitest.Client{T: e.t, BaseURL: e.srv.URL}.Expect(r, status, code)
}

func (e *env) clock(at string) string {
	r := e.do("POST", "/v1/test-clocks", adminToken, map[string]any{"frozen_time": at})
	e.expect(r, 201, "")
	return r.Str("id")
}

// account opens an account and returns its ID and token.
func (e *env) account(body map[string]any) (string, string) {
	e.t.Helper()
	r := e.do("POST", "/v1/accounts", adminToken, body)
	e.expect(r, 201, "")
	return r.Str("id"), r.Str("token")
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
			if me.Str("id") != id || me.Str("email") != "dev@example.com" || me.Str("subscription.plan") != "pro-1m" ||
				me.Str("subscription.current_period_end") != "2026-04-01T00:00:00Z" || me.Num("subscription.remaining_days") != 10 ||
				me.Str("subscription.status") != "active" || me.Str("now") != "2026-03-22T00:00:00Z" {
				t.Fatalf("account: %s", me.Raw)
			}
			if me.Get("limits.functions") != nil || me.Num("limits.storage_gb") != 100 {
				t.Errorf("pro limits: %s", me.Raw)
			}
			if _, ok := me.Body["token"]; ok {
				t.Error("the token is shown again")
			}

			q := e.do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-3m"})
			e.expect(q, 201, "")
			if q.Str("adjustment.kind") != "extension" || q.Num("adjustment.seconds") != 864000 ||
				q.Str("new_period.end") != "2026-07-02T00:00:00Z" || q.Num("amount_due.amount") != 8100 ||
				q.Str("amount_due.currency") != "USD" || q.Num("remaining_days") != 10 || q.Str("status") != "open" ||
				q.Str("expires_at") != "2026-03-22T00:30:00Z" || len(q.Str("signature")) != 64 ||
				!strings.HasPrefix(q.Str("id"), "quo_") || q.Str("account") != id {
				t.Fatalf("quote: %s", q.Raw)
			}
			if !strings.Contains(q.Str("explanation"), "10 days left on Pro (1 month) are added") {
				t.Errorf("explanation: %s", q.Str("explanation"))
			}

			got := e.do("GET", "/v1/quotes/"+q.Str("id"), token, nil)
			e.expect(got, 200, "")
			if got.Str("signature") != q.Str("signature") || got.Str("status") != "open" {
				t.Errorf("read back: %s", got.Raw)
			}
			e.expect(e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": "2026-03-22T00:30:00Z"}), 200, "")
			if got := e.do("GET", "/v1/quotes/"+q.Str("id"), token, nil); got.Str("status") != "expired" {
				t.Errorf("quote past expires_at: %s", got.Raw)
			}

			admin := e.do("GET", "/v1/accounts/"+id, adminToken, nil)
			e.expect(admin, 200, "")
			if admin.Num("subscription.remaining_days") != 9 {
				t.Errorf("after advancing 30 min, remaining_days = %d", admin.Num("subscription.remaining_days"))
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
			if !strings.Contains(r.Str("detail"), "1 Jan 2027") {
				t.Errorf("the refusal should say when the current period ends: %s", r.Str("detail"))
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
				{"another account's quote", "GET", "/v1/quotes/" + bobQuote.Str("id"), alice, nil, 404, "not_found"},
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
					if tt.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				})
			}
			r := e.do("GET", "/v1/plans", alice, nil)
			data, _ := r.Get("data").([]any)
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
					errs, _ := r.Get("errors").([]any)
					var locs []string
					for _, x := range errs {
						m, _ := x.(map[string]any)
						loc, _ := m["location"].(string)
						msg, _ := m["message"].(string)
						// huma reports a missing property at its parent: "body", "… property email …".
						locs = append(locs, loc, strings.Replace(msg, "property ", "body.", 1))
						if _, echoed := m["value"]; echoed {
							t.Errorf("error detail echoes the value: %s", r.Raw)
						}
					}
					for _, f := range tt.fields {
						if !strings.Contains(strings.Join(locs, " "), f) {
							t.Errorf("errors %v lack %s: %s", locs, f, r.Raw)
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
			// Times whose answers JSON could not write (found by FuzzAPIBodies).
			for _, at := range []string{"0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z"} {
				e.expect(e.do("POST", "/v1/test-clocks", adminToken, map[string]any{"frozen_time": at}), 422, "validation_failed")
				e.expect(e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": at}), 422, "validation_failed")
				e.expect(e.do("POST", "/v1/accounts", adminToken, map[string]any{"email": "early@example.com", "plan": "pro-1m", "current_period_start": at}), 422, "validation_failed")
			}
			r := e.do("POST", "/v1/test-clocks/"+clock+"/advance", adminToken, map[string]any{"frozen_time": "2026-06-01T12:00:00Z"})
			e.expect(r, 200, "")
			if got := e.do("GET", "/v1/test-clocks/"+clock, adminToken, nil); got.Str("frozen_time") != "2026-06-01T12:00:00Z" {
				t.Errorf("clock: %s", got.Raw)
			}
			// An ended period: the account is expired and starts afresh.
			_, token := e.account(map[string]any{"email": "late@example.com", "plan": "pro-1m", "current_period_start": "2026-04-01T00:00:00Z", "test_clock": clock})
			me := e.do("GET", "/v1/account", token, nil)
			if me.Str("subscription.status") != "expired" || me.Num("subscription.remaining_days") != 0 {
				t.Errorf("account: %s", me.Raw)
			}
			q := e.do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-12m"})
			if q.Str("adjustment.kind") != "none" || q.Str("new_period.end") != "2027-06-01T12:00:00Z" {
				t.Errorf("quote: %s", q.Raw)
			}
		})

		t.Run("service endpoints", func(t *testing.T) {
			r := e.do("GET", "/healthz", "", nil)
			e.expect(r, 200, "")
			spec := e.do("GET", "/openapi.json", "", nil)
			e.expect(spec, 200, "")
			if spec.Str("openapi") != "3.1.0" {
				t.Errorf("openapi %q", spec.Str("openapi"))
			}
			paths, _ := spec.Get("paths").(map[string]any)
			for _, p := range []string{"/v1/plans", "/v1/accounts", "/v1/accounts/{id}", "/v1/account", "/v1/quotes", "/v1/quotes/{id}", "/v1/test-clocks", "/v1/test-clocks/{id}/advance",
				"/v1/receipts/{id}.pdf"} {
				if paths[p] == nil {
					t.Errorf("openapi.json lacks %s", p)
				}
			}
			pdf, _ := paths["/v1/receipts/{id}.pdf"].(map[string]any)
			get, _ := pdf["get"].(map[string]any)
			responses, _ := get["responses"].(map[string]any)
			ok, _ := responses["200"].(map[string]any)
			content, _ := ok["content"].(map[string]any)
			if content["application/pdf"] == nil {
				t.Errorf("openapi.json: GET /v1/receipts/{id}.pdf answers 200 with %v, want application/pdf", content)
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

func TestMigrationPlan(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{upgrades: true})
		ctx := context.Background()
		// Subtests check with their own t, so that a failure stops only them.
		api := func(t *testing.T) apitest.Client { return apitest.Client{T: t, BaseURL: e.srv.URL} }
		ownerID, owner := e.account(map[string]any{"email": "owner@example.com"})
		_, stranger := e.account(map[string]any{"email": "stranger@example.com"})
		quote := e.do("POST", "/v1/quotes", owner, map[string]any{"plan": "pro-1m"})
		e.expect(quote, 201, "")
		pm := e.do("POST", "/v1/payment-methods", owner, map[string]any{"card": map[string]any{
			"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"}})
		e.expect(pm, 201, "")
		up := e.do("POST", "/v1/upgrades", owner, map[string]any{"quote": quote.Str("id"), "payment_method": pm.Str("id"), "accept_terms": app.TermsVersion})
		e.expect(up, 202, "")
		id := up.Str("id")
		path := "/v1/upgrades/" + id + "/migration-plan"
		names := func(r apitest.Response) []string {
			var out []string
			for _, m := range r.List("moves") {
				name, _ := apitest.Dig(m, "workload.name").(string)
				out = append(out, name)
			}
			return out
		}

		t.Run("the owner sees the default workloads in migration order", func(t *testing.T) {
			r := api(t).Do("GET", path, owner, nil)
			api(t).Expect(r, 200, "")
			if r.Str("upgrade") != id || r.Str("account") != ownerID || r.Str("status") != "processing" ||
				r.Get("preflight.ok") != true || r.Get("preflight.checked") != true {
				t.Errorf("plan: %s", r.Raw)
			}
			want := []struct {
				kind, name string
				replicas   float64
			}{
				{"Deployment", "web", 2}, {"Deployment", "api", 2}, {"Deployment", "worker", 1},
				{"CronJob", "nightly-report", 1}, {"CronJob", "cleanup", 1}, {"Function", "thumbnailer", 1},
			}
			moves := r.List("moves")
			if len(moves) != len(want) {
				t.Fatalf("%d moves, want %d: %s", len(moves), len(want), r.Raw)
			}
			for i, w := range want {
				m := moves[i]
				if apitest.Dig(m, "workload.kind") != w.kind || apitest.Dig(m, "workload.name") != w.name ||
					apitest.Dig(m, "workload.replicas") != w.replicas || apitest.Dig(m, "workload.node") != "shared" {
					t.Errorf("move %d: %v, want %s %s", i+1, m, w.kind, w.name)
				}
				changes, _ := apitest.Dig(m, "changes").([]any)
				if len(changes) == 0 {
					t.Errorf("move %d (%s) lists no changes", i+1, w.name)
				}
				for _, c := range changes {
					if s, _ := c.(string); s == "" {
						t.Errorf("move %d (%s) has an empty change: %v", i+1, w.name, changes)
					}
				}
			}
			if admin := api(t).Do("GET", path, adminToken, nil); admin.Status != 200 || admin.Raw != r.Raw {
				t.Errorf("the admin's plan differs: %d %s", admin.Status, admin.Raw)
			}
		})

		t.Run("refusals match GET /v1/upgrades/{id}", func(t *testing.T) {
			asUpgrade := api(t).Do("GET", "/v1/upgrades/"+id, stranger, nil)
			r := api(t).Do("GET", path, stranger, nil)
			api(t).Expect(r, asUpgrade.Status, asUpgrade.Str("code"))
			if r.Status != 404 || strings.Contains(r.Raw, "web") {
				t.Errorf("another account: %d %s", r.Status, r.Raw)
			}
			api(t).Expect(api(t).Do("GET", "/v1/upgrades/upg_nope/migration-plan", owner, nil), 404, "not_found")
			api(t).Expect(api(t).Do("GET", "/v1/upgrades/upg_nope/migration-plan", adminToken, nil), 404, "not_found")
			api(t).Expect(api(t).Do("GET", path, "", nil), 401, "unauthenticated")
		})

		t.Run("a moved workload leaves the plan", func(t *testing.T) {
			node, err := e.sim.ProvisionNode(ctx, tierup.NodeRequest{Key: id + ":node", AccountID: ownerID})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.sim.MigrateWorkload(ctx, ownerID, tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 2, Node: "shared"}, []tierup.Node{*node}); err != nil {
				t.Fatal(err)
			}
			r := api(t).Do("GET", path, owner, nil)
			api(t).Expect(r, 200, "")
			if got := strings.Join(names(r), ","); got != "api,worker,nightly-report,cleanup,thumbnailer" {
				t.Errorf("plan after moving web: %s", got)
			}
		})

		t.Run("an unreachable cluster is a 503", func(t *testing.T) {
			api(t).Expect(api(t).Do("POST", "/v1/sandbox/faults", adminToken, map[string]any{"kind": "cluster_unreachable", "seconds": 60}), 201, "")
			api(t).Expect(api(t).Do("GET", path, owner, nil), 503, "cluster_unreachable")
			api(t).Expect(api(t).Do("DELETE", "/v1/sandbox/faults", adminToken, nil), 204, "")
			api(t).Expect(api(t).Do("GET", path, owner, nil), 200, "")
		})

		t.Run("listed in openapi.json", func(t *testing.T) {
			spec := api(t).Do("GET", "/openapi.json", "", nil)
			op, _ := apitest.Dig(spec.Body, "paths./v1/upgrades/{id}/migration-plan").(map[string]any)
			if op == nil || op["get"] == nil {
				t.Errorf("openapi.json lacks GET /v1/upgrades/{id}/migration-plan")
			}
		})
	})
}
