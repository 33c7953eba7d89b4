package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
)

// seedUpgrade stores an upgrade of the account straight in the store, with
// its quote: the listings read only what is stored, and hundreds of real
// upgrades would take the workflow's time.
func (e *env) seedUpgrade(account string, status tierup.UpgradeStatus, created time.Time) string {
	e.t.Helper()
	ctx := context.Background()
	q := &tierup.Quote{ID: tierup.NewID("quo"), AccountID: account, FromPlan: "hobby", ToPlan: "pro-1m", Policy: tierup.PolicyCarryover,
		Now: created, ExpiresAt: created.Add(30 * time.Minute), AmountDue: tierup.Money{Amount: 2900, Currency: "USD"}, Signature: "v1.test"}
	if err := e.store.CreateQuote(ctx, q); err != nil {
		e.t.Fatal(err)
	}
	u := &tierup.Upgrade{ID: tierup.NewID("upg"), AccountID: account, QuoteID: q.ID, FromPlan: "hobby", ToPlan: "pro-1m",
		Status: status, CreatedAt: created, UpdatedAt: created}
	if err := e.store.CreateUpgrade(ctx, u); err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

func ids(r apitest.Response) []string {
	var out []string
	for _, u := range r.List("data") {
		id, _ := apitest.Dig(u, "id").(string)
		out = append(out, id)
	}
	return out
}

// pages follows next_cursor from path to the end and returns every ID in
// order; between pages it calls between, if given, once.
func pages(t *testing.T, c apitest.Client, path, token string, between func()) []string {
	t.Helper()
	var all []string
	cursor := ""
	for n := 0; ; n++ {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		r := c.Do("GET", p, token, nil)
		c.Expect(r, 200, "")
		all = append(all, ids(r)...)
		cursor = r.Str("next_cursor")
		if cursor == "" {
			return all
		}
		if n == 0 && between != nil {
			between()
		}
		if n > 100 {
			t.Fatal("the listing does not end")
		}
	}
}

func TestAdminListsUpgrades(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{})
		api := func(t *testing.T) apitest.Client { return apitest.Client{T: t, BaseURL: e.srv.URL} }
		alice, aliceToken := e.account(map[string]any{"email": "alice@example.com"})
		bob, bobToken := e.account(map[string]any{"email": "bob@example.com"})

		// Seven upgrades a minute apart, alternating accounts, and three
		// created in the same instant, whose order the ID decides.
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var want []string // newest first
		statuses := []tierup.UpgradeStatus{tierup.UpgradeCompleted, tierup.UpgradeCanceled}
		owner := map[string]string{}
		status := map[string]tierup.UpgradeStatus{}
		created := map[string]time.Time{}
		for i := range 7 {
			acct := []string{alice, bob}[i%2]
			at := base.Add(time.Duration(i) * time.Minute)
			id := e.seedUpgrade(acct, statuses[i%2], at)
			owner[id], status[id], created[id] = acct, statuses[i%2], at
			want = append(want, id)
		}
		for range 3 {
			at := base.Add(10 * time.Minute)
			id := e.seedUpgrade(alice, tierup.UpgradeCompleted, at)
			owner[id], status[id], created[id] = alice, tierup.UpgradeCompleted, at
			want = append(want, id)
		}
		slices.SortFunc(want, func(a, b string) int {
			if c := created[b].Compare(created[a]); c != 0 {
				return c
			}
			return strings.Compare(b, a)
		})
		filter := func(keep func(id string) bool) []string {
			var out []string
			for _, id := range want {
				if keep(id) {
					out = append(out, id)
				}
			}
			return out
		}

		for _, tc := range []struct {
			name, query string
			want        []string
		}{
			{"everything", "", want},
			{"by status", "status=canceled", filter(func(id string) bool { return status[id] == tierup.UpgradeCanceled })},
			{"by account", "account=" + bob, filter(func(id string) bool { return owner[id] == bob })},
			{"by status and account", "status=completed&account=" + alice,
				filter(func(id string) bool { return owner[id] == alice && status[id] == tierup.UpgradeCompleted })},
			{"created after, exclusive", "created_after=2026-03-01T12:03:00Z",
				filter(func(id string) bool { return created[id].After(base.Add(3 * time.Minute)) })},
			{"created between", "created_after=2026-03-01T12:01:00Z&created_before=2026-03-01T12:05:00Z",
				filter(func(id string) bool {
					return created[id].After(base.Add(time.Minute)) && created[id].Before(base.Add(5*time.Minute))
				})},
			{"in another offset", "created_before=2026-03-01T21:02:00%2B09:00",
				filter(func(id string) bool { return created[id].Before(base.Add(2 * time.Minute)) })},
			{"an unknown account has none", "account=acct_nope", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, limit := range []int{1, 3, 50} {
					got := pages(t, api(t), fmt.Sprintf("/v1/upgrades?limit=%d&%s", limit, tc.query), adminToken, nil)
					if !slices.Equal(got, tc.want) {
						t.Errorf("limit %d:\n got %v\nwant %v", limit, got, tc.want)
					}
				}
			})
		}

		t.Run("pages neither skip nor repeat while upgrades arrive", func(t *testing.T) {
			var newer []string
			got := pages(t, api(t), "/v1/upgrades?limit=2&account="+bob, adminToken, func() {
				// Newer than every listed one: an offset would shift the
				// next page by two and repeat items; the cursor does not.
				for _, at := range []time.Time{base.Add(time.Hour), base.Add(2 * time.Hour)} {
					id := e.seedUpgrade(bob, tierup.UpgradeCompleted, at)
					newer, owner[id] = append(newer, id), bob
				}
			})
			wantBob := filter(func(id string) bool { return owner[id] == bob })
			if !slices.Equal(got, wantBob) {
				t.Errorf("got %v\nwant %v (new ones %v)", got, wantBob, newer)
			}
			all := pages(t, api(t), "/v1/upgrades?limit=2&account="+bob, adminToken, nil)
			if len(all) != len(wantBob)+2 || !slices.Equal(all[:2], []string{newer[1], newer[0]}) {
				t.Errorf("afterwards: %v", all)
			}
		})

		t.Run("a cursor continues only its own listing", func(t *testing.T) {
			first := api(t).Do("GET", "/v1/upgrades?limit=2&status=completed", adminToken, nil)
			api(t).Expect(first, 200, "")
			next := url.QueryEscape(first.Str("next_cursor"))
			for _, tc := range []struct {
				query string
				ok    bool
			}{
				{"limit=2&status=completed", true},
				{"limit=5&status=completed", true}, // the page size may change
				{"limit=2&status=canceled", false},
				{"limit=2", false},
				{"limit=2&status=completed&account=" + alice, false},
				{"limit=2&status=completed&created_after=2026-03-01T00:00:00Z", false},
			} {
				r := api(t).Do("GET", "/v1/upgrades?"+tc.query+"&cursor="+next, adminToken, nil)
				if tc.ok {
					api(t).Expect(r, 200, "")
					continue
				}
				api(t).Expect(r, 422, "validation_failed")
				if loc := apitest.Dig(r.List("errors")[0], "location"); loc != "query.cursor" || !strings.Contains(r.Raw, "other filters") {
					t.Errorf("%s: %s", tc.query, r.Raw)
				}
			}
		})

		t.Run("the default page is 50", func(t *testing.T) {
			r := api(t).Do("GET", "/v1/upgrades", adminToken, nil)
			api(t).Expect(r, 200, "")
			if len(r.List("data")) == 0 || len(r.List("data")) > 50 || r.Str("next_cursor") != "" {
				t.Errorf("default page: %d items, cursor %q", len(r.List("data")), r.Str("next_cursor"))
			}
		})

		t.Run("an account token lists only its own", func(t *testing.T) {
			got := pages(t, api(t), "/v1/upgrades?limit=2", aliceToken, nil)
			if want := filter(func(id string) bool { return owner[id] == alice }); !slices.Equal(got, want) {
				t.Errorf("alice: %v, want %v", got, want)
			}
			r := api(t).Do("GET", "/v1/upgrades?account="+alice, bobToken, nil)
			api(t).Expect(r, 200, "")
			if len(r.List("data")) != 0 {
				t.Errorf("bob sees alice's upgrades: %s", r.Raw)
			}
			for _, id := range pages(t, api(t), "/v1/upgrades?limit=3", bobToken, nil) {
				if owner[id] != bob {
					t.Errorf("bob sees %s", id)
				}
			}
		})

		t.Run("bad inputs", func(t *testing.T) {
			for _, tc := range []struct{ query, location string }{
				{"status=finished", "query.status"},
				{"limit=0", "query.limit"},
				{"limit=201", "query.limit"},
				{"limit=ten", "query.limit"},
				{"created_after=yesterday", "query.created_after"},
				{"created_before=2026-03-01", "query.created_before"},
				{"cursor=garbage!", "query.cursor"},
				{"cursor=" + "eyJ4IjoxfQ", "query.cursor"}, // valid base64 JSON, not a cursor
			} {
				r := api(t).Do("GET", "/v1/upgrades?"+tc.query, adminToken, nil)
				if r.Status != 422 || r.Str("code") != "validation_failed" {
					t.Errorf("%s: %d %s, want 422 validation_failed", tc.query, r.Status, r.Str("code"))
					continue
				}
				if loc := apitest.Dig(r.List("errors")[0], "location"); loc != tc.location {
					t.Errorf("%s: location %v, want %s: %s", tc.query, loc, tc.location, r.Raw)
				}
			}
			api(t).Expect(api(t).Do("GET", "/v1/upgrades", "", nil), 401, "unauthenticated")
		})
	})
}

