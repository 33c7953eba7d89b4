package kube_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
)

func newCluster(t *testing.T, rc *rest.Config, cfg kube.Config) *kube.Cluster {
	t.Helper()
	if cfg.ProvisionTimeout == 0 {
		cfg.ProvisionTimeout = time.Minute
	}
	if cfg.RolloutTimeout == 0 {
		cfg.RolloutTimeout = 2 * time.Minute
	}
	if cfg.Backups == "" {
		// TestVeleroSchedule installs Velero's CRD in the shared control
		// plane; the other tests keep to the CronJob whatever its timing.
		cfg.Backups = "cronjob"
	}
	c, err := kube.New(rc, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func proPlan(t *testing.T) *tierup.Plan { t.Helper(); return catalogPlan(t, "pro-1m") }

func catalogPlan(t *testing.T, id string) *tierup.Plan {
	t.Helper()
	p, err := tierup.DefaultCatalog().Plan(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// accountNamespace opens an account whose namespace holds the acceptance
// workloads, available on the shared pool.
func accountNamespace(t *testing.T, kc kubernetes.Interface) (acct, ns string) {
	t.Helper()
	kubetest.EnsureSharedNodes(t, kc)
	acct = kubetest.AccountID()
	ns = kubetest.Namespace(t, kc, acct)
	kubetest.Workloads(t, kc, ns)
	return acct, ns
}

// TestMigrateNamespace moves the acceptance namespace, workload by
// workload, onto a dedicated kwok node, and checks each step against the
// dry-run plan and the API server's view.
func TestMigrateNamespace(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	acct, ns := accountNamespace(t, kc)
	// tierup acts as the ServiceAccount of the shipped RBAC manifest.
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), kube.Config{})

	plan, err := c.PlanMigration(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range plan {
		order = append(order, m.Workload.Kind+"/"+m.Workload.Name)
	}
	want := []string{"Deployment/api", "Deployment/web", "Deployment/worker", "Function/thumbnailer", "StatefulSet/db", "CronJob/cleanup", "CronJob/nightly-report"}
	if !slices.Equal(order, want) {
		t.Fatalf("plan order = %v, want %v", order, want)
	}
	changes := map[string][]string{}
	for _, m := range plan {
		changes[m.Workload.Kind+"/"+m.Workload.Name] = m.Changes
	}
	mustMention := map[string][]string{
		"Deployment/api":         {"protected by its own PodDisruptionBudget api-pdb", "anti-affinity on kubernetes.io/hostname relaxed to preferred"},
		"Deployment/web":         {"PodDisruptionBudget tierup-web", "maxSurge 1, maxUnavailable 0"},
		"Deployment/worker":      {"its own strategy (Recreate) is restored afterwards"},
		"StatefulSet/db":         {"one extra replica during the move (3, then back to 2)"},
		"CronJob/cleanup":        {"running jobs finish where they are"},
		"Function/thumbnailer":   {"toleration tierup.dev/dedicated="},
		"CronJob/nightly-report": {"node selector tierup.dev/pool=dedicated, tierup.dev/account=" + acct},
	}
	for w, subs := range mustMention {
		for _, sub := range subs {
			if !slices.ContainsFunc(changes[w], func(c string) bool { return strings.Contains(c, sub) }) {
				t.Errorf("plan for %s = %q, want a change mentioning %q", w, changes[w], sub)
			}
		}
	}
	// The dry run changed nothing.
	if pdbs, _ := kc.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{}); len(pdbs.Items) != 1 {
		t.Fatalf("dry run left %d PodDisruptionBudgets, want only api-pdb", len(pdbs.Items))
	}

	req := tierup.NodeRequest{Key: "upg_test:" + acct + ":node", AccountID: acct, Plan: proPlan(t)}
	node, err := c.ProvisionNode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.ProvisionNode(ctx, req)
	if err != nil || again.Name != node.Name {
		t.Fatalf("second ProvisionNode = %v, %v; want the same node %s", again, err, node.Name)
	}
	n, err := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["tierup.dev/pool"] != "dedicated" || n.Labels["tierup.dev/account"] != acct || n.Annotations["kwok.x-k8s.io/node"] != "fake" {
		t.Errorf("node labels %v, annotations %v", n.Labels, n.Annotations)
	}
	// The node controller may still hold its not-ready taint for a moment.
	if !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
		return t.Key == "tierup.dev/dedicated" && t.Value == acct && t.Effect == corev1.TaintEffectNoSchedule
	}) {
		t.Errorf("node taints = %v", n.Spec.Taints)
	}
	countNodes(t, kc, acct, 1)

	ws, err := c.Workloads(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	stopWatching := kubetest.WatchAvailability(t, kc, ns)
	for i, w := range ws {
		if w.Kind+"/"+w.Name != want[i] || w.Node != "shared" {
			t.Fatalf("workload %d = %+v, want %s on shared", i, w, want[i])
		}
		report, err := c.MigrateWorkload(ctx, acct, w, []tierup.Node{*node})
		if err != nil {
			t.Fatalf("migrate %s %s: %v", w.Kind, w.Name, err)
		}
		if report.MinAvailable < w.Replicas {
			t.Errorf("%s %s: %d available at the lowest, want at least %d", w.Kind, w.Name, report.MinAvailable, w.Replicas)
		}
		if !slices.Equal(report.Notes, changes[w.Kind+"/"+w.Name]) {
			t.Errorf("%s %s: report notes %q, plan said %q", w.Kind, w.Name, report.Notes, changes[w.Kind+"/"+w.Name])
		}
		if report.Workload.Node != node.Name || report.Workload.Replicas != w.Replicas {
			t.Errorf("%s %s reported as %+v", w.Kind, w.Name, report.Workload)
		}
	}
	// Seen from outside: no workload ever had fewer available replicas
	// than it wants.
	seen := stopWatching()
	for _, w := range ws {
		if w.Kind == "CronJob" {
			continue
		}
		if got, ok := seen[w.Name]; !ok || int(got) < w.Replicas {
			t.Errorf("%s %s: the API server showed %d available at the lowest (seen: %v), want at least %d", w.Kind, w.Name, got, ok, w.Replicas)
		}
	}
	// What the plan said, in the objects: api's anti-affinity relaxed, a
	// PodDisruptionBudget of tierup's for each workload without one.
	api, _ := kc.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	anti := api.Spec.Template.Spec.Affinity.PodAntiAffinity
	if len(anti.RequiredDuringSchedulingIgnoredDuringExecution) != 0 || len(anti.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		anti.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != corev1.LabelHostname {
		t.Errorf("api's anti-affinity after the move: %+v", anti)
	}
	pdbs, _ := kc.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{})
	var pdbNames []string
	for _, p := range pdbs.Items {
		pdbNames = append(pdbNames, p.Name)
	}
	slices.Sort(pdbNames)
	if want := []string{"api-pdb", "tierup-db", "tierup-thumbnailer", "tierup-web", "tierup-worker"}; !slices.Equal(pdbNames, want) {
		t.Errorf("PodDisruptionBudgets %v, want %v", pdbNames, want)
	}
	// Every pod of the account runs on the dedicated node, and the
	// workloads are back to their own strategy and size.
	pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		live++
		if p.Spec.NodeName != node.Name {
			t.Errorf("pod %s runs on %s", p.Name, p.Spec.NodeName)
		}
	}
	if live != 2+2+1+1+2 {
		t.Errorf("%d live pods, want 8", live)
	}
	worker, _ := kc.AppsV1().Deployments(ns).Get(ctx, "worker", metav1.GetOptions{})
	if worker.Spec.Strategy.Type != "Recreate" {
		t.Errorf("worker's strategy = %s, want its own Recreate back", worker.Spec.Strategy.Type)
	}
	db, _ := kc.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if *db.Spec.Replicas != 2 {
		t.Errorf("db has %d replicas, want its own 2 back", *db.Spec.Replicas)
	}
	cj, _ := kc.BatchV1().CronJobs(ns).Get(ctx, "cleanup", metav1.GetOptions{})
	if cj.Spec.JobTemplate.Spec.Template.Spec.NodeSelector["tierup.dev/account"] != acct {
		t.Errorf("cleanup's job template selector = %v", cj.Spec.JobTemplate.Spec.Template.Spec.NodeSelector)
	}
	ws, err = c.Workloads(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Node != node.Name {
			t.Errorf("%s %s listed on %s after the move", w.Kind, w.Name, w.Node)
		}
	}
	if left, err := c.PlanMigration(ctx, acct); err != nil || len(left) != 0 {
		t.Errorf("plan after the move = %v, %v; want nothing left", left, err)
	}

	// Features, twice: the second changes nothing.
	for range 2 {
		if err := c.EnableFeatures(ctx, acct, proPlan(t)); err != nil {
			t.Fatal(err)
		}
	}
	q, err := kc.CoreV1().ResourceQuotas(ns).Get(ctx, kube.QuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	storage := q.Spec.Hard["ssd.storageclass.storage.k8s.io/requests.storage"]
	if storage.String() != "100Gi" || len(q.Spec.Hard) != 1 {
		t.Errorf("quota = %v, want only 100Gi of ssd storage (no count limits)", q.Spec.Hard)
	}
	backup, err := kc.BatchV1().CronJobs(ns).Get(ctx, kube.BackupName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := backup.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env
	if backup.Spec.Schedule != "0 3 * * *" || !slices.Contains(env, corev1.EnvVar{Name: "RETENTION_DAYS", Value: "7"}) {
		t.Errorf("backup CronJob schedule %q env %v", backup.Spec.Schedule, env)
	}
	nsObj, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"tierup.dev/plan": "pro-1m", "tierup.dev/tier": "pro", "tierup.dev/aiops-anomaly-detection": "enabled", "tierup.dev/aiops-predictive-scaling": "enabled"} {
		if nsObj.Labels[k] != v {
			t.Errorf("namespace label %s = %q, want %q", k, nsObj.Labels[k], v)
		}
	}
	// The backup CronJob is tierup's, not a workload to move.
	if ws, _ := c.Workloads(ctx, acct); len(ws) != len(want) {
		t.Errorf("%d workloads after features, want %d", len(ws), len(want))
	}

	// Compensation puts a workload back where it was.
	web := tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 2}
	if err := c.ReturnWorkload(ctx, acct, web); err != nil {
		t.Fatal(err)
	}
	d, _ := kc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if d.Spec.Template.Spec.NodeSelector["tierup.dev/pool"] != "shared" || len(d.Spec.Template.Spec.Tolerations) != 0 || d.Annotations["tierup.dev/original"] != "" {
		t.Errorf("web after return: selector %v tolerations %v annotations %v", d.Spec.Template.Spec.NodeSelector, d.Spec.Template.Spec.Tolerations, d.Annotations)
	}
	// The node is not released from under the workloads still on it.
	if err := c.ReleaseNode(ctx, req); err == nil || !strings.Contains(err.Error(), "still run on node") {
		t.Fatalf("ReleaseNode with workloads on the node = %v, want a refusal", err)
	}
	countNodes(t, kc, acct, 1)
	for _, w := range ws { // web again: returning it twice changes nothing
		if err := c.ReturnWorkload(ctx, acct, w); err != nil {
			t.Fatalf("return %s %s: %v", w.Kind, w.Name, err)
		}
	}
	if pdbs, _ := kc.PolicyV1().PodDisruptionBudgets(ns).List(ctx, metav1.ListOptions{}); len(pdbs.Items) != 1 || pdbs.Items[0].Name != "api-pdb" {
		t.Errorf("PodDisruptionBudgets after the returns: %d, want only api's own", len(pdbs.Items))
	}
	db, _ = kc.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if *db.Spec.Replicas != 2 || db.Spec.Template.Spec.NodeSelector["tierup.dev/pool"] != "shared" || db.Annotations["tierup.dev/original"] != "" {
		t.Errorf("db after return: %d replicas, selector %v", *db.Spec.Replicas, db.Spec.Template.Spec.NodeSelector)
	}
	if err := c.ReleaseNode(ctx, req); err != nil {
		t.Fatal(err)
	}
	countNodes(t, kc, acct, 0)
	if err := c.ReleaseNode(ctx, req); err != nil {
		t.Fatalf("second release: %v", err)
	}
}

