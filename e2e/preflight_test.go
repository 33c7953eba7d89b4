package e2e

import (
	"strings"
	"testing"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
)

// TestPreflight: the quote says whether the move can succeed; an upgrade
// whose move cannot is refused with each problem and nothing is charged;
// with the cluster down the upgrade is accepted and waits, paused, before
// charging.
func TestPreflight(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		_, token := hobby(h, "preflight@example.com")
		q := h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-1m"})
		h.Expect(q, 201, "")
		if q.Get("preflight.ok") != true || q.Get("preflight.checked") != true || len(q.List("preflight.problems")) != 0 {
			t.Errorf("preflight of a movable account: %s", q.Raw)
		}

		// A workload that cannot move (the sandbox's fault stands for a
		// hostPath volume).
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "migration_blocked", "seconds": 3600}), 201, "")
		q = h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-1m"})
		h.Expect(q, 201, "")
		if q.Get("preflight.ok") != false || first(q, "preflight.problems", "code") != "host_path" || first(q, "preflight.problems", "workload") != "Deployment/web" {
			t.Errorf("preflight with a blocked workload: %s", q.Raw)
		}
		r := h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": q.Str("id"), "payment_method": h.card(token, "4242424242424242"), "accept_terms": "2026-11-01"})
		h.Expect(r, 422, "migration_not_possible")
		if first(r, "problems", "code") != "host_path" || !strings.Contains(first(r, "problems", "message"), "PersistentVolumeClaim") ||
			!strings.Contains(r.Str("detail"), "nothing was charged") {
			t.Errorf("refusal: %s", r.Raw)
		}
		if g := h.Do("GET", "/v1/quotes/"+q.Str("id"), token, nil); g.Get("preflight.ok") != false {
			t.Errorf("GET of the quote does not check again: %s", g.Raw)
		}
		if c, _, _ := h.charges(); c != 0 {
			t.Fatalf("%d charges for a refused upgrade", c)
		}
		h.Expect(h.Do("DELETE", "/v1/sandbox/faults", admin, nil), 204, "")

		// The cluster does not answer: the quote says it was not checked,
		// the upgrade starts and pauses before charging.
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "cluster_unreachable", "seconds": 3600}), 201, "")
		q = h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-1m"})
		h.Expect(q, 201, "")
		if q.Get("preflight.checked") != false || q.Get("preflight.ok") != false {
			t.Errorf("preflight with the cluster down: %s", q.Raw)
		}
		r = h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": q.Str("id"), "payment_method": h.card(token, "4242424242424242"), "accept_terms": "2026-11-01"})
		h.Expect(r, 202, "")
		id := r.Str("id")
		u := h.waitStatus(token, id, "paused")
		if u.Str("current_step") != "payment" || u.Str("payment.status") != "pending" {
			t.Errorf("paused upgrade: %s", u.Raw)
		}
		if c, _, _ := h.charges(); c != 0 {
			t.Fatalf("charged while the cluster was down")
		}
		h.Expect(h.Do("DELETE", "/v1/sandbox/faults", admin, nil), 204, "")
		h.waitFor(token, id, "completed", func(r apitest.Response) bool { return r.Str("status") == "completed" })
		if c, _, _ := h.charges(); c != 1 {
			t.Errorf("%d charges after the cluster came back", c)
		}
	})
}

// first returns a field of the first element of the list at path.
func first(r apitest.Response, path, field string) string {
	l := r.List(path)
	if len(l) == 0 {
		return ""
	}
	s, _ := apitest.Dig(l[0], field).(string)
	return s
}
