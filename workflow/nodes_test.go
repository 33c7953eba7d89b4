package workflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tierup/tierup"
)

// createTeam starts an upgrade from Hobby to Team (1 month): 3 dedicated
// nodes.
func (r *rig) createTeam(t *testing.T) *tierup.Upgrade {
	t.Helper()
	return r.createFrom(t, func(q *tierup.Quote) { q.ToPlan, q.AmountDue = "team-1m", tierup.Money{Amount: 9900, Currency: "USD"} })
}

// provisions counts the provisioning calls by node key.
func (c *fakeCluster) provisions() map[string]int {
	out := map[string]int{}
	for _, call := range c.calls {
		if key, ok := strings.CutPrefix(call, "provision "); ok {
			out[key]++
		}
	}
	return out
}

func TestSeveralNodes(t *testing.T) {
	shortage := tierup.Errorf(tierup.CodeResourceShortage, "no capacity")
	tests := []struct {
		name string
		errs map[int][]error // by node index
		// want
		attempts   int
		provisions map[string]int
		retryMsg   string // in the retry's audit message
	}{
		{name: "all at once", attempts: 1,
			provisions: map[string]int{"upg_1:node": 1, "upg_1:node#1": 1, "upg_1:node#2": 1}},
		{name: "a shortage on one: the retry finds the others", errs: map[int][]error{1: {shortage}}, attempts: 2,
			provisions: map[string]int{"upg_1:node": 2, "upg_1:node#1": 2, "upg_1:node#2": 2}, retryMsg: "node 2 of 3: no capacity"},
		{name: "shortages on two", errs: map[int][]error{0: {shortage}, 2: {shortage, shortage}}, attempts: 3,
			provisions: map[string]int{"upg_1:node": 3, "upg_1:node#1": 3, "upg_1:node#2": 3}, retryMsg: "2 of 3 dedicated nodes are not ready; node 1 of 3: no capacity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.createTeam(t)
			r.cluster.provisionErrs = tt.errs
			r.drain(t, 50)
			u := r.upgrade(t)
			if u.Status != tierup.UpgradeCompleted {
				t.Fatalf("upgrade %s", u.Status)
			}
			if got := u.NodeNames(); !slices.Equal(got, []string{"node-1", "node-2", "node-3"}) {
				t.Errorf("nodes %v", got)
			}
			for _, n := range u.Nodes {
				if !n.Ready || n.AccountID != "acct_1" {
					t.Errorf("node %+v", n)
				}
			}
			if r.cluster.made != 3 {
				t.Errorf("%d nodes made, want 3: a retry made more", r.cluster.made)
			}
			if got := r.cluster.provisions(); !maps.Equal(got, tt.provisions) {
				t.Errorf("provisions %v, want %v", got, tt.provisions)
			}
			if a := u.Step(tierup.StepProvisionNode).Attempts; a != tt.attempts {
				t.Errorf("provision_node took %d attempts, want %d", a, tt.attempts)
			}
			if tt.retryMsg != "" && !slices.ContainsFunc(r.store.st.events, func(e *tierup.UpgradeEvent) bool {
				return e.Action == tierup.ActionStepRetryScheduled && strings.Contains(e.Message, tt.retryMsg)
			}) {
				t.Errorf("no retry says %q", tt.retryMsg)
			}
			web := u.Workloads[0]
			if web.Name != "web" || web.State != tierup.WorkloadMigrated || !slices.Equal(web.Nodes, []string{"node-1", "node-2"}) {
				t.Errorf("web %+v: not spread", web)
			}
			if !slices.Contains(r.cluster.calls, "migrate web to 3 nodes") {
				t.Errorf("the migration was not given every node: %v", r.cluster.calls)
			}
			mail := r.mailer.sent[len(r.mailer.sent)-1].Text
			if !strings.Contains(mail, "3 dedicated nodes") || !strings.Contains(mail, "node-1, node-2, node-3") {
				t.Errorf("the completion email does not name the nodes:\n%s", mail)
			}
			// The dashboard's copy says it in words, with no cluster names.
			note := r.store.st.notifications[len(r.store.st.notifications)-1].Body
			if !strings.Contains(note, "Your workloads now run on your 3 dedicated nodes, their replicas spread over them.") || strings.Contains(note, "node-1") {
				t.Errorf("the completion notification:\n%s", note)
			}
		})
	}
}

// TestCancelReleasesEveryNode: a shortage that outlasts the retries hands
// the upgrade to support with two nodes ready and one not; the cancel
// releases all three.
func TestCancelReleasesEveryNode(t *testing.T) {
	r := newRig(t)
	r.createTeam(t)
	shortage := tierup.Errorf(tierup.CodeResourceShortage, "no capacity")
	r.cluster.provisionErrs = map[int][]error{2: {shortage, shortage, shortage}}
	r.drain(t, 50)
	if u := r.upgrade(t); u.Status != tierup.UpgradeNeedsSupport || len(u.Nodes) != 0 || r.cluster.made != 3 {
		t.Fatalf("upgrade %s with nodes %v, %d made", u.Status, u.NodeNames(), r.cluster.made)
	}
	if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
		t.Fatal(err)
	}
	r.drain(t, 30)
	if u := r.upgrade(t); u.Status != tierup.UpgradeCanceled {
		t.Fatalf("upgrade %s", u.Status)
	}
	var released []string
	for _, c := range r.cluster.calls {
		if k, ok := strings.CutPrefix(c, "release "); ok {
			released = append(released, k)
		}
	}
	if want := []string{"upg_1:node", "upg_1:node#1", "upg_1:node#2"}; !slices.Equal(released, want) {
		t.Errorf("released %v, want %v", released, want)
	}
	if len(r.cluster.nodes) != 0 {
		t.Errorf("nodes left after the cancel: %v", r.cluster.nodes)
	}
}

func TestNodesError(t *testing.T) {
	shortage := tierup.Errorf(tierup.CodeResourceShortage, "no capacity")
	down := tierup.Errorf(tierup.CodeClusterUnreachable, "no API server")
	tests := []struct {
		errs []error
		kind failure
		code string
		msg  string
	}{
		{[]error{nil, nil}, 0, "", ""},
		{[]error{nil, shortage, nil}, failRetry, "resource_shortage", "node 2 of 3: no capacity"},
		{[]error{shortage}, failRetry, "resource_shortage", "no capacity"}, // one node: no "node 1 of 1"
		{[]error{shortage, down}, failUnreachable, "cluster_unreachable", "2 of 2 dedicated nodes are not ready; node 2 of 2: no API server"},
		{[]error{errors.New("boom"), shortage}, failRetry, "step_failed", "2 of 2 dedicated nodes are not ready; node 1 of 2: boom"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.errs), func(t *testing.T) {
			err := nodesError(tt.errs)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			kind, code, msg := classify(err)
			if kind != tt.kind || code != tt.code || msg != tt.msg {
				t.Errorf("classify = %v, %q, %q; want %v, %q, %q", kind, code, msg, tt.kind, tt.code, tt.msg)
			}
		})
	}
}
