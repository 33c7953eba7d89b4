package kube_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
)

// teamRequests are the node requests of one Team upgrade, as the workflow
// makes them.
func teamRequests(t *testing.T, key, acct string) []tierup.NodeRequest {
	plan := catalogPlan(t, "team-1m")
	reqs := make([]tierup.NodeRequest, plan.NodeCount())
	for i := range reqs {
		reqs[i] = tierup.NodeRequest{Key: key, Index: i, AccountID: acct, Plan: plan}
	}
	return reqs
}

// provisionAll asks for every node at once, as the workflow does.
func provisionAll(c *kube.Cluster, reqs []tierup.NodeRequest) ([]tierup.Node, []error) {
	nodes, errs := make([]tierup.Node, len(reqs)), make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			n, err := c.ProvisionNode(context.Background(), req)
			if err == nil {
				nodes[i] = *n
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return nodes, errs
}

// podsByNode counts the live pods of a workload (by its app label) per
// node.
func podsByNode(t *testing.T, kc kubernetes.Interface, ns, app string) map[string]int {
	t.Helper()
	pods, err := kc.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName]++
		}
	}
	return out
}

// TestSeveralNodes provisions a Team upgrade's three kwok nodes at once,
// moves the acceptance workloads (and a Deployment of three) onto them and
// checks that each workload of two replicas or more is spread: never all
// on one node. One node is cordoned while the Deployment of three and the
// StatefulSet move (it then carries the node controller's NoSchedule taint,
// as a NotReady node does): the moves do not get stuck on it. A cancel
// releases all three.
func TestSeveralNodes(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	kubetest.EnsureSharedNodes(t, kc)
	acct := kubetest.AccountID()
	ns := kubetest.Namespace(t, kc, acct)
	three := int32(3)
	_, err := kc.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "wide", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wide"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "wide"}},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"tierup.dev/pool": "shared"},
					Containers: []corev1.Container{{Name: "wide", Image: "registry.example/wide:1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubetest.Workloads(t, kc, ns)
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), kube.Config{})

	reqs := teamRequests(t, "upg_team:"+acct+":node", acct)
	nodes, errs := provisionAll(c, reqs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = kc.CoreV1().Nodes().Delete(context.Background(), n.Name, metav1.DeleteOptions{})
		}
	})
	var names []string
	for i, n := range nodes {
		want := nodes[0].Name
		if i > 0 {
			want += "-" + string(rune('0'+i))
		}
		if n.Name != want || !n.Ready || !strings.HasPrefix(n.Name, "tierup-"+strings.ReplaceAll(acct, "_", "-")+"-") {
			t.Errorf("node %d = %+v, want the Ready node %s", i+1, n, want)
		}
		names = append(names, n.Name)
		// Ready comes before the node controller takes its not-ready taint
		// off: a node handed back in between was left out of the spread.
		got, err := kc.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, taint := range got.Spec.Taints {
			if taint.Key != "tierup.dev/dedicated" {
				t.Errorf("node %d came back with the taint %s:%s, which the account's pods do not tolerate", i+1, taint.Key, taint.Effect)
			}
		}
	}
	// Asked again (a retry, a resumed step): the same three.
	again, errs := provisionAll(c, reqs)
	for i := range again {
		if errs[i] != nil || again[i].Name != names[i] {
			t.Errorf("node %d asked again: %+v, %v", i+1, again[i], errs[i])
		}
	}
	countNodes(t, kc, acct, 3)

	plan, err := c.PlanMigration(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	moves := map[string]tierup.PlannedMove{}
	for _, m := range plan {
		moves[m.Workload.Name] = m
		if !slices.Equal(m.Nodes, names) {
			t.Errorf("%s planned onto %v, want %v", m.Workload.Name, m.Nodes, names)
		}
		spread := slices.ContainsFunc(m.Changes, func(c string) bool { return strings.HasPrefix(c, "topology spread over the account's dedicated nodes") })
		if spread != (m.Workload.Kind != "CronJob") {
			t.Errorf("%s %s: changes %q, spread announced: %v", m.Workload.Kind, m.Workload.Name, m.Changes, spread)
		}
	}

	// A node the pods do not tolerate (here cordoned: the node controller
	// taints it NoSchedule, as it does a NotReady one) is left out of the
	// spread, so a move does not wait for it: wide's three replicas go on
	// the two others (counted over three nodes, the third could go nowhere),
	// and so do the StatefulSet's pods.
	cordon := func(name string, on bool) {
		t.Helper()
		// The node's status moves under us (its heartbeat): read and
		// write again on a conflict.
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Unschedulable = on
			_, err = kc.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		kubetest.Eventually(t, time.Minute, "the node controller's unschedulable taint on "+name, func() (bool, error) {
			n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			return err == nil && slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
				return t.Key == corev1.TaintNodeUnschedulable
			}) == on, err
		})
	}
	cordon(names[2], true)
	for _, w := range []string{"wide", "db"} {
		report, err := c.MigrateWorkload(ctx, acct, moves[w].Workload, nodes)
		if err != nil {
			t.Fatalf("%s with a node cordoned: %v", w, err)
		}
		if on := podsByNode(t, kc, ns, w); len(on) != 2 || on[names[2]] != 0 {
			t.Errorf("%s runs on %v, want its pods on both of %v", w, on, names[:2])
		}
		if report.MinAvailable < moves[w].Workload.Replicas || !slices.Equal(report.Workload.Nodes, names[:2]) {
			t.Errorf("%s's report: %+v", w, report)
		}
	}
	cordon(names[2], false)

	for _, m := range plan {
		if m.Workload.Name == "db" || m.Workload.Name == "wide" {
			continue
		}
		report, err := c.MigrateWorkload(ctx, acct, m.Workload, nodes)
		if err != nil {
			t.Fatalf("migrate %s %s: %v", m.Workload.Kind, m.Workload.Name, err)
		}
		if report.MinAvailable < m.Workload.Replicas || report.Workload.Node != names[0] {
			t.Errorf("%s: report %+v", m.Workload.Name, report)
		}
	}
	for app, want := range map[string]int{"web": 2, "api": 2, "wide": 2, "db": 2, "worker": 1, "thumbnailer": 1} {
		on := podsByNode(t, kc, ns, app)
		for n := range on {
			if !slices.Contains(names, n) {
				t.Errorf("%s has a pod on %s, not a dedicated node of the account", app, n)
			}
		}
		if len(on) != want {
			t.Errorf("%s runs on %d nodes (%v), want %d: its replicas are not spread", app, len(on), on, want)
		}
	}
	d, err := kc.AppsV1().Deployments(ns).Get(ctx, "wide", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel := d.Spec.Template.Spec.NodeSelector
	if sel["tierup.dev/account"] != acct || sel["tierup.dev/pool"] != "dedicated" || sel[corev1.LabelHostname] != "" {
		t.Errorf("wide's node selector %v: it must select the account's nodes, none by name", sel)
	}
	if tsc := d.Spec.Template.Spec.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].TopologyKey != corev1.LabelHostname || tsc[0].MaxSkew != 1 ||
		tsc[0].WhenUnsatisfiable != corev1.DoNotSchedule || tsc[0].NodeTaintsPolicy == nil || *tsc[0].NodeTaintsPolicy != corev1.NodeInclusionPolicyHonor ||
		tsc[0].LabelSelector.MatchLabels["app"] != "wide" {
		t.Errorf("wide's topology spread: %+v", tsc)
	}
	ws, err := c.Workloads(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		spreadOver := min(w.Replicas, 3)
		if w.Name == "wide" || w.Name == "db" {
			spreadOver = 2 // moved while the third node was cordoned
		}
		if w.Node != names[0] || w.Kind != "CronJob" && len(w.Nodes) != spreadOver {
			t.Errorf("%s %s listed on %s, nodes %v", w.Kind, w.Name, w.Node, w.Nodes)
		}
	}

	// The cancel: the workloads go back, then every node is released.
	for _, w := range ws {
		if err := c.ReturnWorkload(ctx, acct, w); err != nil {
			t.Fatalf("return %s %s: %v", w.Kind, w.Name, err)
		}
	}
	for _, req := range reqs {
		if err := c.ReleaseNode(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	countNodes(t, kc, acct, 0)
}

// TestReleaseNodesNeverReady: the nodes of a Team upgrade that never became
// Ready (a shortage on every one) are all released by the cancel.
func TestReleaseNodesNeverReady(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	acct := kubetest.AccountID()
	c := newCluster(t, rc, kube.Config{ProvisionTimeout: time.Second,
		Kwok: kube.KwokConfig{Annotations: map[string]string{"kwok.x-k8s.io/node": "waiting-for-capacity"}}})
	reqs := teamRequests(t, "upg_short3:node", acct)
	_, errs := provisionAll(c, reqs)
	for i, err := range errs {
		if tierup.ErrorCode(err) != tierup.CodeResourceShortage {
			t.Errorf("node %d: %v, want resource_shortage", i+1, err)
		}
	}
	countNodes(t, kc, acct, 3)
	_, errs = provisionAll(c, reqs) // the retry makes no more
	for i, err := range errs {
		if tierup.ErrorCode(err) != tierup.CodeResourceShortage {
			t.Errorf("node %d again: %v, want resource_shortage", i+1, err)
		}
	}
	countNodes(t, kc, acct, 3)
	for _, req := range reqs {
		if err := c.ReleaseNode(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	countNodes(t, kc, acct, 0)
}

// TestKarpenterSeveralNodes: with Karpenter, each dedicated node of an
// upgrade is a NodePool of its own (one node each) with its own placeholder,
// their names and selectors told apart by the node's index; a release
// removes each.
func TestKarpenterSeveralNodes(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	dyn := kubetest.InstallCRDs(t, rc, kubetest.KarpenterCRDs(t))
	ctx := context.Background()
	acct := kubetest.AccountID()
	pools := dyn.Resource(schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"})
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"),
		kube.Config{Provisioner: "karpenter", ProvisionTimeout: time.Second})
	reqs := teamRequests(t, "upg_karp3:node", acct)
	provisionAll(c, reqs) // no Karpenter launches nodes here: shortages; what matters is what was made
	list, err := pools.List(ctx, metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct})
	if err != nil {
		t.Fatal(err)
	}
	var poolNames []string
	for _, p := range list.Items {
		poolNames = append(poolNames, p.GetName())
	}
	slices.Sort(poolNames)
	t.Cleanup(func() {
		for _, p := range poolNames {
			_ = pools.Delete(context.Background(), p, metav1.DeleteOptions{})
		}
	})
	if len(poolNames) != 3 || poolNames[1] != poolNames[0]+"-1" || poolNames[2] != poolNames[0]+"-2" {
		t.Fatalf("NodePools %v, want one per node, named from the upgrade and the index", poolNames)
	}
	ns := "tierup-" + strings.ReplaceAll(acct, "_", "-")
	t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	deps, err := kc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	selectors := map[string]string{}
	for _, d := range deps.Items {
		selectors[d.Spec.Template.Spec.NodeSelector["karpenter.sh/nodepool"]] = metav1.FormatLabelSelector(d.Spec.Selector)
	}
	if len(selectors) != 3 || len(deps.Items) != 3 {
		t.Fatalf("placeholders %v, want one per NodePool", selectors)
	}
	seen := map[string]bool{}
	for _, p := range poolNames {
		if selectors[p] == "" || seen[selectors[p]] {
			t.Errorf("placeholder of %s selects %q: not its own", p, selectors[p])
		}
		seen[selectors[p]] = true
	}
	for _, req := range reqs {
		if err := c.ReleaseNode(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range poolNames {
		if _, err := pools.Get(ctx, p, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("NodePool %s after release: %v", p, err)
		}
	}
}
