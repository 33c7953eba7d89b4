// Package kubetest gives tests the real control plane that
// scripts/k8s-testenv.sh runs (etcd, kube-apiserver, controller-manager,
// scheduler and kwok): a client, a shared kwok node, a namespace with an
// account's workloads, and a proxy that can cut tierup off from the API
// server.
//
// TIERUP_TEST_KUBECONFIG names the control plane's kubeconfig. Without it
// the test is skipped, unless CI or TIERUP_TEST_REQUIRE_KUBE is set: then it
// fails, because a skipped cluster run would hide the kube adapter's bugs.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/tcpproxy"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// SharedNodes are the kwok nodes of the shared pool every test's workloads
// start on; two, so that a workload with hostname anti-affinity fits.
var SharedNodes = []string{"tierup-shared-1", "tierup-shared-2"}

// Kubeconfig returns the control plane's kubeconfig path, or skips.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	return env(t, "TIERUP_TEST_KUBECONFIG", "the Kubernetes test control plane's kubeconfig")
}

// env returns a variable naming part of the test control plane. Unset, the
// test is skipped, or fails under CI or TIERUP_TEST_REQUIRE_KUBE.
func env(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		msg := name + " (" + what + ") is not set: scripts/k8s-testenv.sh up starts the control plane, and its env command prints the variables"
		if os.Getenv("CI") != "" || os.Getenv("TIERUP_TEST_REQUIRE_KUBE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

// Config returns a client configuration for the control plane.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	return rc
}

// Client returns a clientset for the control plane.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	kc, err := kubernetes.NewForConfig(Config(t))
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// AccountID returns a fresh account ID, so tests sharing the control plane
// never meet.
func AccountID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "acct_k" + hex.EncodeToString(b)
}

// EnsureSharedNodes makes the shared pool's kwok nodes and waits until
// they are Ready. Every test may call it; the first makes them.
func EnsureSharedNodes(t testing.TB, kc kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	capacity := corev1.ResourceList{"cpu": resource.MustParse("64"), "memory": resource.MustParse("256Gi"), "pods": resource.MustParse("1000")}
	for _, name := range SharedNodes {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name,
				Labels:      map[string]string{"tierup.dev/pool": "shared", corev1.LabelHostname: name, "type": "kwok"},
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		if _, err := kc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		Eventually(t, time.Minute, "shared kwok node "+name+" to be Ready", func() (bool, error) {
			n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return NodeReady(n), nil
		})
	}
}

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Eventually polls f until it reports true, failing t after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := f()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
}

// Namespace creates tierup-<account> (as the kube cluster's default
// template names it) and deletes it when the test ends.
func Namespace(t testing.TB, kc kubernetes.Interface, accountID string) string {
	t.Helper()
	ns := "tierup-" + strings.ReplaceAll(strings.ToLower(accountID), "_", "-")
	_, err := kc.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kc.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return ns
}

// Workloads fills ns with what the acceptance test names: three
// Deployments (api with a PodDisruptionBudget of its own and a required
// hostname anti-affinity), a Function, a StatefulSet and two CronJobs, all
// on the shared pool, and waits until every replica is available there.
func Workloads(t testing.TB, kc kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	shared := map[string]string{"tierup.dev/pool": "shared"}
	pod := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeSelector: shared, Containers: []corev1.Container{{Name: app, Image: "registry.example/" + app + ":1"}},
				RestartPolicy: corev1.RestartPolicyAlways},
		}
	}
	deploy := func(name string, n int32, labels map[string]string, mutate func(*appsv1.Deployment)) {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: pod(name)},
		}
		if mutate != nil {
			mutate(d)
		}
		if _, err := kc.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deploy("web", 2, nil, nil)
	deploy("api", 2, nil, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}}}}
	})
	deploy("worker", 1, nil, func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	})
	deploy("thumbnailer", 1, map[string]string{"tierup.dev/function": "true"}, nil)
	// api's replicas must be apart on the shared pool, one node each; on one
	// dedicated node the move has to relax that rule.
	one := intstr.FromInt32(1)
	_, err := kc.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "api-pdb", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := int32(2)
	_, err = kc.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{Replicas: &n, ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: pod("db")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nightly-report", "cleanup"} {
		tpl := pod(name)
		tpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		_, err := kc.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       batchv1.CronJobSpec{Schedule: "0 4 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	Eventually(t, 2*time.Minute, "the workloads to be available on the shared pool", func() (bool, error) {
		deps, err := kc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, d := range deps.Items {
			if d.Status.AvailableReplicas != *d.Spec.Replicas {
				return false, fmt.Errorf("%s: %d of %d available", d.Name, d.Status.AvailableReplicas, *d.Spec.Replicas)
			}
		}
		s, err := kc.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return s.Status.AvailableReplicas == n, fmt.Errorf("db: %d available", s.Status.AvailableReplicas)
	})
}

