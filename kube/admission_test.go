package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
)

// TestPlacementPolicy: after the migration and the plan's features, the
// API server itself puts the account's new pods on the dedicated node: a
// Deployment made afterwards with no selector, and the old templates
// re-applied (GitOps) roll out there. A cancel takes the policy away, brings
// those pods back to the shared pool and lets the node go; new pods go to
// the shared pool again.
func TestPlacementPolicy(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	ctx := context.Background()
	kubetest.EnsureSharedNodes(t, kc)
	acct := kubetest.AccountID()
	ns := kubetest.Namespace(t, kc, acct)
	t.Cleanup(func() {
		if t.Failed() { // before the namespace goes: where was everything?
			for _, p := range pods(t, kc, ns, "") {
				t.Logf("pod %s on %q: %s, created %s, annotations %v, selector %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.CreationTimestamp, p.Annotations, p.Spec.NodeSelector)
			}
			deps, _ := kc.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
			for _, d := range deps.Items {
				t.Logf("Deployment %s: generation %d, status %+v", d.Name, d.Generation, d.Status)
			}
			rss, _ := kc.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
			for _, r := range rss.Items {
				t.Logf("ReplicaSet %s: created %s, replicas %d, template annotations %v, affinity %+v", r.Name, r.CreationTimestamp, *r.Spec.Replicas, r.Spec.Template.Annotations, r.Spec.Template.Spec.Affinity)
			}
		}
	})
	shared := map[string]string{"tierup.dev/pool": "shared"}
	apart := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}}}}
	olds := map[string]corev1.PodTemplateSpec{
		"web": template("web", shared, nil),
		"api": template("api", shared, apart), // its replicas on two nodes of the shared pool
	}
	for _, name := range []string{"api", "web"} {
		createDeployment(t, kc, ns, name, olds[name])
	}
	waitDeployments(t, kc, ns, nil, "api", "web")

	// tierup acts as the ServiceAccount of the shipped RBAC manifest.
	c := newCluster(t, kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml"), kube.Config{RolloutTimeout: 40 * time.Second})
	if warn, err := c.Warnings(ctx); err != nil || len(warn) != 0 {
		t.Fatalf("Warnings on Kubernetes 1.37 = %q, %v; want none", warn, err)
	}
	req := tierup.NodeRequest{Key: "upg_place:" + acct + ":node", AccountID: acct, Plan: proPlan(t)}
	node, err := c.ProvisionNode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
	for _, name := range []string{"api", "web"} {
		if _, err := c.MigrateWorkload(ctx, acct, tierup.Workload{Kind: "Deployment", Name: name, Replicas: 2}, []tierup.Node{*node}); err != nil {
			t.Fatal(err)
		}
	}

	// The enable_features step, twice: the second changes nothing.
	name := kube.PlacementName(acct)
	admission := kc.AdmissionregistrationV1()
	var versions []string
	for range 2 {
		if err := c.EnableFeatures(ctx, acct, proPlan(t)); err != nil {
			t.Fatal(err)
		}
		p, err := admission.MutatingAdmissionPolicies().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := admission.MutatingAdmissionPolicyBindings().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b.Spec.PolicyName != name || b.Spec.MatchResources.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != ns {
			t.Fatalf("binding %+v, want policy %s for namespace %s", b.Spec, name, ns)
		}
		versions = append(versions, p.ResourceVersion+"/"+b.ResourceVersion)
	}
	if versions[0] != versions[1] {
		t.Errorf("the second EnableFeatures rewrote the policy or binding: %v", versions)
	}
	if list, _ := admission.MutatingAdmissionPolicies().List(ctx, metav1.ListOptions{LabelSelector: "tierup.dev/account=" + acct}); len(list.Items) != 1 {
		t.Errorf("%d placement policies for the account, want 1", len(list.Items))
	}

	// A Deployment made after the move, with no selector or toleration.
	createDeployment(t, kc, ns, "fresh", template("fresh", nil, nil))
	waitDeployments(t, kc, ns, onNode(node.Name), "fresh")
	// GitOps puts the templates from before the move back: their rollouts
	// stay on the dedicated node too.
	for name, tpl := range olds {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.Spec.Template = tpl
		if _, err := kc.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitDeployments(t, kc, ns, onNode(node.Name), "api", "web")
	for _, p := range pods(t, kc, ns, "") {
		if p.Spec.NodeSelector["tierup.dev/pool"] != "dedicated" || p.Spec.NodeSelector["tierup.dev/account"] != acct || countTolerations(p) != 1 {
			t.Errorf("pod %s: selector %v, tolerations %v; want the dedicated selector and one toleration", p.Name, p.Spec.NodeSelector, p.Spec.Tolerations)
		}
		if a := p.Spec.Affinity; p.Labels["app"] == "api" && (len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 0 ||
			len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1) {
			t.Errorf("pod %s: anti-affinity %+v, want the hostname rule preferred", p.Name, a.PodAntiAffinity)
		}
	}

	// Pods the policy leaves as they are: one already placed (its Exists
	// toleration is enough, and its other selector key stays) and one of
	// tierup's own.
	placed := corev1.Toleration{Key: "tierup.dev/dedicated", Operator: corev1.TolerationOpExists}
	for _, tc := range []struct {
		name     string
		labels   map[string]string
		selector map[string]string
		tols     []corev1.Toleration
		want     map[string]string
		wantTols int
	}{
		{name: "placed", selector: map[string]string{"tierup.dev/pool": "dedicated", "tierup.dev/account": acct, "type": "kwok"},
			tols: []corev1.Toleration{placed}, want: map[string]string{"tierup.dev/pool": "dedicated", "tierup.dev/account": acct, "type": "kwok"}, wantTols: 1},
		{name: "conflicting", selector: map[string]string{"tierup.dev/pool": "shared", "tierup.dev/account": "someone-else"},
			want: map[string]string{"tierup.dev/pool": "dedicated", "tierup.dev/account": acct}, wantTols: 1},
		{name: "ours", labels: map[string]string{"app.kubernetes.io/managed-by": "tierup"}, selector: shared, want: shared, wantTols: 0},
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: ns, Labels: tc.labels},
			Spec: corev1.PodSpec{NodeSelector: tc.selector, Tolerations: tc.tols, Containers: []corev1.Container{{Name: "c", Image: "registry.example/c:1"}}}}
		got, err := kc.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got.Spec.NodeSelector, tc.want) || countTolerations(*got) != tc.wantTols {
			t.Errorf("pod %s admitted with selector %v, tolerations %v; want %v and %d of the account's", tc.name, got.Spec.NodeSelector, got.Spec.Tolerations, tc.want, tc.wantTols)
		}
		if err := kc.CoreV1().Pods(ns).Delete(ctx, tc.name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
	}

	// Cancel, as the workflow compensates: each moved workload back, the
	// previous plan's features, the node.
	hobby, err := tierup.DefaultCatalog().Plan("hobby")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "web"} {
		if err := c.ReturnWorkload(ctx, acct, tierup.Workload{Kind: "Deployment", Name: name, Replicas: 2}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := c.EnableFeatures(ctx, acct, hobby); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admission.MutatingAdmissionPolicies().Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Error("the placement policy outlived the cancel")
	}
	if _, err := admission.MutatingAdmissionPolicyBindings().Get(ctx, name, metav1.GetOptions{}); err == nil {
		t.Error("the placement policy's binding outlived the cancel")
	}
	offNode := func(p corev1.Pod) error {
		if p.Spec.NodeName == node.Name || p.Annotations[kube.PlacedAnnotation] != "" {
			return fmt.Errorf("pod %s on %s, annotations %v", p.Name, p.Spec.NodeName, p.Annotations)
		}
		return nil
	}
	waitDeployments(t, kc, ns, offNode, "api", "web", "fresh")
	if d, _ := kc.AppsV1().Deployments(ns).Get(ctx, "fresh", metav1.GetOptions{}); d.Spec.Strategy.RollingUpdate == nil ||
		d.Spec.Strategy.RollingUpdate.MaxSurge.String() != "25%" || d.Annotations["tierup.dev/original"] != "" {
		t.Errorf("fresh after the cancel: strategy %+v, annotations %v; want its own and no leftover", d.Spec.Strategy, d.Annotations)
	}
	if err := c.ReleaseNode(ctx, req); err != nil {
		t.Fatal(err)
	}
	createDeployment(t, kc, ns, "later", template("later", nil, nil))
	waitDeployments(t, kc, ns, offNode, "later")
}

