package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// TestAccountCredit runs consecutive upgrades under the credit policy
// through the API, on one account on Pro (12 months) since 1 Jan, on 1 Mar:
// the unused value beyond the first price is kept, the next quote applies
// it, a cancel gives it back, and the ledger shows each move.
func TestAccountCredit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn, func(o *stack.Options) { o.App.Policy = tierup.PolicyCredit })
		clock := h.Do("POST", "/v1/test-clocks", admin, map[string]any{"frozen_time": "2026-03-01T00:00:00Z"})
		h.Expect(clock, 201, "")
		acct, token := h.account(map[string]any{"email": "credit@example.com", "plan": "pro-12m", "current_period_start": "2026-01-01T00:00:00Z",
			"test_clock": clock.Str("id")})
		pm := h.card(token, "4242 4242 4242 4242")
		if me := h.Do("GET", "/v1/account", token, nil); me.Num("credit.balance.amount") != 0 || len(me.List("credit.entries")) != 0 ||
			me.Num("subscription.period_value.amount") != 29000 {
			t.Fatalf("a new account: %s", me.Raw)
		}
		steps := []struct {
			name     string
			plan     string
			shortage int    // provisioning failures, one per node: 3 attempts of Team's 3 nodes hand the upgrade to support, which cancels it
			due      int64  // the quote's amount due
			applied  int64  // its credit_applied
			kept     int64  // its account_credit
			status   string // how the upgrade ends
			balance  int64
			entries  string // the ledger, newest first
			plan2    string // the plan after
			value    int64  // its period_value
		}{
			// 306 of 365 days of 290.00 are worth 243.12: 99.00 is paid with
			// it, 144.12 is kept.
			{name: "credit kept", plan: "team-1m", kept: 14412, status: "completed",
				balance: 14412, entries: "granted 14412", plan2: "team-1m", value: 9900},
			// team-1m's whole month (99.00) and the 144.12 of credit off 990.00.
			{name: "credit applied, then the upgrade canceled", plan: "team-12m", shortage: 9, due: 74688, applied: 14412, status: "canceled",
				balance: 14412, entries: "returned 14412, applied -14412, granted 14412", plan2: "team-1m", value: 9900},
			{name: "credit applied again", plan: "team-12m", due: 74688, applied: 14412, status: "completed",
				balance: 0, entries: "applied -14412, returned 14412, applied -14412, granted 14412", plan2: "team-12m", value: 99000},
		}
		for _, s := range steps {
			if s.shortage > 0 {
				h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": s.shortage}), 201, "")
			}
			q := h.Do("POST", "/v1/quotes", token, map[string]any{"plan": s.plan})
			h.Expect(q, 201, "")
			if q.Num("amount_due.amount") != s.due || q.Num("credit_applied.amount") != s.applied || q.Num("account_credit.amount") != s.kept {
				t.Fatalf("%s: quote %s", s.name, q.Raw)
			}
			if s.applied > 0 && !hasLine(q, "Account credit applied", -s.applied) {
				t.Errorf("%s: no credit line in %s", s.name, q.Raw)
			}
			r := h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": q.Str("id"), "payment_method": pm, "accept_terms": "2026-11-01"})
			h.Expect(r, 202, "")
			id := r.Str("id")
			if s.status == "canceled" {
				h.waitStatus(token, id, "needs_support")
				h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
			}
			u := h.waitStatus(token, id, s.status)
			if u.Num("payment.amount.amount") != s.due {
				t.Errorf("%s: charged %d, quoted %d", s.name, u.Num("payment.amount.amount"), s.due)
			}
			me := h.Do("GET", "/v1/account", token, nil)
			if me.Num("credit.balance.amount") != s.balance || ledger(me) != s.entries || me.Str("subscription.plan") != s.plan2 ||
				me.Num("subscription.period_value.amount") != s.value {
				t.Errorf("%s: balance %d, ledger %q, plan %s worth %d; want %d, %q, %s, %d", s.name, me.Num("credit.balance.amount"), ledger(me),
					me.Str("subscription.plan"), me.Num("subscription.period_value.amount"), s.balance, s.entries, s.plan2, s.value)
			}
			for _, e := range me.List("credit.entries") {
				if apitest.Dig(e, "upgrade_id") == "" || apitest.Dig(e, "quote_id") == "" || apitest.Dig(e, "amount.currency") != "USD" {
					t.Errorf("%s: entry %v", s.name, e)
				}
			}
		}
		// The Plan page shows the balance and the ledger.
		c, _ := dashboard(t, h, acct)
		res, err := c.Get(h.BaseURL + "/plan")
		if err != nil {
			t.Fatal(err)
		}
		if page := body(t, res); !strings.Contains(page, `data-test="credit-balance"`) ||
			!strings.Contains(page, "$0.00") || strings.Count(page, "Applied to an upgrade") != 2 ||
			!strings.Contains(page, "Returned by a canceled upgrade") || !strings.Contains(page, "-$144.12") {
			t.Errorf("the Plan page lacks the credit: %s", page)
		}
		if c, _, rf := h.charges(); c != 2 || rf != 1 {
			t.Errorf("sandbox ledger: %d charges, %d refunds; want the two team-12m charges and one refund", c, rf)
		}
	})
}

func hasLine(q apitest.Response, desc string, amount int64) bool {
	for _, l := range q.List("lines") {
		if apitest.Dig(l, "description") == desc && apitest.Dig(l, "amount.amount") == float64(amount) {
			return true
		}
	}
	return false
}

// ledger renders the account's credit entries as "kind amount", newest first.
func ledger(me apitest.Response) string {
	var out []string
	for _, e := range me.List("credit.entries") {
		out = append(out, fmt.Sprintf("%v %v", apitest.Dig(e, "kind"), apitest.Dig(e, "amount.amount")))
	}
	return strings.Join(out, ", ")
}
