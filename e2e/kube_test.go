package e2e

import (
	"context"
	"html"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/stack"
)

// onKube points the harness at the test control plane through kubeconfig.
func onKube(kubeconfig string, cfg kube.Config) func(*stack.Options) {
	if cfg.Backups == "" {
		cfg.Backups = "cronjob" // Velero's CRD may be installed by the kube package's tests
	}
	return func(o *stack.Options) {
		o.Cluster, o.Kubeconfig, o.Kube = "kube", kubeconfig, cfg
		o.Workflow.MaxAttempts = 6
	}
}

// kubeAccount opens a Hobby account whose namespace holds the acceptance
// workloads on the shared pool.
func kubeAccount(t *testing.T, h *harness, kc kubernetes.Interface, email string) (acct, token, ns string) {
	t.Helper()
	kubetest.EnsureSharedNodes(t, kc)
	acct, token = hobby(h, email)
	ns = kubetest.Namespace(t, kc, acct)
	kubetest.Workloads(t, kc, ns)
	return acct, token, ns
}

func accountNodes(t *testing.T, kc kubernetes.Interface, acct string) []string {
	t.Helper()
	nodes, err := kc.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
		name := n.Name
		t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	return names
}

// TestKubeUpgrade is the acceptance run: through the API, an account whose
// namespace holds three Deployments (one with its own PDB and a hostname
// anti-affinity), a Function, a StatefulSet and two CronJobs on shared kwok
// nodes upgrades to Pro on a real API server, scheduler and
// controller-manager. The dry-run plan fetched before the move matches
// what the move reports.
func TestKubeUpgrade(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) { kubeUpgrade(t, dsn, kube.Config{}) })
}

// TestKubeUpgradeKarpenter is the same acceptance run with the karpenter
// provisioner (--kube-provisioner karpenter) on Karpenter's own controller
// (kwok cloud provider): the dedicated node is the one Karpenter launched
// for the account's NodePool.
func TestKubeUpgradeKarpenter(t *testing.T) {
	node := kubeUpgrade(t, dbtest.SQLite(t), karpenterConfig(t))
	n, err := kubetest.Client(t).CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.Labels["karpenter.sh/nodepool"], "tierup-") || !strings.HasPrefix(n.Spec.ProviderID, "kwok://") {
		t.Errorf("dedicated node %s: labels %v, provider ID %q; want Karpenter's", node, n.Labels, n.Spec.ProviderID)
	}
}

// karpenterConfig points the karpenter provisioner at the test env's
// Karpenter and its 4-CPU on-demand kwok instance type.
func karpenterConfig(t *testing.T) kube.Config {
	return kube.Config{Provisioner: "karpenter", Karpenter: kube.KarpenterConfig{
		NodeClassRef: kubetest.KarpenterNodeClass(t),
		Requirements: []kube.Requirement{
			{Key: "karpenter.sh/capacity-type", Operator: "In", Values: []string{"on-demand"}},
			{Key: "node.kubernetes.io/instance-type", Operator: "In", Values: []string{"c-4x-amd64-linux"}},
		},
	}}
}