func countNodes(t *testing.T, kc kubernetes.Interface, acct string, want int) {
	t.Helper()
	nodes, err := kc.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct})
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, n := range nodes.Items {
		if n.DeletionTimestamp == nil {
			live++
		}
	}
	if live != want {
		t.Fatalf("%d nodes carry the account's label, want %d", live, want)
	}
}

// TestShortageThenCapacity: kwok manages only nodes annotated
// kwok.x-k8s.io/node=fake, so a node made with another value never becomes
// Ready: the cluster has no capacity for it. The retry finds the same node
// (no second one is made) and succeeds once its kubelet reports Ready.
func TestShortageThenCapacity(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	acct := kubetest.AccountID()
	c := newCluster(t, rc, kube.Config{ProvisionTimeout: time.Second,
		Kwok: kube.KwokConfig{Annotations: map[string]string{"kwok.x-k8s.io/node": "waiting-for-capacity"}}})
	req := tierup.NodeRequest{Key: "upg_short:node", AccountID: acct, Plan: proPlan(t)}
	_, err := c.ProvisionNode(ctx, req)
	if tierup.ErrorCode(err) != tierup.CodeResourceShortage {
		t.Fatalf("ProvisionNode = %v, want resource_shortage", err)
	}
	countNodes(t, kc, acct, 1)
	nodes, _ := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct})
	name := nodes.Items[0].Name
	t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	// Capacity appears: the node's kubelet reports Ready. kwok ignores this
	// node, so the test plays that kubelet.
	n := &nodes.Items[0]
	now := metav1.Now()
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now})
	if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c = newCluster(t, rc, kube.Config{ProvisionTimeout: 30 * time.Second,
		Kwok: kube.KwokConfig{Annotations: map[string]string{"kwok.x-k8s.io/node": "waiting-for-capacity"}}})
	node, err := c.ProvisionNode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if node.Name != name || !node.Ready {
		t.Fatalf("retry gave %+v, want the Ready node %s", node, name)
	}
	countNodes(t, kc, acct, 1)
}