func TestAdminListsSupportTickets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, envOptions{})
		api := func(t *testing.T) apitest.Client { return apitest.Client{T: t, BaseURL: e.srv.URL} }
		alice, aliceToken := e.account(map[string]any{"email": "alice@example.com"})
		bob, _ := e.account(map[string]any{"email": "bob@example.com"})
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		type ticket struct {
			id, account, upgrade string
			status               tierup.TicketStatus
		}
		var want []ticket // newest first
		for i := range 6 {
			acct := []string{alice, bob}[i%2]
			at := base.Add(time.Duration(i) * time.Minute)
			up := e.seedUpgrade(acct, tierup.UpgradeCanceled, at)
			st := []tierup.TicketStatus{tierup.TicketOpen, tierup.TicketOpen, tierup.TicketResolved}[i%3]
			tk := &tierup.SupportTicket{ID: tierup.NewID("tkt"), UpgradeID: up, AccountID: acct, Step: tierup.StepPayment, Error: "declined", Status: st, CreatedAt: at}
			if err := e.store.CreateSupportTicket(ctx, tk); err != nil {
				t.Fatal(err)
			}
			want = append([]ticket{{tk.ID, acct, up, st}}, want...)
		}
		filter := func(keep func(ticket) bool) []string {
			var out []string
			for _, tk := range want {
				if keep(tk) {
					out = append(out, tk.id)
				}
			}
			return out
		}
		for _, tc := range []struct {
			name, query string
			want        []string
		}{
			{"everything", "", filter(func(ticket) bool { return true })},
			{"open", "status=open", filter(func(tk ticket) bool { return tk.status == tierup.TicketOpen })},
			{"by account", "account=" + alice, filter(func(tk ticket) bool { return tk.account == alice })},
			{"by upgrade", "upgrade=" + want[2].upgrade, []string{want[2].id}},
			{"resolved of bob", "status=resolved&account=" + bob,
				filter(func(tk ticket) bool { return tk.status == tierup.TicketResolved && tk.account == bob })},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, limit := range []int{1, 4, 200} {
					got := pages(t, api(t), fmt.Sprintf("/v1/support-tickets?limit=%d&%s", limit, tc.query), adminToken, nil)
					if !slices.Equal(got, tc.want) {
						t.Errorf("limit %d:\n got %v\nwant %v", limit, got, tc.want)
					}
				}
			})
		}
		t.Run("refusals", func(t *testing.T) {
			for _, q := range []string{"status=closed", "cursor=nope", "limit=500"} {
				if r := api(t).Do("GET", "/v1/support-tickets?"+q, adminToken, nil); r.Status != 422 || r.Str("code") != "validation_failed" {
					t.Errorf("%s: %d %s, want 422 validation_failed", q, r.Status, r.Str("code"))
				}
			}
			api(t).Expect(api(t).Do("GET", "/v1/support-tickets", aliceToken, nil), 403, "forbidden")
		})
	})
}

