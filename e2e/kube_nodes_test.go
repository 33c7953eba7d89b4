package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/stack"
)

// podSpread maps each app of the namespace to the nodes its live pods run
// on, checking each is one of nodes.
func podSpread(t *testing.T, kc kubernetes.Interface, ns string, nodes []string) map[string]map[string]bool {
	t.Helper()
	pods, err := kc.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	on := map[string]map[string]bool{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if !slices.Contains(nodes, p.Spec.NodeName) {
			t.Errorf("pod %s runs on %s, not one of the dedicated nodes %v", p.Name, p.Spec.NodeName, nodes)
		}
		app := p.Labels["app"]
		if on[app] == nil {
			on[app] = map[string]bool{}
		}
		on[app][p.Spec.NodeName] = true
	}
	return on
}

// TestKubeTeamUpgrade: through the API, on the test control plane, an
// upgrade to Team gets three kwok nodes named from the upgrade and their
// index, and every workload of two replicas runs on two of them.
func TestKubeTeamUpgrade(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, kube.Config{}))
	acct, token, ns := kubeAccount(t, h, kc, "kube-team@example.com")
	id := h.upgrade(token, "team-1m", h.card(token, "4242424242424242"))
	u := h.waitStatus(token, id, "completed")
	names := nodeNames(t, u)
	if len(names) != 3 || names[1] != names[0]+"-1" || names[2] != names[0]+"-2" {
		t.Fatalf("nodes %v, want three named from the upgrade and their index", names)
	}
	if got := accountNodes(t, kc, acct); !slices.Equal(got, names) {
		t.Fatalf("account's nodes = %v, want %v", got, names)
	}
	for _, w := range u.List("workloads") {
		if apitest.Dig(w, "state") != "migrated" || apitest.Dig(w, "node") != names[0] {
			t.Errorf("workload %v", w)
		}
		if replicas := apitest.Dig(w, "replicas").(float64); replicas >= 2 {
			if on, _ := apitest.Dig(w, "nodes").([]any); len(on) < 2 {
				t.Errorf("%v reported on %v: not spread", apitest.Dig(w, "name"), on)
			}
		}
	}
	on := podSpread(t, kc, ns, names)
	for _, app := range []string{"api", "web", "db"} {
		if len(on[app]) != 2 {
			t.Errorf("%s's two replicas run on %v, want two nodes", app, on[app])
		}
	}
	used := map[string]bool{}
	for _, nodes := range on {
		for n := range nodes {
			used[n] = true
		}
	}
	if len(used) != 3 {
		t.Errorf("the workloads use %d of the 3 nodes", len(used))
	}
	h.planDone(token, id, names)
}

// TestKubeTeamCancelReleasesEveryNode: a Team upgrade's workloads spread
// over its three nodes, then the plan's backups cannot be set up and it
// goes to support. The admin's cancel returns every workload to the shared
// pool and releases all three nodes.
func TestKubeTeamCancelReleasesEveryNode(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, kube.Config{Backups: "velero",
		VeleroNamespace: "missing-" + strings.ToLower(strings.ReplaceAll(kubetest.AccountID(), "_", "-"))}),
		func(o *stack.Options) { o.Workflow.MaxAttempts = 2 })
	acct, token, ns := kubeAccount(t, h, kc, "kube-team-cancel@example.com")
	id := h.upgrade(token, "team-1m", h.card(token, "4242424242424242"))
	u := h.waitStatus(token, id, "needs_support")
	if u.Str("current_step") != "enable_features" {
		t.Fatalf("needs support at %s, want enable_features: %s", u.Str("current_step"), u.Raw)
	}
	names := nodeNames(t, u)
	if len(names) != 3 {
		t.Fatalf("nodes %v, want 3", names)
	}
	if on := podSpread(t, kc, ns, names); len(on["web"]) != 2 {
		t.Errorf("web runs on %v, want two nodes", on["web"])
	}
	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
	h.waitStatus(token, id, "canceled")
	podSpread(t, kc, ns, kubetest.SharedNodes)
	if nodes := accountNodes(t, kc, acct); len(nodes) != 0 {
		t.Errorf("dedicated nodes left after the cancel: %v", nodes)
	}
}