// TestUnreachableMidRollout cuts tierup off from the API server while a
// Deployment rolls to the dedicated node: the move reports
// cluster_unreachable (the workflow pauses), and once the API server is
// back the same call resumes from the annotation and completes.
func TestUnreachableMidRollout(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	acct, ns := accountNamespace(t, kc)
	proxy, prc := kubetest.NewProxy(t, rc)
	c := newCluster(t, prc, kube.Config{})
	node, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_cut:node", AccountID: acct, Plan: proPlan(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
	web := tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 2}

	// Cut as soon as the pod template has changed: mid-rollout.
	watchCtx, stop := context.WithTimeout(ctx, time.Minute)
	defer stop()
	go func() {
		for watchCtx.Err() == nil {
			d, err := kc.AppsV1().Deployments(ns).Get(watchCtx, "web", metav1.GetOptions{})
			if err == nil && d.Annotations["tierup.dev/original"] != "" {
				proxy.Cut()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err = c.MigrateWorkload(ctx, acct, web, []tierup.Node{*node})
	if tierup.ErrorCode(err) != tierup.CodeClusterUnreachable {
		t.Fatalf("MigrateWorkload during the outage = %v, want cluster_unreachable", err)
	}
	if _, err := c.Workloads(ctx, acct); tierup.ErrorCode(err) != tierup.CodeClusterUnreachable {
		t.Fatalf("Workloads during the outage = %v, want cluster_unreachable", err)
	}
	proxy.Restore(t)
	report, err := c.MigrateWorkload(ctx, acct, web, []tierup.Node{*node})
	if err != nil {
		t.Fatal(err)
	}
	if report.MinAvailable < 2 || report.Workload.Node != node.Name {
		t.Errorf("report after resume = %+v", report)
	}
	d, _ := kc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	var orig struct {
		Strategy *struct{ Type string } `json:"deploymentStrategy"`
		Moved    bool                   `json:"moved"`
	}
	if err := json.Unmarshal([]byte(d.Annotations["tierup.dev/original"]), &orig); err != nil || !orig.Moved || orig.Strategy == nil || orig.Strategy.Type != "RollingUpdate" {
		t.Errorf("original after resume = %s (%v)", d.Annotations["tierup.dev/original"], err)
	}
	if d.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" {
		t.Errorf("web's own strategy was not restored: %+v", d.Spec.Strategy)
	}
}

// TestRolloutFailureRollsBack: a workload whose pods cannot all fit on the
// dedicated node (it takes one pod) is rolled back to its previous template
// and size, available on the shared pool again, and reported as
// migration_failed. For the StatefulSet the rollback has to delete the pod
// stuck Pending on the new template, or the controller would wait forever.
func TestRolloutFailureRollsBack(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	for _, tc := range []struct {
		kind, name string
		replicas   int
	}{
		{"Deployment", "web", 2},
		{"StatefulSet", "db", 2},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			ctx := context.Background()
			acct, ns := accountNamespace(t, kc)
			c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"),
				kube.Config{RolloutTimeout: 3 * time.Second, Kwok: kube.KwokConfig{Capacity: map[string]string{"cpu": "1", "memory": "1Gi", "pods": "1"}}})
			node, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_fail:node", AccountID: acct, Plan: proPlan(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
			_, err = c.MigrateWorkload(ctx, acct, tierup.Workload{Kind: tc.kind, Name: tc.name, Replicas: tc.replicas}, []tierup.Node{*node})
			if tierup.ErrorCode(err) != tierup.CodeMigrationFailed || !strings.Contains(err.Error(), "it was rolled back") {
				t.Fatalf("MigrateWorkload = %v, want migration_failed with a rollback", err)
			}
			var selector map[string]string
			var annotations map[string]string
			var replicas, available int32
			switch tc.kind {
			case "Deployment":
				d, _ := kc.AppsV1().Deployments(ns).Get(ctx, tc.name, metav1.GetOptions{})
				selector, annotations, replicas, available = d.Spec.Template.Spec.NodeSelector, d.Annotations, *d.Spec.Replicas, d.Status.AvailableReplicas
				if d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" {
					t.Errorf("strategy after rollback %+v, want its own", d.Spec.Strategy)
				}
			case "StatefulSet":
				s, _ := kc.AppsV1().StatefulSets(ns).Get(ctx, tc.name, metav1.GetOptions{})
				selector, annotations, replicas, available = s.Spec.Template.Spec.NodeSelector, s.Annotations, *s.Spec.Replicas, s.Status.AvailableReplicas
			}
			if selector["tierup.dev/pool"] != "shared" || annotations["tierup.dev/original"] != "" || int(replicas) != tc.replicas || int(available) != tc.replicas {
				t.Errorf("after rollback: selector %v, annotations %v, %d replicas, %d available", selector, annotations, replicas, available)
			}
			pods, _ := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + tc.name})
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && p.Spec.NodeName == node.Name {
					t.Errorf("pod %s still on the dedicated node after the rollback", p.Name)
				}
			}
		})
	}
}

