package kube_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
)

var (
	nodePoolsGVR  = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	nodeClaimsGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}
)

// karpenterConfig is the karpenter provisioner on the test env's Karpenter
// (kwok cloud provider): its KWOKNodeClass and the kwok provider's 4-CPU
// on-demand amd64 Linux instance type.
func karpenterConfig(t *testing.T) kube.Config {
	return kube.Config{Provisioner: "karpenter", ProvisionTimeout: 2 * time.Minute, Karpenter: kube.KarpenterConfig{
		NodeClassRef: kubetest.KarpenterNodeClass(t),
		Requirements: []kube.Requirement{
			{Key: "karpenter.sh/capacity-type", Operator: "In", Values: []string{"on-demand"}},
			{Key: "node.kubernetes.io/instance-type", Operator: "In", Values: []string{"c-4x-amd64-linux"}},
		},
	}}
}

// accountPools lists the NodePools tierup made for the account.
func accountPools(t *testing.T, dyn dynamic.Interface, acct string) []unstructured.Unstructured {
	t.Helper()
	list, err := dyn.Resource(nodePoolsGVR).List(context.Background(), metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		name := p.GetName()
		t.Cleanup(func() { _ = dyn.Resource(nodePoolsGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	return list.Items
}

func poolClaims(t *testing.T, dyn dynamic.Interface, pool string) []unstructured.Unstructured {
	t.Helper()
	list, err := dyn.Resource(nodeClaimsGVR).List(context.Background(), metav1.ListOptions{LabelSelector: "karpenter.sh/nodepool=" + pool})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// TestKarpenterProvisioner runs the karpenter provisioner against Karpenter's
// own controller (sigs.k8s.io/karpenter's kwok cloud provider, started by
// scripts/k8s-testenv.sh up): the NodePool tierup makes gets a NodeClaim
// and a node that kwok runs; the account's workloads move onto it; the
// node is not released from under them; and once they are back on the
// shared pool, releasing deletes the NodePool and Karpenter removes its
// NodeClaim and node.
func TestKarpenterProvisioner(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	cfg := karpenterConfig(t)
	dyn := kubetest.InstallCRDs(t, rc, kubetest.KarpenterCRDs(t))
	ctx := context.Background()
	acct, ns := accountNamespace(t, kc)
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), cfg)
	req := tierup.NodeRequest{Key: "upg_karp:" + acct + ":node", AccountID: acct, Plan: proPlan(t)}

	node, err := c.ProvisionNode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	pools := accountPools(t, dyn, acct)
	if len(pools) != 1 {
		t.Fatalf("%d NodePools for the account, want 1", len(pools))
	}
	pool := pools[0]
	spec := pool.Object["spec"].(map[string]any)
	tpl := spec["template"].(map[string]any)
	if labels := tpl["metadata"].(map[string]any)["labels"].(map[string]any); labels["tierup.dev/pool"] != "dedicated" || labels["tierup.dev/account"] != acct {
		t.Errorf("template labels = %v", labels)
	}
	if spec["limits"].(map[string]any)["nodes"] != "1" {
		t.Errorf("limits = %v, want one node", spec["limits"])
	}
	if ref := tpl["spec"].(map[string]any)["nodeClassRef"].(map[string]any); fmt.Sprintf("%v/%v/%v", ref["group"], ref["kind"], ref["name"]) != cfg.Karpenter.NodeClassRef {
		t.Errorf("nodeClassRef = %v, want %s", ref, cfg.Karpenter.NodeClassRef)
	}
	claims := poolClaims(t, dyn, pool.GetName())
	if len(claims) != 1 {
		t.Fatalf("%d NodeClaims for the NodePool, want the one Karpenter launched", len(claims))
	}
	n, err := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(claims[0].Object, "status", "providerID"); got == "" || got != n.Spec.ProviderID {
		t.Errorf("NodeClaim's provider ID = %q, want the node's %q", got, n.Spec.ProviderID)
	}
	// Karpenter's node: the NodePool's labels, the chosen instance type, the
	// account's taint (and no more karpenter.sh/unregistered), run by kwok.
	if n.Labels["tierup.dev/account"] != acct || n.Labels["karpenter.sh/nodepool"] != pool.GetName() ||
		n.Labels[corev1.LabelInstanceTypeStable] != "c-4x-amd64-linux" || n.Annotations["kwok.x-k8s.io/node"] != "fake" || !kubetest.NodeReady(n) {
		t.Errorf("node %s: labels %v, annotations %v", n.Name, n.Labels, n.Annotations)
	}
	if !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == "tierup.dev/dedicated" && t.Value == acct }) ||
		slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == "karpenter.sh/unregistered" }) {
		t.Errorf("node taints = %v", n.Spec.Taints)
	}
	again, err := c.ProvisionNode(ctx, req)
	if err != nil || again.Name != node.Name {
		t.Fatalf("second ProvisionNode = %+v, %v; want the same node %s", again, err, node.Name)
	}
	if n := len(poolClaims(t, dyn, pool.GetName())); n != 1 {
		t.Errorf("%d NodeClaims after the second call, want still 1", n)
	}

	ws, err := c.Workloads(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		report, err := c.MigrateWorkload(ctx, acct, w, []tierup.Node{*node})
		if err != nil {
			t.Fatalf("migrate %s %s: %v", w.Kind, w.Name, err)
		}
		if report.Workload.Node != node.Name || report.MinAvailable < w.Replicas {
			t.Errorf("%s %s: moved to %s, %d available at the lowest", w.Kind, w.Name, report.Workload.Node, report.MinAvailable)
		}
	}
	pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != node.Name {
			t.Errorf("pod %s on %s, want Karpenter's node %s", p.Name, p.Spec.NodeName, node.Name)
		}
	}
	if err := c.ReleaseNode(ctx, req); err == nil || !strings.Contains(err.Error(), "still run on node") {
		t.Fatalf("ReleaseNode with workloads on the node = %v, want a refusal", err)
	}

	// Cancel: the workloads go back, then the NodePool goes and Karpenter
	// drains and deletes its node.
	for _, w := range ws {
		if err := c.ReturnWorkload(ctx, acct, w); err != nil {
			t.Fatalf("return %s %s: %v", w.Kind, w.Name, err)
		}
	}
	if err := c.ReleaseNode(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseNode(ctx, req); err != nil {
		t.Fatalf("second release: %v", err)
	}
	kubetest.Eventually(t, 2*time.Minute, "Karpenter to remove the NodePool, its NodeClaim and node", func() (bool, error) {
		_, perr := dyn.Resource(nodePoolsGVR).Get(ctx, pool.GetName(), metav1.GetOptions{})
		_, nerr := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(perr) && apierrors.IsNotFound(nerr) && len(poolClaims(t, dyn, pool.GetName())) == 0, nil
	})
}