func template(app string, selector map[string]string, affinity *corev1.Affinity) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeSelector: selector, Affinity: affinity,
			Containers: []corev1.Container{{Name: app, Image: "registry.example/" + app + ":1"}}},
	}
}

func createDeployment(t *testing.T, kc kubernetes.Interface, ns, name string, tpl corev1.PodTemplateSpec) {
	t.Helper()
	n := int32(2)
	_, err := kc.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: tpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func onNode(node string) func(corev1.Pod) error {
	return func(p corev1.Pod) error {
		if p.Spec.NodeName != node {
			return fmt.Errorf("pod %s on %q, want %s", p.Name, p.Spec.NodeName, node)
		}
		return nil
	}
}

// waitDeployments waits until each Deployment's rollout is complete with
// only its current pods left, every one ready and passing check.
func waitDeployments(t *testing.T, kc kubernetes.Interface, ns string, check func(corev1.Pod) error, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		kubetest.Eventually(t, 2*time.Minute, "Deployment "+name+" to roll out", func() (bool, error) {
			d, err := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			want := *d.Spec.Replicas
			if st := d.Status; st.ObservedGeneration < d.Generation || st.UpdatedReplicas != want || st.AvailableReplicas != want || st.Replicas != want {
				return false, fmt.Errorf("%s: status %+v", name, st)
			}
			live := pods(t, kc, ns, name)
			if len(live) != int(want) {
				return false, fmt.Errorf("%s: %d pods, want %d", name, len(live), want)
			}
			for _, p := range live {
				if check != nil {
					if err := check(p); err != nil {
						return false, err
					}
				}
			}
			return true, nil
		})
	}
}