// TestAccountWithoutNamespace: an account that has deployed nothing has no
// namespace; there is nothing to move, and the plan's features are set up
// in a namespace made for it, ready for its first deploy.
func TestAccountWithoutNamespace(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	acct := kubetest.AccountID()
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), kube.Config{})
	ws, err := c.Workloads(ctx, acct)
	if err != nil || len(ws) != 0 {
		t.Fatalf("Workloads = %v, %v; want none", ws, err)
	}
	if plan, err := c.PlanMigration(ctx, acct); err != nil || len(plan) != 0 {
		t.Fatalf("PlanMigration = %v, %v; want none", plan, err)
	}
	if err := c.EnableFeatures(ctx, acct, proPlan(t)); err != nil {
		t.Fatal(err)
	}
	ns := "tierup-" + strings.ReplaceAll(acct, "_", "-")
	t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	n, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["tierup.dev/account"] != acct || n.Labels[kube.PlanLabel] != "pro-1m" {
		t.Errorf("namespace labels %v", n.Labels)
	}
	if _, err := kc.CoreV1().ResourceQuotas(ns).Get(ctx, kube.QuotaName, metav1.GetOptions{}); err != nil {
		t.Errorf("quota: %v", err)
	}
}

// TestVeleroSchedule installs Velero's own Schedule CRD (from the
// github.com/vmware-tanzu/velero module): with backups on "auto" the plan's
// daily backup becomes a Velero Schedule of the account's namespace kept 7
// days, written again unchanged, and removed by a plan without backups.
func TestVeleroSchedule(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	dyn := kubetest.InstallCRDs(t, rc, kubetest.VeleroCRDs(t))
	ctx := context.Background()
	acct := kubetest.AccountID()
	ns := kubetest.Namespace(t, kc, acct)
	veleroNS := kubetest.Namespace(t, kc, acct+"-velero")
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), kube.Config{Backups: "auto", VeleroNamespace: veleroNS})
	schedules := dyn.Resource(schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "schedules"}).Namespace(veleroNS)
	for range 2 {
		if err := c.EnableFeatures(ctx, acct, proPlan(t)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := schedules.Get(ctx, "tierup-"+ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := s.Object["spec"].(map[string]any)
	tpl := spec["template"].(map[string]any)
	if spec["schedule"] != "0 3 * * *" || tpl["ttl"] != "168h0m0s" || !slices.Equal(tpl["includedNamespaces"].([]any), []any{ns}) {
		t.Errorf("Velero Schedule spec %v", spec)
	}
	if _, err := kc.BatchV1().CronJobs(ns).Get(ctx, kube.BackupName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("backup CronJob alongside Velero: %v", err)
	}
	hobby, err := tierup.DefaultCatalog().Plan("hobby")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnableFeatures(ctx, acct, hobby); err != nil {
		t.Fatal(err)
	}
	if _, err := schedules.Get(ctx, "tierup-"+ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Schedule after a plan without backups: %v", err)
	}
}

// TestNamespaceBySelector: with --kube-namespace-label the account's
// namespace is whichever carries the label, whatever its name.
func TestNamespaceBySelector(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	acct := kubetest.AccountID()
	c := newCluster(t, rc, kube.Config{NamespaceSelector: "tierup.dev/account"})
	if ws, err := c.Workloads(ctx, acct); err != nil || len(ws) != 0 {
		t.Fatalf("Workloads with no namespace = %v, %v; want none", ws, err)
	}
	if err := c.EnableFeatures(ctx, acct, proPlan(t)); tierup.ErrorCode(err) != tierup.CodeNotFound || !strings.Contains(err.Error(), "tierup.dev/account="+acct) {
		t.Fatalf("EnableFeatures with no namespace = %v, want not_found naming the label", err)
	}
	name := "team-" + strings.ReplaceAll(acct, "_", "-")
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{"tierup.dev/account": acct}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	kubetest.EnsureSharedNodes(t, kc)
	kubetest.Workloads(t, kc, name)
	ws, err := c.Workloads(ctx, acct)
	if err != nil || len(ws) != 7 {
		t.Fatalf("Workloads = %d, %v; want the 7 in %s", len(ws), err, name)
	}
	if err := c.EnableFeatures(ctx, acct, proPlan(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().ResourceQuotas(name).Get(ctx, kube.QuotaName, metav1.GetOptions{}); err != nil {
		t.Errorf("quota in %s: %v", name, err)
	}
}