// TestKarpenterZone: a zone the pre-flight found (a volume pinned there)
// becomes a requirement of the NodePool, and the real controller launches
// the node in that zone.
func TestKarpenterZone(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	cfg := karpenterConfig(t)
	dyn := kubetest.InstallCRDs(t, rc, kubetest.KarpenterCRDs(t))
	ctx := context.Background()
	acct, _ := accountNamespace(t, kc)
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), cfg)
	req := tierup.NodeRequest{Key: "upg_karpzone:" + acct + ":node", AccountID: acct, Plan: proPlan(t), Zone: "test-zone-c"}
	node, err := c.ProvisionNode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
	if err != nil || n.Labels[corev1.LabelTopologyZone] != "test-zone-c" {
		t.Errorf("node %s: zone %q, %v; want test-zone-c", node.Name, n.Labels[corev1.LabelTopologyZone], err)
	}
	pools := accountPools(t, dyn, acct)
	if len(pools) != 1 || !strings.Contains(fmt.Sprint(pools[0].Object["spec"]), "test-zone-c") {
		t.Errorf("NodePools %v lack the zone requirement", pools)
	}
	if err := c.ReleaseNode(ctx, req); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 2*time.Minute, "Karpenter to remove the zoned node", func() (bool, error) {
		_, nerr := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(nerr), nil
	})
}