func TestReadyz(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		t.Run("the queue not started", func(t *testing.T) {
			e := newEnv(t, dsn, envOptions{})
			r := e.do("GET", "/readyz", "", nil)
			e.expect(r, 503, "not_ready")
			if r.Str("checks.queue") == "ok" || r.Str("checks.database") != "ok" || r.Str("checks.migrations") != "ok" {
				t.Errorf("checks: %s", r.Raw)
			}
		})

		e := newEnv(t, dsn, envOptions{workflow: true})
		t.Run("ready", func(t *testing.T) {
			r := e.do("GET", "/readyz", "", nil)
			e.expect(r, 200, "")
			if r.Str("status") != "ok" || r.Str("checks.database") != "ok" || r.Str("checks.migrations") != "ok" || r.Str("checks.queue") != "ok" {
				t.Errorf("ready: %s", r.Raw)
			}
		})

		t.Run("migrations behind", func(t *testing.T) {
			// Forget the newest migration, as a database an older binary
			// migrated would be; then put it back.
			db := e.store.SQLDB()
			var latest int64
			if err := db.QueryRow(`SELECT MAX(version_id) FROM goose_db_version`).Scan(&latest); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`DELETE FROM goose_db_version WHERE version_id = ` + fmt.Sprint(latest)); err != nil {
				t.Fatal(err)
			}
			r := e.do("GET", "/readyz", "", nil)
			e.expect(r, 503, "not_ready")
			if r.Str("checks.migrations") == "ok" || r.Str("checks.queue") != "ok" || !strings.Contains(r.Str("detail"), "migrations") {
				t.Errorf("behind: %s", r.Raw)
			}
			if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (` + fmt.Sprint(latest) + `, TRUE)`); err != nil {
				t.Fatal(err)
			}
			e.expect(e.do("GET", "/readyz", "", nil), 200, "")
		})

		t.Run("draining", func(t *testing.T) {
			e.stack.Drain()
			r := e.do("GET", "/readyz", "", nil)
			e.expect(r, 503, "not_ready")
			if !strings.HasPrefix(r.Str("checks.queue"), "draining") || r.Str("checks.database") != "ok" {
				t.Errorf("draining: %s", r.Raw)
			}
			// Draining only fails readiness: requests are still served.
			e.expect(e.do("GET", "/healthz", "", nil), 200, "")
		})
	})
}