// accountNodePools deletes, when the test ends, the NodePools made for the
// account, and returns their names.
func accountNodePools(t *testing.T, acct string) []string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	list, err := dyn.Resource(gvr).List(context.Background(), metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		name := p.GetName()
		names = append(names, name)
		t.Cleanup(func() { _ = dyn.Resource(gvr).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	return names
}

// kubeUpgrade runs the acceptance upgrade with cfg and returns the
// dedicated node's name.
func kubeUpgrade(t *testing.T, dsn string, cfg kube.Config) string {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	h := start(t, dsn, onKube(kubeconfig, cfg), func(o *stack.Options) {
		o.SandboxLatency = 400 * time.Millisecond // time to read the plan before anything moves
	})
	acct, token, ns := kubeAccount(t, h, kc, "kube@example.com")
	if cfg.Provisioner == "karpenter" {
		t.Cleanup(func() { accountNodePools(t, acct) })
	}
	stopWatching := kubetest.WatchAvailability(t, kc, ns)
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))

	plan := h.Do("GET", "/v1/upgrades/"+id+"/migration-plan", token, nil)
	h.Expect(plan, 200, "")
	planned := map[string][]string{}
	var order []string
	for _, m := range plan.List("moves") {
		key := apitest.Dig(m, "workload.kind").(string) + "/" + apitest.Dig(m, "workload.name").(string)
		order = append(order, key)
		for _, c := range apitest.Dig(m, "changes").([]any) {
			planned[key] = append(planned[key], c.(string))
		}
	}
	want := []string{"Deployment/api", "Deployment/web", "Deployment/worker", "Function/thumbnailer", "StatefulSet/db", "CronJob/cleanup", "CronJob/nightly-report"}
	if !slices.Equal(order, want) {
		t.Fatalf("plan order %v, want %v (%s)", order, want, plan.Raw)
	}

	u := h.waitStatus(token, id, "completed")
	node := u.Str("node.name")
	// The API server's own record agrees with the report: no workload
	// ever had fewer available replicas than it wants.
	seen := stopWatching()
	for name, want := range map[string]int32{"api": 2, "web": 2, "worker": 1, "thumbnailer": 1, "db": 2} {
		if got, ok := seen[name]; !ok || got < want {
			t.Errorf("%s: %d available at the lowest (seen: %v), want at least %d", name, got, ok, want)
		}
	}
	if nodes := accountNodes(t, kc, acct); !slices.Equal(nodes, []string{node}) {
		t.Fatalf("account's nodes = %v, want only %s", nodes, node)
	}
	var moved []string
	for _, w := range u.List("workloads") {
		key := apitest.Dig(w, "kind").(string) + "/" + apitest.Dig(w, "name").(string)
		moved = append(moved, key)
		if apitest.Dig(w, "state") != "migrated" || apitest.Dig(w, "node") != node {
			t.Errorf("workload %v", w)
		}
		if minAvail, replicas := apitest.Dig(w, "min_available").(float64), apitest.Dig(w, "replicas").(float64); minAvail < replicas {
			t.Errorf("%s: %v available at the lowest, want at least %v", key, minAvail, replicas)
		}
		var notes []string
		for _, n := range apitest.Dig(w, "notes").([]any) {
			notes = append(notes, n.(string))
		}
		if !slices.Equal(notes, planned[key]) {
			t.Errorf("%s: moved with %q, the plan said %q", key, notes, planned[key])
		}
	}
	if !slices.Equal(moved, want) {
		t.Errorf("moved %v, want %v", moved, want)
	}

	ctx := context.Background()
	pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != node {
			t.Errorf("pod %s runs on %s, not the dedicated node", p.Name, p.Spec.NodeName)
		}
	}
	q, err := kc.CoreV1().ResourceQuotas(ns).Get(ctx, kube.QuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := q.Spec.Hard["ssd.storageclass.storage.k8s.io/requests.storage"]; s.String() != "100Gi" {
		t.Errorf("quota %v", q.Spec.Hard)
	}
	if _, err := kc.BatchV1().CronJobs(ns).Get(ctx, kube.BackupName, metav1.GetOptions{}); err != nil {
		t.Errorf("backup CronJob: %v", err)
	}
	n, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[kube.PlanLabel] != "pro-1m" || n.Labels[kube.AIOpsPrefix+"anomaly-detection"] != "enabled" {
		t.Errorf("namespace labels %v", n.Labels)
	}
	// Nothing is left to move.
	after := h.Do("GET", "/v1/upgrades/"+id+"/migration-plan", token, nil)
	h.Expect(after, 200, "")
	if len(after.List("moves")) != 0 {
		t.Errorf("plan after completion: %s", after.Raw)
	}
	return node
}