// TestKarpenterShortage: what the real controller does when it cannot give
// the NodePool a node is a resource_shortage with Karpenter's own words,
// from its events, well before the provision timeout, or from the
// NodePool's status when it records no event.
func TestKarpenterShortage(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	dyn := kubetest.InstallCRDs(t, rc, kubetest.KarpenterCRDs(t))
	sa := kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml")
	for _, tc := range []struct {
		name string
		cfg  func(*kube.Config)
		want string // in Karpenter's message
	}{
		{"no instance type matches", func(c *kube.Config) {
			c.Karpenter.Requirements[1].Values = []string{"no-such-instance-type"}
		}, "filtered out all compatible available instance types"},
		{"limits reached", func(c *kube.Config) {
			c.Karpenter.Limits = map[string]string{"cpu": "2"} // below the only instance type's 4 CPUs
		}, "exceed limits"},
		// Karpenter ignores a NodePool whose node class is missing and says
		// so only in its status: the timeout's shortage gives the reason.
		{"node class missing", func(c *kube.Config) {
			c.Karpenter.NodeClassRef = "karpenter.kwok.sh/KWOKNodeClass/missing"
			c.ProvisionTimeout = 5 * time.Second
		}, "Karpenter does not use NodePool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			acct := kubetest.AccountID()
			cfg := karpenterConfig(t)
			cfg.ProvisionTimeout = 10 * time.Minute // the events answer first; this only stops a hung test
			tc.cfg(&cfg)
			c := newCluster(t, sa, cfg)
			req := tierup.NodeRequest{Key: "upg_karpshort:node", AccountID: acct, Plan: proPlan(t)}
			t.Cleanup(func() {
				_ = kc.CoreV1().Namespaces().Delete(context.Background(), "tierup-"+strings.ReplaceAll(acct, "_", "-"), metav1.DeleteOptions{})
			})
			_, err := c.ProvisionNode(ctx, req)
			if tierup.ErrorCode(err) != tierup.CodeResourceShortage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ProvisionNode = %v, want resource_shortage with Karpenter's %q", err, tc.want)
			}
			t.Log(err)
			pools := accountPools(t, dyn, acct)
			if len(pools) != 1 {
				t.Fatalf("%d NodePools, want 1", len(pools))
			}
			if claims := poolClaims(t, dyn, pools[0].GetName()); len(claims) != 0 {
				t.Errorf("%d NodeClaims, want none: Karpenter launched nothing", len(claims))
			}
			if n, _ := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct}); len(n.Items) != 0 {
				t.Errorf("%d nodes for the account, want none", len(n.Items))
			}
			if err := c.ReleaseNode(ctx, req); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKarpenterInsufficientCapacity plays the one part of Karpenter the
// kwok cloud provider cannot show: a cloud out of capacity. Karpenter then
// records an InsufficientCapacityError event on the NodeClaim and deletes
// it; the kwok provider never runs out. The NodePool names a node class
// the test env's Karpenter does not manage, so the real controller leaves
// it alone and the test writes the event as Karpenter would.
func TestKarpenterInsufficientCapacity(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	kubetest.InstallCRDs(t, rc, kubetest.KarpenterCRDs(t))
	ctx := context.Background()
	acct := kubetest.AccountID()
	cfg := kube.Config{Provisioner: "karpenter", ProvisionTimeout: time.Second, Karpenter: kube.KarpenterConfig{
		NodeClassRef: "karpenter.k8s.aws/EC2NodeClass/tierup"}}
	sa := kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml")
	req := tierup.NodeRequest{Key: "upg_karpice:node", AccountID: acct, Plan: proPlan(t)}
	t.Cleanup(func() {
		_ = kc.CoreV1().Namespaces().Delete(context.Background(), "tierup-"+strings.ReplaceAll(acct, "_", "-"), metav1.DeleteOptions{})
	})
	// Nothing launches a node: the timeout's shortage, which the workflow retries.
	_, err := newCluster(t, sa, cfg).ProvisionNode(ctx, req)
	if tierup.ErrorCode(err) != tierup.CodeResourceShortage || !strings.Contains(err.Error(), "no usable node") {
		t.Fatalf("ProvisionNode with nothing launching = %v, want the timeout's resource_shortage", err)
	}
	t.Log(err)
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	pools := accountPools(t, dyn, acct)
	if len(pools) != 1 {
		t.Fatalf("%d NodePools, want 1", len(pools))
	}
	claim := pools[0].GetName() + "-x7k2p"
	insufficientCapacity(t, kc, claim)

	cfg.ProvisionTimeout = 10 * time.Minute // the event answers first
	_, err = newCluster(t, sa, cfg).ProvisionNode(ctx, req)
	if tierup.ErrorCode(err) != tierup.CodeResourceShortage || !strings.Contains(err.Error(), "InsufficientInstanceCapacity") {
		t.Fatalf("ProvisionNode after the cloud refused = %v, want resource_shortage with the cloud's message", err)
	}
	if n := len(accountPools(t, dyn, acct)); n != 1 {
		t.Errorf("%d NodePools after the retry, want still 1", n)
	}
}

// insufficientCapacity records the event Karpenter's NodeClaim lifecycle
// controller publishes when the cloud refuses to launch claim.
func insufficientCapacity(t *testing.T, kc kubernetes.Interface, claim string) {
	t.Helper()
	now := metav1.Now()
	_, err := kc.CoreV1().Events(metav1.NamespaceDefault).Create(context.Background(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: claim + "."},
		InvolvedObject: corev1.ObjectReference{APIVersion: "karpenter.sh/v1", Kind: "NodeClaim", Name: claim},
		Type:           corev1.EventTypeWarning, Reason: "InsufficientCapacityError",
		Message:        "NodeClaim " + claim + " event: creating instance, insufficient capacity, InsufficientInstanceCapacity: no capacity in any zone",
		Source:         corev1.EventSource{Component: "karpenter"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