// Proxy is a loopback TCP proxy in front of the API server (see tcpproxy):
// Cut makes the API server unreachable for whoever talks through it while
// the control plane keeps running for the other tests that share it.
type Proxy struct{ *tcpproxy.Proxy }

// NewProxy starts a proxy to the API server of rc and returns a copy of rc
// that goes through it.
func NewProxy(t testing.TB, rc *rest.Config) (*Proxy, *rest.Config) {
	t.Helper()
	p := &Proxy{tcpproxy.New(t, strings.TrimPrefix(rc.Host, "https://"))}
	cp := rest.CopyConfig(rc)
	cp.Host = "https://" + p.Addr
	return p, cp
}

// Kubeconfig writes a kubeconfig for the proxied address next to the
// control plane's and returns its path.
func (p *Proxy) Kubeconfig(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	out := strings.Replace(string(b), "https://"+p.Target(), "https://"+p.Addr, 1)
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// KarpenterCRDs returns the directory of Karpenter's CRD manifests that
// scripts/k8s-testenv.sh install copies out of the sigs.k8s.io/karpenter
// module (TIERUP_TEST_KARPENTER_CRDS).
func KarpenterCRDs(t testing.TB) string {
	t.Helper()
	return env(t, "TIERUP_TEST_KARPENTER_CRDS", "Karpenter's CRD manifests")
}

// KarpenterNodeClass returns the node class, as group/kind/name, of the
// Karpenter controller that scripts/k8s-testenv.sh up runs with its kwok
// cloud provider (TIERUP_TEST_KARPENTER_NODECLASS): a NodePool naming it gets
// real NodeClaims and nodes. Unset, the test is skipped, or fails under CI.
func KarpenterNodeClass(t testing.TB) string {
	t.Helper()
	env(t, "TIERUP_TEST_KARPENTER", "Karpenter's controller runs in the control plane")
	return env(t, "TIERUP_TEST_KARPENTER_NODECLASS", "the KWOKNodeClass of Karpenter's kwok provider")
}

// VeleroCRDs returns the directory holding Velero's Schedule CRD
// (TIERUP_TEST_VELERO_CRDS).
func VeleroCRDs(t testing.TB) string {
	t.Helper()
	return env(t, "TIERUP_TEST_VELERO_CRDS", "Velero's Schedule CRD")
}

// PrometheusCRDs returns the directory holding prometheus-operator's
// ServiceMonitor and PrometheusRule CRDs, which the Helm chart's monitoring
// objects need (TIERUP_TEST_PROMETHEUS_CRDS).
func PrometheusCRDs(t testing.TB) string {
	t.Helper()
	return env(t, "TIERUP_TEST_PROMETHEUS_CRDS", "prometheus-operator's CRDs")
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs creates the CRDs in dir's YAML files (kept when they exist)
// and waits until the API server serves them.
func InstallCRDs(t testing.TB, rc *rest.Config, dir string) dynamic.Interface {
	t.Helper()
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRD manifests in %s (%v)", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(b, &obj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crd := &unstructured.Unstructured{Object: obj}
		if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create CRD %s: %v", crd.GetName(), err)
		}
		Eventually(t, time.Minute, "CRD "+crd.GetName()+" to be established", func() (bool, error) {
			got, err := dyn.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
	}
	return dyn
}

// StartKwok runs a kwok of the test's own that manages only nodes
// annotated kwok.x-k8s.io/node=<value>: until it starts, such nodes never
// become Ready, as when a cluster has no capacity. It stops when the test
// ends.
func StartKwok(t testing.TB, value string) {
	t.Helper()
	bin := env(t, "TIERUP_TEST_K8S_BIN", "the control plane's binaries")
	stages := env(t, "TIERUP_TEST_KWOK_STAGES", "kwok's stage files")
	args := []string{"--kubeconfig", Kubeconfig(t), "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=" + value, "--node-lease-duration-seconds=40"}
	files, _ := filepath.Glob(filepath.Join(stages, "*.yaml"))
	for _, f := range files {
		args = append(args, "--config", f)
	}
	cmd := exec.Command(filepath.Join(bin, "kwok"), args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// ServiceAccountConfig applies the RBAC manifest at path (a Namespace, a
// ServiceAccount, a ClusterRole and its binding, as deploy/rbac.yaml
// ships them) and returns a client configuration that acts as that
// ServiceAccount, so a test fails when tierup needs a permission the
// manifest does not grant.
func ServiceAccountConfig(t testing.TB, rc *rest.Config, path string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saNS, saName string
	for _, doc := range strings.Split(string(b), "\n---") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var meta metav1.TypeMeta
		if err := json.Unmarshal(js, &meta); err != nil || meta.Kind == "" {
			continue
		}
		switch meta.Kind {
		case "Namespace":
			var o corev1.Namespace
			mustJSON(t, js, &o)
			_, err = kc.CoreV1().Namespaces().Create(ctx, &o, metav1.CreateOptions{})
		case "ServiceAccount":
			var o corev1.ServiceAccount
			mustJSON(t, js, &o)
			saNS, saName = o.Namespace, o.Name
			_, err = kc.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
		case "ClusterRole":
			var o rbacv1.ClusterRole
			mustJSON(t, js, &o)
			if _, err = kc.RbacV1().ClusterRoles().Create(ctx, &o, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
				cur, gerr := kc.RbacV1().ClusterRoles().Get(ctx, o.Name, metav1.GetOptions{})
				if gerr != nil {
					t.Fatal(gerr)
				}
				cur.Rules = o.Rules
				_, err = kc.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
			}
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			mustJSON(t, js, &o)
			_, err = kc.RbacV1().ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
		default:
			t.Fatalf("%s: unexpected kind %s", path, meta.Kind)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s: %s: %v", path, meta.Kind, err)
		}
	}
	if saName == "" {
		t.Fatalf("%s has no ServiceAccount", path)
	}
	exp := int64(3600)
	tok, err := kc.CoreV1().ServiceAccounts(saNS).CreateToken(ctx, saName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa := rest.AnonymousClientConfig(rc)
	sa.BearerToken = tok.Status.Token
	sa.QPS, sa.Burst = rc.QPS, rc.Burst
	return sa
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// WatchAvailability watches the namespace's Deployments and StatefulSets
// from now on, independently of the code under test, and records for each
// (by name) the fewest available replicas any of its status updates showed.
// The returned function stops watching and gives the minima; a watch that
// ended early fails the test, since it may have missed a dip.
func WatchAvailability(t testing.TB, kc kubernetes.Interface, ns string) func() map[string]int32 {
	t.Helper()
	stop := WatchOutages(t, kc, ns)
	return func() map[string]int32 {
		out := map[string]int32{}
		for name, a := range stop() {
			out[name] = a.Min
		}
		return out
	}
}

// Availability is what a watch saw of one workload.
type Availability struct {
	Min     int32 // the fewest available replicas
	Outages int   // the intervals during which no replica was available
}

// WatchOutages is WatchAvailability that also counts, for each workload,
// the intervals its status showed no available replica: each drop to 0
// from above is one. It observes events, not time.
func WatchOutages(t testing.TB, kc kubernetes.Interface, ns string) func() map[string]Availability {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	seen := map[string]Availability{}
	last := map[string]int32{}
	record := func(name string, n int32) {
		mu.Lock()
		defer mu.Unlock()
		a, ok := seen[name]
		if !ok || n < a.Min {
			a.Min = n
		}
		if prev, had := last[name]; n == 0 && (!had || prev > 0) {
			a.Outages++
		}
		last[name], seen[name] = n, a
	}
	deps, err := kc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		record(d.Name, d.Status.AvailableReplicas)
	}
	sets, err := kc.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets.Items {
		record(s.Name, s.Status.AvailableReplicas)
	}
	dw, err := kc.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: deps.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := kc.AppsV1().StatefulSets(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: sets.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var early []string
	consume := func(w watch.Interface, kind string) {
		defer wg.Done()
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				continue
			}
			switch o := ev.Object.(type) {
			case *appsv1.Deployment:
				record(o.Name, o.Status.AvailableReplicas)
			case *appsv1.StatefulSet:
				record(o.Name, o.Status.AvailableReplicas)
			}
		}
		if ctx.Err() == nil {
			mu.Lock()
			early = append(early, kind)
			mu.Unlock()
		}
	}
	wg.Add(2)
	go consume(dw, "Deployments")
	go consume(sw, "StatefulSets")
	return func() map[string]Availability {
		cancel()
		dw.Stop()
		sw.Stop()
		wg.Wait()
		if len(early) > 0 {
			t.Errorf("the watch of %v ended early: availability may have dipped unseen", early)
		}
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]Availability, len(seen))
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
}

// OneReplicaStatefulSet makes the StatefulSet name of one replica on the
// shared pool, with a volume claim template bound to a volume made for it
// when volumes is set, and waits until it is available.
func OneReplicaStatefulSet(t testing.TB, kc kubernetes.Interface, ns, name string, volumes bool) {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"tierup.dev/pool": "shared"}, Containers: []corev1.Container{{Name: name, Image: "registry.example/" + name + ":1"}}}}}}
	if volumes {
		// A volume of its own for the claim (the test control plane has no
		// provisioner): its storage class names nothing else.
		class := ns
		gi := resource.MustParse("1Gi")
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: gi}, StorageClassName: class,
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns}}}}
		if _, err := kc.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = kc.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
		})
		s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, AccessModes: pv.Spec.AccessModes,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: gi}}}}}
		s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	}
	if _, err := kc.AppsV1().StatefulSets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, name+" to be available", func() (bool, error) {
		s, err := kc.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && s.Status.AvailableReplicas == 1, err
	})
}
