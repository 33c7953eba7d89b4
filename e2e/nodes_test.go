package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
)

// nodeNames are the names of an upgrade's nodes in the API's view,
// checking each is ready and node is the first.
func nodeNames(t *testing.T, u apitest.Response) []string {
	t.Helper()
	var names []string
	for _, n := range u.List("nodes") {
		if apitest.Dig(n, "ready") != true || apitest.Dig(n, "pool") != "dedicated" {
			t.Errorf("node %v", n)
		}
		names = append(names, apitest.Dig(n, "name").(string))
	}
	if len(names) > 0 && u.Str("node.name") != names[0] {
		t.Errorf("node %q is not the first of nodes %v", u.Str("node.name"), names)
	}
	return names
}

// planDone checks a completed upgrade's migration plan: nothing left to
// move, and the upgrade's nodes.
func (h *harness) planDone(token, id string, names []string) {
	h.T.Helper()
	plan := h.Do("GET", "/v1/upgrades/"+id+"/migration-plan", token, nil)
	h.Expect(plan, 200, "")
	var got []string
	for _, n := range plan.List("nodes") {
		got = append(got, n.(string))
	}
	if plan.Num("dedicated_nodes") != int64(len(names)) || !slices.Equal(got, names) || len(plan.List("moves")) != 0 {
		h.T.Errorf("migration plan after completion: %s", plan.Raw)
	}
}

// TestTeamUpgrade: Team's three dedicated nodes, through the API on the
// simulated cluster. A shortage on one of them makes the step retry, and
// the retry finds the two others: three nodes, no more. The workloads are
// spread over them, and the email names them.
func TestTeamUpgrade(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 1}), 201, "")
		acct, token := hobby(h, "team@example.com")
		id := h.upgrade(token, "team-1m", h.card(token, "4242424242424242"))
		u := h.waitStatus(token, id, "completed")
		names := nodeNames(t, u)
		if len(names) != 3 || names[1] != names[0]+"-1" || names[2] != names[0]+"-2" {
			t.Fatalf("nodes %v, want three named from the upgrade and their index", names)
		}
		if s := step(u, "provision_node"); s["attempts"].(float64) != 2 {
			t.Errorf("provision step: %v, want a retry after the shortage", s)
		}
		if c := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil); len(c.List("nodes")) != 3 {
			t.Errorf("the cluster has %d nodes, want 3: %s", len(c.List("nodes")), c.Raw)
		}
		used := map[string]bool{}
		for _, w := range u.List("workloads") {
			var on []string
			for _, n := range apitest.Dig(w, "nodes").([]any) {
				on = append(on, n.(string))
				used[n.(string)] = true
			}
			replicas := int(apitest.Dig(w, "replicas").(float64))
			if apitest.Dig(w, "state") != "migrated" || !slices.Contains(names, apitest.Dig(w, "node").(string)) || len(on) != min(replicas, 3) {
				t.Errorf("workload %v: not spread over %v", w, names)
			}
			for _, n := range on {
				if !slices.Contains(names, n) {
					t.Errorf("%v runs on %s, not one of the upgrade's nodes", apitest.Dig(w, "name"), n)
				}
			}
		}
		if len(used) != 3 {
			t.Errorf("the workloads use %d of the 3 nodes", len(used))
		}
		h.planDone(token, id, names)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mails, err := h.smtp.WaitFor(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if body := mails[0].Body; !strings.Contains(body, "3 dedicated nodes") || !strings.Contains(body, strings.Join(names, ", ")) {
			t.Errorf("the email does not name the nodes:\n%s", body)
		}
	})
}

// TestTeamCancelReleasesEveryNode: shortages through every attempt leave
// two of Team's nodes made and one missing; the admin's cancel releases
// them all.
func TestTeamCancelReleasesEveryNode(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		h := start(t, dsn)
		// Three attempts of three nodes: all three short twice, then one.
		h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 7}), 201, "")
		acct, token := hobby(h, "team-cancel@example.com")
		id := h.upgrade(token, "team-1m", h.card(token, "4242424242424242"))
		u := h.waitStatus(token, id, "needs_support")
		if u.Get("nodes") != nil || u.Get("node") != nil {
			t.Errorf("nodes of an upgrade whose nodes are not all ready: %s", u.Raw)
		}
		if c := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil); len(c.List("nodes")) != 2 {
			t.Fatalf("the cluster has %d nodes, want the 2 that were not short: %s", len(c.List("nodes")), c.Raw)
		}
		h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
		h.waitStatus(token, id, "canceled")
		if c := h.Do("GET", "/v1/sandbox/cluster?account="+acct, admin, nil); len(c.List("nodes")) != 0 {
			t.Errorf("nodes after the cancel: %s", c.Raw)
		}
	})
}