// pods lists the live pods of app (every app when empty).
func pods(t *testing.T, kc kubernetes.Interface, ns, app string) []corev1.Pod {
	t.Helper()
	sel := "app"
	if app != "" {
		sel = "app=" + app
	}
	list, err := kc.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
}

// countTolerations counts the pod's tolerations of the dedicated taint.
func countTolerations(p corev1.Pod) int {
	n := 0
	for _, tol := range p.Spec.Tolerations {
		if tol.Key == "tierup.dev/dedicated" {
			n++
		}
	}
	return n
}

// TestAdmissionPoliciesAbsent: against API servers that lack the
// MutatingAdmissionPolicy API (before 1.36: the group version without the
// resource, or no such group version at all), tierup says so.
func TestAdmissionPoliciesAbsent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resources []string // served in admissionregistration.k8s.io/v1; nil: the group version is not served
		warn      bool
	}{
		{"1.35", []string{"validatingadmissionpolicies", "validatingadmissionpolicybindings", "mutatingwebhookconfigurations"}, true},
		{"no group version", nil, true},
		{"1.36", []string{"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(fakeDiscovery(t, tc.resources))
			defer srv.Close()
			c, err := kube.New(&rest.Config{Host: srv.URL}, kube.Config{}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			warn, err := c.Warnings(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(warn) == 1 && strings.Contains(warn[0], "Kubernetes 1.36"); got != tc.warn || !tc.warn && len(warn) != 0 {
				t.Errorf("Warnings = %q, want a warning: %v", warn, tc.warn)
			}
		})
	}
}

// fakeDiscovery answers discovery for admissionregistration.k8s.io/v1 with
// resources, and every other request 404.
func fakeDiscovery(t *testing.T, resources []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/admissionregistration.k8s.io/v1" || resources == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound})
			return
		}
		list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "admissionregistration.k8s.io/v1"}
		for _, name := range resources {
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: name, Verbs: metav1.Verbs{"get", "list", "create"}})
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(list); err != nil {
			t.Error(err)
		}
	})
}