// TestKubeKarpenterShortage is the "no capacity" flow on Karpenter's own
// controller: the account's NodePool asks for an instance type the cloud
// does not have, Karpenter says so (NoCompatibleInstanceTypes) and launches
// nothing, provisioning reports resource_shortage, is retried automatically
// and then goes to support. Canceling refunds the charge and deletes the
// NodePool.
func TestKubeKarpenterShortage(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	cfg := karpenterConfig(t)
	cfg.Karpenter.Requirements[1].Values = []string{"no-such-instance-type"}
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, cfg), func(o *stack.Options) { o.Workflow.MaxAttempts = 3 })
	acct, token, _ := kubeAccount(t, h, kc, "kube-karpenter-short@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	u := h.waitStatus(token, id, "needs_support")
	s := step(u, "provision_node")
	if u.Str("current_step") != "provision_node" || apitest.Dig(s, "error.code") != "resource_shortage" ||
		!strings.Contains(apitest.Dig(s, "error.message").(string), "filtered out all compatible available instance types") {
		t.Fatalf("needs support: %s", u.Raw)
	}
	if acts := h.actions(token, id); count(acts, "step_retry_scheduled") != 2 {
		t.Errorf("audit: %v, want two automatic retries", acts)
	}
	if pools := accountNodePools(t, acct); len(pools) != 1 {
		t.Fatalf("NodePools during the shortage: %v, want one, however many attempts", pools)
	}
	if nodes := accountNodes(t, kc, acct); len(nodes) != 0 {
		t.Errorf("nodes: %v, want none", nodes)
	}
	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
	u = h.waitStatus(token, id, "canceled")
	if u.Str("payment.status") != "refunded" {
		t.Errorf("payment: %s", u.Raw)
	}
	if pools := accountNodePools(t, acct); len(pools) != 0 {
		t.Errorf("NodePools after cancel: %v, want none", pools)
	}
}

// TestKubeShortageThenSuccess: the dedicated node never becomes Ready (no
// kwok runs nodes of its kind yet), so provisioning reports
// resource_shortage and is retried; when capacity appears (the test starts
// a kwok for those nodes) the retry finds the same node and the upgrade
// completes on it, with no second node made.
func TestKubeShortageThenSuccess(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	value := "capacity-" + strings.ReplaceAll(strings.ToLower(kubetest.AccountID()), "_", "-")
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, kube.Config{ProvisionTimeout: 500 * time.Millisecond,
		Kwok: kube.KwokConfig{Annotations: map[string]string{"kwok.x-k8s.io/node": value}}}),
		func(o *stack.Options) { o.Workflow.MaxAttempts = 30 })
	acct, token, _ := kubeAccount(t, h, kc, "kube-short@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	u := h.waitRetrying(token, id, "provision_node")
	if s := step(u, "provision_node"); apitest.Dig(s, "error.code") != "resource_shortage" {
		t.Fatalf("provision step: %v", s)
	}
	kubetest.StartKwok(t, value)
	u = h.waitStatus(token, id, "completed")
	if nodes := accountNodes(t, kc, acct); !slices.Equal(nodes, []string{u.Str("node.name")}) {
		t.Errorf("account's nodes = %v, want only %s", nodes, u.Str("node.name"))
	}
	if acts := h.actions(token, id); count(acts, "step_retry_scheduled") < 1 {
		t.Errorf("audit: %v", acts)
	}
}

