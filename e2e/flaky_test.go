package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// TestGatewayFlaky runs 200 upgrades while a fifth of the sandbox gateway's
// payment calls fail the worst ways: timing out, answering 500, or being
// carried out with the answer lost. The ledger proves the invariant: each
// upgrade ends completed with exactly one successful charge, or
// payment_failed or needs_support with none; nothing is refunded.
func TestGatewayFlaky(t *testing.T) {
	const n = 200
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn, func(o *stack.Options) { o.Queue.Workers, o.Sim.Capacity = 20, 2*n })
		var ups []startedUpgrade
		cards := make([]string, n)
		tokens := make([]string, n)
		for i := range n {
			_, tokens[i] = hobby(h, fmt.Sprintf("flaky%d@example.com", i))
			cards[i] = h.card(tokens[i], "4242 4242 4242 4242")
		}
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{
			"kind": "gateway_flaky", "rate": 0.2, "modes": []string{"timeout", "server_error", "lost_response"}}), 201, "")
		for i := range n {
			ups = append(ups, startedUpgrade{tokens[i], h.upgrade(tokens[i], "pro-1m", cards[i])})
		}

		outcome := h.endings(ups)

		captures := map[string]int{}
		refunds := 0
		for _, e := range sandboxLedger(h.Client) {
			switch {
			case e.kind == "refund":
				refunds++
			case e.succeeded():
				captures[e.upgrade]++
			}
		}
		count := map[string]int{}
		for _, u := range ups {
			st := outcome[u.id]
			count[st]++
			want := map[string]int{"completed": 1}[st] // 0 for every other end
			if captures[u.id] != want {
				audit := h.Do("GET", "/v1/upgrades/"+u.id+"/audit", u.token, nil)
				var lines []string
				for _, e := range audit.List("data") {
					lines = append(lines, fmt.Sprintf("%v: %v", apitest.Dig(e, "action"), apitest.Dig(e, "message")))
				}
				t.Errorf("upgrade %s ended %s with %d captures, want %d; audit:\n%s", u.id, st, captures[u.id], want, strings.Join(lines, "\n"))
			}
		}
		if refunds != 0 {
			t.Errorf("%d refunds, want none", refunds)
		}
		t.Logf("outcomes at a 20%% flaky gateway: %v", count)
	})
}

// startedUpgrade is an upgrade and the token of its account.
type startedUpgrade struct{ token, id string }

// endings waits until every upgrade has ended, one way or another, and
// returns how each did (its status). It reads the admin's listing, a page
// of 200 a request, rather than each upgrade: polling hundreds of upgrades
// one by one would load the server more than the run itself. The deadline
// bounds a hung run only.
func (h *harness) endings(ups []startedUpgrade) map[string]string {
	h.T.Helper()
	want := map[string]bool{}
	for _, u := range ups {
		want[u.id] = true
	}
	outcome := map[string]string{}
	for deadline := time.Now().Add(5 * time.Minute); len(outcome) < len(ups) && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for cursor := ""; ; {
			path := "/v1/upgrades?limit=200"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			page := h.Do("GET", path, admin, nil)
			h.Expect(page, 200, "")
			for _, u := range page.List("data") {
				id, _ := apitest.Dig(u, "id").(string)
				switch st, _ := apitest.Dig(u, "status").(string); st {
				case "completed", "payment_failed", "needs_support", "canceled":
					if want[id] {
						outcome[id] = st
					}
				}
			}
			if cursor = page.Str("next_cursor"); cursor == "" {
				break
			}
		}
	}
	if len(outcome) < len(ups) {
		for _, u := range ups {
			if _, ok := outcome[u.id]; !ok {
				r := h.Do("GET", "/v1/upgrades/"+u.id, admin, nil)
				ev := h.Do("GET", "/v1/upgrades/"+u.id+"/audit", admin, nil)
				h.T.Logf("upgrade %s did not end: %s\nits events: %s", u.id, r.Raw, ev.Raw)
			}
		}
		h.T.Fatalf("%d of %d upgrades ended", len(outcome), len(ups))
	}
	return outcome
}