// TestKubeAPIServerLostMidMigration: tierup loses its API server while a
// workload rolls to the dedicated node (the test cuts tierup's only path to
// it, a loopback proxy, so the control plane the other tests share keeps
// running). The upgrade pauses with cluster_unreachable, resumes by itself
// when the API server is back, and completes with one node.
func TestKubeAPIServerLostMidMigration(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	proxy, _ := kubetest.NewProxy(t, rc)
	h := start(t, dbtest.SQLite(t), onKube(proxy.Kubeconfig(t), kube.Config{}))
	acct, token, ns := kubeAccount(t, h, kc, "kube-lost@example.com")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cut := make(chan struct{})
	go func() { // cut as soon as web's pod template has been changed: mid-rollout
		defer close(cut)
		for ctx.Err() == nil {
			d, err := kc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err == nil && d.Annotations["tierup.dev/original"] != "" {
				proxy.Cut()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	<-cut
	if ctx.Err() != nil {
		t.Fatal("web's move never started")
	}
	u := h.waitStatus(token, id, "paused")
	if u.Str("current_step") != "migrate_workloads" || !strings.Contains(u.Str("paused_reason"), "cannot be reached") {
		t.Errorf("paused: %s", u.Raw)
	}
	proxy.Restore(t)
	u = h.waitStatus(token, id, "completed")
	acts := h.actions(token, id)
	if count(acts, "paused") != 1 || count(acts, "resumed") != 1 {
		t.Errorf("audit: %v", acts)
	}
	if nodes := accountNodes(t, kc, acct); !slices.Equal(nodes, []string{u.Str("node.name")}) {
		t.Errorf("account's nodes = %v, want only %s", nodes, u.Str("node.name"))
	}
	for _, w := range u.List("workloads") {
		if apitest.Dig(w, "state") != "migrated" || apitest.Dig(w, "min_available").(float64) < apitest.Dig(w, "replicas").(float64) {
			t.Errorf("workload %v", w)
		}
	}
}

// TestKubeCancelPutsEverythingBack: the dedicated node is too small (three
// pods): api moves, web cannot and is rolled back each time, and the
// upgrade goes to support. The admin cancels: every workload is back on
// the shared pool as it was, tierup's PodDisruptionBudgets are gone, the
// node is released, the charge refunded.
func TestKubeCancelPutsEverythingBack(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, kube.Config{RolloutTimeout: 2 * time.Second,
		Kwok: kube.KwokConfig{Capacity: map[string]string{"cpu": "4", "memory": "16Gi", "pods": "3"}}}),
		func(o *stack.Options) { o.Workflow.MaxAttempts = 2 })
	acct, token, ns := kubeAccount(t, h, kc, "kube-cancel@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	u := h.waitStatus(token, id, "needs_support")
	if u.Str("current_step") != "migrate_workloads" || apitest.Dig(step(u, "migrate_workloads"), "error.code") != "migration_failed" {
		t.Fatalf("needs support: %s", u.Raw)
	}
	states := map[string]string{}
	for _, w := range u.List("workloads") {
		states[apitest.Dig(w, "name").(string)] = apitest.Dig(w, "state").(string)
	}
	if states["api"] != "migrated" || states["web"] != "rolled_back" {
		t.Fatalf("workload states %v, want api migrated and web rolled back", states)
	}
	node := u.Str("node.name")

	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
	u = h.waitStatus(token, id, "canceled")
	if u.Str("payment.status") != "refunded" {
		t.Errorf("payment: %s", u.Raw)
	}
	// One part per job: the refund, then api (the one workload that moved),
	// each committed as it is done.
	if acts := h.actions(admin, id); count(acts, "cancel_progress") != 3 || count(acts, "canceled") != 1 {
		t.Errorf("audit: %v", acts)
	}
	ctx := context.Background()
	for _, name := range []string{"api", "web"} {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Spec.Template.Spec.NodeSelector["tierup.dev/pool"] != "shared" || len(d.Spec.Template.Spec.Tolerations) != 0 ||
			d.Annotations["tierup.dev/original"] != "" || d.Status.AvailableReplicas != 2 {
			t.Errorf("%s after cancel: selector %v, tolerations %v, annotations %v, %d available", name,
				d.Spec.Template.Spec.NodeSelector, d.Spec.Template.Spec.Tolerations, d.Annotations, d.Status.AvailableReplicas)
		}
	}
	api, _ := kc.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if a := api.Spec.Template.Spec.Affinity; a == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("api's own anti-affinity was not put back: %+v", a)
	}
	pdbs, err := kc.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pdbs.Items) != 1 || pdbs.Items[0].Name != "api-pdb" {
		t.Errorf("%d PodDisruptionBudgets after cancel, want only api's own", len(pdbs.Items))
	}
	if nodes := accountNodes(t, kc, acct); len(nodes) != 0 {
		t.Errorf("nodes after cancel: %v (was %s)", nodes, node)
	}
}

// TestKubeCancelRevertsFeatures: the move succeeds but the plan's backups
// cannot be set up (Velero's namespace does not exist), so the upgrade goes
// to support with the new plan's labels and quota already in place. The
// admin cancels: the namespace gets the previous plan's labels and quota
// back, every workload returns, and the node is released.
func TestKubeCancelRevertsFeatures(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, kube.Config{Backups: "velero", VeleroNamespace: "missing-" + strings.ToLower(strings.ReplaceAll(kubetest.AccountID(), "_", "-"))}),
		func(o *stack.Options) { o.Workflow.MaxAttempts = 2 })
	acct, token, ns := kubeAccount(t, h, kc, "kube-features@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	u := h.waitStatus(token, id, "needs_support")
	if u.Str("current_step") != "enable_features" {
		t.Fatalf("needs support at %s, want enable_features: %s", u.Str("current_step"), u.Raw)
	}
	ctx := context.Background()
	n, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || n.Labels[kube.PlanLabel] != "pro-1m" {
		t.Fatalf("namespace before cancel: %v (%v)", n.Labels, err)
	}

	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
	h.waitStatus(token, id, "canceled")
	n, err = kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[kube.PlanLabel] != "hobby" || n.Labels[kube.AIOpsPrefix+"anomaly-detection"] != "" || n.Labels[kube.AIOpsPrefix+"monitoring"] != "enabled" {
		t.Errorf("namespace labels after cancel: %v", n.Labels)
	}
	q, err := kc.CoreV1().ResourceQuotas(ns).Get(ctx, kube.QuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	storage, cron := q.Spec.Hard["standard.storageclass.storage.k8s.io/requests.storage"], q.Spec.Hard["count/cronjobs.batch"]
	if storage.String() != "10Gi" || cron.String() != "10" || len(q.Spec.Hard) != 2 {
		t.Errorf("quota after cancel: %v, want Hobby's", q.Spec.Hard)
	}
	pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && !slices.Contains(kubetest.SharedNodes, p.Spec.NodeName) {
			t.Errorf("pod %s on %s after cancel, want the shared pool", p.Name, p.Spec.NodeName)
		}
	}
	if nodes := accountNodes(t, kc, acct); len(nodes) != 0 {
		t.Errorf("nodes after cancel: %v", nodes)
	}
}

// TestKubeOneReplicaStatefulSet: a StatefulSet of one replica with volumes
// cannot move without a brief interruption, and tierup says so before the
// user pays — on the dashboard's review page and in the upgrade's
// migration plan — and why. The move then shows exactly that one interval
// at 0 available, seen from outside, and completes on the dedicated node.
func TestKubeOneReplicaStatefulSet(t *testing.T) {
	kubeconfig := kubetest.Kubeconfig(t)
	kc := kubetest.Client(t)
	h := start(t, dbtest.SQLite(t), onKube(kubeconfig, kube.Config{}), func(o *stack.Options) {
		o.SandboxLatency = 400 * time.Millisecond // time to read the plan before anything moves
	})
	kubetest.EnsureSharedNodes(t, kc)
	acct, token := hobby(h, "kube-one@example.com")
	ns := kubetest.Namespace(t, kc, acct)
	kubetest.OneReplicaStatefulSet(t, kc, ns, "db", true)
	want := "StatefulSet db has 1 replica: it is unavailable for about the time its pod takes to restart on the dedicated node"

	c, _ := dashboard(t, h, acct)
	res, err := c.Get(h.BaseURL + "/plan")
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"pro-1m"}, "_csrf": {csrfOf(body(t, res))}})
	if err != nil {
		t.Fatal(err)
	}
	if review := body(t, res); !strings.Contains(review, `data-test="interruptions"`) || !strings.Contains(review, html.EscapeString(want)) {
		t.Errorf("the review page does not warn of db's interruption:\n%s", review)
	}

	stop := kubetest.WatchOutages(t, kc, ns)
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	plan := h.Do("GET", "/v1/upgrades/"+id+"/migration-plan", token, nil)
	h.Expect(plan, 200, "")
	if moves := plan.List("moves"); len(moves) != 1 || !strings.HasPrefix(apitest.Dig(moves[0], "interruption").(string), want) {
		t.Errorf("migration plan: %s", plan.Raw)
	}
	u := h.waitStatus(token, id, "completed")
	if seen := stop()["db"]; seen.Outages != 1 {
		t.Errorf("db had %d intervals at 0 available, want the one announced", seen.Outages)
	}
	ws := u.List("workloads")
	if len(ws) != 1 || apitest.Dig(ws[0], "state") != "migrated" || apitest.Dig(ws[0], "node") != u.Str("node.name") || apitest.Dig(ws[0], "min_available") != 0.0 {
		t.Errorf("workloads: %v", ws)
	}
	accountNodes(t, kc, acct)
}
