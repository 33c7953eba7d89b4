package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/internal/testbin"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// chartPath is the chart as the README's commands name it, from the
// repository's root, where helm runs.
const chartPath = "deploy/helm/tierup"

func helmBin(t testing.TB) string {
	t.Helper()
	return testbin.Find(t, testbin.Tool{Name: "helm", Env: "HELM_BIN", Require: "TIERUP_TEST_REQUIRE_HELM",
		Hint: "go install helm.sh/helm/v4/cmd/helm@v4.3.1"})
}

// helm runs helm in the repository's root and returns its stdout, or its
// stderr as the error.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Dir = ".."
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// objects are the rendered manifests, in helm's order.
type objects []*unstructured.Unstructured

func decodeObjects(t testing.TB, manifest string) objects {
	t.Helper()
	var out objects
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding the rendered manifests: %v", err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// render is `helm template RELEASE chart --namespace NS args…`.
func render(t testing.TB, release, ns string, args ...string) (objects, error) {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartPath, "--namespace", ns}, args...)...)
	if err != nil {
		return nil, err
	}
	return decodeObjects(t, out), nil
}

func (o objects) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range o {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

// one converts the only object of the kind into v, or fails.
func (o objects) one(t testing.TB, kind string, v any) {
	t.Helper()
	got := o.ofKind(kind)
	if len(got) != 1 {
		t.Fatalf("%d objects of kind %s rendered, want 1", len(got), kind)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(got[0].Object, v, true); err != nil {
		t.Fatalf("%s %s: %v", kind, got[0].GetName(), err)
	}
}

// manifestObject decodes the object of the kind in a multi-document file of
// this directory (deploy/rbac.yaml) into v.
func manifestObject(t testing.TB, path, kind string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o := decodeObjects(t, string(b))
	o.one(t, kind, v)
}

// want is what one rendering must hold.
type want struct {
	postgres bool
	replicas int32
	// secret is the Secret the pods read; chartSecret says the chart makes
	// it.
	secret      string
	chartSecret bool
	// secretEnv maps each environment variable read from the Secret to its
	// key; optional says those refs (but the database URL) may be missing.
	secretEnv map[string]string
	optional  bool
	// keyFile is the Secret's key mounted as the master secret file, "" for
	// none.
	keyFile string
	// catalog is the catalog ConfigMap and its key, "" for none.
	catalog, catalogKey string
	// The monitoring objects: a ServiceMonitor, a PrometheusRule, the
	// Grafana dashboard's ConfigMap.
	serviceMonitor, prometheusRule, grafana bool
	// noRBAC: the simulated cluster, no ClusterRole and no token.
	noRBAC bool
	env    map[string]string // plain environment variables
}

func TestChart(t *testing.T) {
	readme := readmeDeploy(t)
	if len(readme.installs) != 2 {
		t.Fatalf("the README's Deploy section has %d helm install commands, want 2 (SQLite, PostgreSQL): %q", len(readme.installs), readme.installs)
	}
	readmeSecret := readme.secrets["tierup"]
	cases := []struct {
		name    string
		release string
		ns      string
		args    []string
		// readme: the README's command, whose kubectl create secret must
		// give every key the pods read.
		readme bool
		want   want
	}{
		{name: "sqlite defaults", release: "tierup", ns: "tierup-system",
			want: want{replicas: 1, env: map[string]string{"TIERUP_SANDBOX": "false", "TIERUP_DEMO": "false", "TIERUP_CLUSTER": "kube",
				"TIERUP_PAYMENT_GATEWAY": "sandbox", "TIERUP_LOG_FORMAT": "json", "TIERUP_SHUTDOWN_DELAY": "5s", "TIERUP_SHUTDOWN_TIMEOUT": "25s"}}},
		{name: "sqlite with the chart's Secret and a catalog", release: "billing", ns: "payments",
			args: []string{"-f", chartPath + "/ci/sqlite-secrets-values.yaml", "--set-file", "catalog.content=catalog.json"},
			want: want{replicas: 1, secret: "billing-tierup", chartSecret: true, keyFile: "secret-key",
				secretEnv: map[string]string{"TIERUP_ADMIN_TOKEN": "admin-token", "TIERUP_SMTP_PASSWORD": "smtp-password"},
				catalog:   "billing-tierup-catalog", catalogKey: "catalog.json",
				env: map[string]string{"TIERUP_SMTP_ADDR": "smtp.example.com:587", "TIERUP_SMTP_USERNAME": "tierup"}}},
		{name: "postgres with the chart's Secret and monitoring", release: "tierup", ns: "tierup-system",
			args: []string{"-f", chartPath + "/ci/postgres-values.yaml"},
			want: want{postgres: true, replicas: 3, secret: "tierup", chartSecret: true, keyFile: "secret-key",
				secretEnv: map[string]string{"TIERUP_DB": "database-url", "TIERUP_ADMIN_TOKEN": "admin-token",
					"TIERUP_STRIPE_SECRET_KEY": "stripe-secret-key", "TIERUP_STRIPE_WEBHOOK_SECRET": "stripe-webhook-secret"},
				serviceMonitor: true, prometheusRule: true, grafana: true,
				env: map[string]string{"TIERUP_PAYMENT_GATEWAY": "stripe", "TIERUP_RETRY_ATTEMPTS": "8",
					"TIERUP_SHUTDOWN_DELAY": "10s", "TIERUP_SHUTDOWN_TIMEOUT": "40s"}}},
		{name: "postgres with existing Secret and ConfigMap", release: "tierup", ns: "tierup-system",
			args: []string{"-f", chartPath + "/ci/postgres-existing-values.yaml"},
			want: want{postgres: true, replicas: 2, secret: "tierup-prod", optional: true, keyFile: "master",
				secretEnv: map[string]string{"TIERUP_DB": "url", "TIERUP_ADMIN_TOKEN": "admin",
					"TIERUP_STRIPE_SECRET_KEY": "stripe-secret-key", "TIERUP_STRIPE_WEBHOOK_SECRET": "stripe-webhook-secret"},
				catalog: "tierup-plans", catalogKey: "plans.json", serviceMonitor: true}},
		{name: "sqlite on the simulated cluster", release: "tierup", ns: "tierup-system", args: []string{"--set", "config.cluster=sim"},
			want: want{replicas: 1, noRBAC: true, env: map[string]string{"TIERUP_CLUSTER": "sim"}}},
		{name: "README: SQLite", release: readme.installs[0].release, ns: readme.installs[0].namespace, args: readme.installs[0].args, readme: true,
			want: want{replicas: 1}},
		{name: "README: PostgreSQL", release: readme.installs[1].release, ns: readme.installs[1].namespace, args: readme.installs[1].args, readme: true,
			want: want{postgres: true, replicas: 3, secret: "tierup", optional: true, keyFile: "secret-key",
				secretEnv: map[string]string{"TIERUP_DB": "database-url", "TIERUP_ADMIN_TOKEN": "admin-token",
					"TIERUP_STRIPE_SECRET_KEY": "stripe-secret-key", "TIERUP_STRIPE_WEBHOOK_SECRET": "stripe-webhook-secret",
					"TIERUP_SMTP_PASSWORD": "smtp-password"},
				serviceMonitor: true, prometheusRule: true,
				env: map[string]string{"TIERUP_PAYMENT_GATEWAY": "stripe", "TIERUP_KUBE_PROVISIONER": "karpenter"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if out, err := helm(t, append([]string{"lint", "--strict", chartPath, "--namespace", c.ns}, c.args...)...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			objs, err := render(t, c.release, c.ns, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			checkChart(t, objs, c.release, c.ns, c.want)
			checkNotes(t, objs, c.release, c.ns, c.args)
			if c.readme && c.want.secret != "" {
				for _, key := range secretKeysRead(objs, c.want.secret) {
					if !readmeSecret[key] {
						t.Errorf("the pods read key %s of Secret %s, which the README's kubectl create secret does not give (it gives %v)", key, c.want.secret, readmeSecret)
					}
				}
			}
			t.Run("server-side dry run", func(t *testing.T) { dryRun(t, c.args) })
		})
	}
}

// checkChart asserts what every rendering holds, and what w says.
func checkChart(t *testing.T, objs objects, release, ns string, w want) {
	name := release
	if !strings.Contains(release, "tierup") {
		name = release + "-tierup"
	}
	chartVersion := chartField(t, "version")
	selector := map[string]string{"app.kubernetes.io/name": "tierup", "app.kubernetes.io/instance": release}
	for _, o := range objs {
		labels := o.GetLabels()
		for k, v := range selector {
			if labels[k] != v {
				t.Errorf("%s %s: label %s=%q, want %q", o.GetKind(), o.GetName(), k, labels[k], v)
			}
		}
		if labels["helm.sh/chart"] != "tierup-"+chartVersion || labels["app.kubernetes.io/managed-by"] != "Helm" || labels["app.kubernetes.io/version"] == "" {
			t.Errorf("%s %s: labels %v lack Helm's standard ones", o.GetKind(), o.GetName(), labels)
		}
	}

	var d appsv1.Deployment
	objs.one(t, "Deployment", &d)
	if d.Name != name || d.Spec.Replicas == nil || *d.Spec.Replicas != w.replicas {
		t.Errorf("Deployment %s with %v replicas, want %s with %d", d.Name, d.Spec.Replicas, name, w.replicas)
	}
	if !reflect.DeepEqual(d.Spec.Selector.MatchLabels, selector) {
		t.Errorf("Deployment selects %v, want %v", d.Spec.Selector.MatchLabels, selector)
	}
	for k, v := range selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("pod label %s=%q, want %q", k, d.Spec.Template.Labels[k], v)
		}
	}
	switch s := d.Spec.Strategy; {
	case w.postgres && (s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 0):
		t.Errorf("PostgreSQL mode: strategy %+v, want RollingUpdate with maxUnavailable 0", s)
	case !w.postgres && s.Type != appsv1.RecreateDeploymentStrategyType:
		t.Errorf("SQLite mode: strategy %s, want Recreate", s.Type)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	checkProbes(t, ctr)
	checkSecurity(t, pod)
	if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", ctr.Resources)
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range ctr.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("environment variable %s set twice", e.Name)
		}
		env[e.Name] = e
	}
	for k, v := range w.env {
		if env[k].Value != v {
			t.Errorf("%s=%q, want %q", k, env[k].Value, v)
		}
	}
	if env["TIERUP_ADDR"].Value != ":8080" || len(ctr.Ports) != 1 || ctr.Ports[0].ContainerPort != 8080 || ctr.Ports[0].Name != "http" {
		t.Errorf("TIERUP_ADDR %q, ports %+v: want :8080, port http 8080", env["TIERUP_ADDR"].Value, ctr.Ports)
	}
	checkGracePeriod(t, pod, env)
	// The secret environment: exactly the expected refs.
	for n, e := range env {
		if e.ValueFrom == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		key, ok := w.secretEnv[n]
		switch {
		case ref == nil:
			t.Errorf("%s from %+v, want only Secret refs", n, e.ValueFrom)
		case !ok:
			t.Errorf("%s read from Secret %s key %s, want it unset", n, ref.Name, ref.Key)
		case ref.Name != w.secret || ref.Key != key:
			t.Errorf("%s read from Secret %s key %s, want %s key %s", n, ref.Name, ref.Key, w.secret, key)
		case (ref.Optional != nil && *ref.Optional) != (w.optional && n != "TIERUP_DB"):
			t.Errorf("%s: optional %v, want %v", n, ref.Optional, w.optional && n != "TIERUP_DB")
		}
	}
	for n := range w.secretEnv {
		if env[n].ValueFrom == nil {
			t.Errorf("%s is not read from the Secret", n)
		}
	}

	mounts := map[string]corev1.VolumeMount{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = m
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	if v := volumes[mounts["/tmp"].Name]; v.EmptyDir == nil {
		t.Errorf("/tmp is %+v, want an emptyDir (the root filesystem is read-only)", v)
	}

	// The database: a claim at /data (SQLite) or the Secret's URL.
	pvcs := objs.ofKind("PersistentVolumeClaim")
	data := volumes[mounts["/data"].Name]
	if w.postgres {
		if len(pvcs) != 0 || mounts["/data"].Name != "" {
			t.Errorf("PostgreSQL mode: %d claims, /data mounted from %q; want none", len(pvcs), mounts["/data"].Name)
		}
		if env["TIERUP_DB"].ValueFrom == nil {
			t.Error("PostgreSQL mode: TIERUP_DB is not read from the Secret")
		}
	} else {
		var pvc corev1.PersistentVolumeClaim
		objs.one(t, "PersistentVolumeClaim", &pvc)
		if data.PersistentVolumeClaim == nil || data.PersistentVolumeClaim.ClaimName != pvc.Name || pvc.Name != name+"-data" {
			t.Errorf("SQLite mode: /data from %+v, claim %s; want the claim %s-data", data, pvc.Name, name)
		}
		if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("the data claim is not kept by helm uninstall: %v", pvc.Annotations)
		}
		if env["TIERUP_DB"].Value != "sqlite:/data/tierup-data/tierup.db" {
			t.Errorf("SQLite mode: TIERUP_DB=%q, want the database on the volume", env["TIERUP_DB"].Value)
		}
	}

	// The master secret: a file from the Secret, or (SQLite) on the volume.
	keyMount := mounts["/etc/tierup/secret"]
	if w.keyFile == "" {
		if keyMount.Name != "" || env["TIERUP_SECRET_KEY_FILE"].Value != "" {
			t.Errorf("the master secret is mounted (%+v), want it made on the volume", keyMount)
		}
	} else {
		sv := volumes[keyMount.Name].Secret
		if env["TIERUP_SECRET_KEY_FILE"].Value != "/etc/tierup/secret/secret-key" || !keyMount.ReadOnly || sv == nil ||
			sv.SecretName != w.secret || len(sv.Items) != 1 || sv.Items[0].Key != w.keyFile || sv.Items[0].Path != "secret-key" {
			t.Errorf("master secret file %q from %+v mounted %+v; want Secret %s key %s at /etc/tierup/secret/secret-key",
				env["TIERUP_SECRET_KEY_FILE"].Value, sv, keyMount, w.secret, w.keyFile)
		}
	}

	// The chart's Secret holds exactly the keys the pods read.
	secrets := objs.ofKind("Secret")
	if !w.chartSecret {
		if len(secrets) != 0 {
			t.Errorf("%d Secrets rendered, want none", len(secrets))
		}
	} else {
		var s corev1.Secret
		objs.one(t, "Secret", &s)
		var keys []string
		for k := range s.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if read := secretKeysRead(objs, w.secret); s.Name != w.secret || !slices.Equal(keys, read) {
			t.Errorf("Secret %s holds %v, the pods read %v from %s", s.Name, keys, read, w.secret)
		}
		if d.Spec.Template.Annotations["checksum/secret"] == "" {
			t.Error("no checksum/secret annotation: a changed Secret would not restart the pods")
		}
	}

	// The catalog override.
	cv := volumes[mounts["/etc/tierup/catalog"].Name].ConfigMap
	if w.catalog == "" {
		if cv != nil || env["TIERUP_CATALOG"].Value != "" {
			t.Errorf("catalog from %+v, want none", cv)
		}
	} else {
		if cv == nil || cv.Name != w.catalog || env["TIERUP_CATALOG"].Value != "/etc/tierup/catalog/"+w.catalogKey {
			t.Errorf("catalog %q from %+v, want ConfigMap %s key %s", env["TIERUP_CATALOG"].Value, cv, w.catalog, w.catalogKey)
		}
		for _, cm := range objs.ofKind("ConfigMap") {
			if cm.GetName() != w.catalog {
				continue
			}
			got, _, _ := unstructured.NestedString(cm.Object, "data", w.catalogKey)
			if want := readFile(t, "../catalog.json"); got != want {
				t.Errorf("ConfigMap %s's %s differs from catalog.json", w.catalog, w.catalogKey)
			}
		}
	}

	var svc corev1.Service
	objs.one(t, "Service", &svc)
	if svc.Name != name || !reflect.DeepEqual(svc.Spec.Selector, selector) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service %s selects %v, ports %+v; want %s selecting the pods, port http", svc.Name, svc.Spec.Selector, svc.Spec.Ports, name)
	}

	pdbs := objs.ofKind("PodDisruptionBudget")
	if w.postgres {
		var pdb policyv1.PodDisruptionBudget
		objs.one(t, "PodDisruptionBudget", &pdb)
		if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, selector) || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("PodDisruptionBudget %+v, want maxUnavailable 1 over the pods", pdb.Spec)
		}
	} else if len(pdbs) != 0 {
		t.Errorf("SQLite mode: %d PodDisruptionBudgets, want none (one replica)", len(pdbs))
	}

	if w.noRBAC {
		if n := len(objs.ofKind("ClusterRole")) + len(objs.ofKind("ClusterRoleBinding")); n != 0 || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("the simulated cluster: %d RBAC objects, token mounted %v; want none", n, pod.AutomountServiceAccountToken)
		}
	} else {
		checkRBAC(t, objs, name, ns, pod)
	}
	checkMonitoring(t, objs, w, env)
}

// checkNotes renders the install's notes (helm template leaves them out):
// they say how to run the doctor, and warn when nothing is charged.
func checkNotes(t *testing.T, objs objects, release, ns string, args []string) {
	t.Helper()
	out, err := helm(t, append([]string{"install", "--dry-run=client", release, chartPath, "--namespace", ns}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	_, notes, ok := strings.Cut(out, "\nNOTES:\n")
	if !ok {
		t.Fatalf("no NOTES in:\n%s", out)
	}
	var d appsv1.Deployment
	objs.one(t, "Deployment", &d)
	sandbox := slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool {
		return e.Name == "TIERUP_PAYMENT_GATEWAY" && e.Value == "sandbox"
	})
	if !strings.Contains(notes, "exec deploy/"+d.Name+" -- /tierup doctor") {
		t.Errorf("the notes do not say how to run tierup doctor:\n%s", notes)
	}
	if warned := strings.Contains(notes, "nothing is charged"); warned != sandbox {
		t.Errorf("sandbox gateway %v, the notes warn that nothing is charged: %v", sandbox, warned)
	}
}

func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v, want GET %s on port http", p.what, p.probe, p.path)
		}
	}
}

func checkSecurity(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	sc := pod.Containers[0].SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext %+v: want runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, drop ALL, seccomp RuntimeDefault", sc)
	}
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsUser == nil || *ps.RunAsUser != 65532 || ps.FSGroup == nil || *ps.FSGroup != 65532 {
		t.Errorf("pod securityContext %+v: want the image's user 65532 and fsGroup 65532", ps)
	}
}

// checkGracePeriod asserts that the kubelet waits out tierup's shutdown.
func checkGracePeriod(t *testing.T, pod corev1.PodSpec, env map[string]corev1.EnvVar) {
	t.Helper()
	delay, err1 := time.ParseDuration(env["TIERUP_SHUTDOWN_DELAY"].Value)
	timeout, err2 := time.ParseDuration(env["TIERUP_SHUTDOWN_TIMEOUT"].Value)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("shutdown environment: %v", err)
	}
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v, want more than the shutdown's delay %v + timeout %v", pod.TerminationGracePeriodSeconds, delay, timeout)
	}
}

// checkRBAC asserts that the chart grants deploy/rbac.yaml's rules to the
// pods' ServiceAccount, under deploy/rbac.yaml's names for release tierup in
// tierup-system.
func checkRBAC(t *testing.T, objs objects, name, ns string, pod corev1.PodSpec) {
	t.Helper()
	var want rbacv1.ClusterRole
	var wantSA corev1.ServiceAccount
	var wantBinding rbacv1.ClusterRoleBinding
	manifestObject(t, "rbac.yaml", "ClusterRole", &want)
	manifestObject(t, "rbac.yaml", "ServiceAccount", &wantSA)
	manifestObject(t, "rbac.yaml", "ClusterRoleBinding", &wantBinding)

	var sa corev1.ServiceAccount
	var role rbacv1.ClusterRole
	var binding rbacv1.ClusterRoleBinding
	objs.one(t, "ServiceAccount", &sa)
	objs.one(t, "ClusterRole", &role)
	objs.one(t, "ClusterRoleBinding", &binding)
	if pod.ServiceAccountName != sa.Name || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Errorf("the pods run as %q (token mounted: %v), want ServiceAccount %s with its token", pod.ServiceAccountName, pod.AutomountServiceAccountToken, sa.Name)
	}
	if !reflect.DeepEqual(role.Rules, want.Rules) {
		t.Errorf("the chart's ClusterRole rules differ from deploy/rbac.yaml's:\n got %+v\nwant %+v", role.Rules, want.Rules)
	}
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns}}
	if binding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}) || !reflect.DeepEqual(binding.Subjects, subject) {
		t.Errorf("ClusterRoleBinding %+v → %+v, want ClusterRole %s → %+v", binding.RoleRef, binding.Subjects, role.Name, subject)
	}
	if name == "tierup" && ns == wantSA.Namespace &&
		(sa.Name != wantSA.Name || role.Name != want.Name || binding.Name != wantBinding.Name || !reflect.DeepEqual(binding.Subjects, wantBinding.Subjects)) {
		t.Errorf("release tierup in %s names ServiceAccount %s, ClusterRole %s, binding %s → %+v; deploy/rbac.yaml: %s, %s, %s → %+v",
			ns, sa.Name, role.Name, binding.Name, binding.Subjects, wantSA.Name, want.Name, wantBinding.Name, wantBinding.Subjects)
	}
}

// checkMonitoring asserts that the ServiceMonitor scrapes with the admin token
// the pods use, and that the PrometheusRule and the dashboard are
// deploy/prometheus/alerts.yaml's and deploy/grafana/tierup.json.
func checkMonitoring(t *testing.T, objs objects, w want, env map[string]corev1.EnvVar) {
	t.Helper()
	sms, rules := objs.ofKind("ServiceMonitor"), objs.ofKind("PrometheusRule")
	if n := count(w.serviceMonitor); len(sms) != n {
		t.Fatalf("%d ServiceMonitors, want %d", len(sms), n)
	}
	if n := count(w.prometheusRule); len(rules) != n {
		t.Fatalf("%d PrometheusRules, want %d", len(rules), n)
	}
	if w.serviceMonitor {
		eps, _, _ := unstructured.NestedSlice(sms[0].Object, "spec", "endpoints")
		if len(eps) != 1 {
			t.Fatalf("ServiceMonitor endpoints %v, want one", eps)
		}
		ep, _ := eps[0].(map[string]any)
		admin := env["TIERUP_ADMIN_TOKEN"].ValueFrom
		credName, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "name")
		credKey, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "key")
		authType, _, _ := unstructured.NestedString(ep, "authorization", "type")
		if ep["port"] != "http" || ep["path"] != "/metrics" || authType != "Bearer" || admin == nil || admin.SecretKeyRef == nil ||
			credName != admin.SecretKeyRef.Name || credKey != admin.SecretKeyRef.Key {
			t.Errorf("ServiceMonitor endpoint %v, want port http, /metrics, the admin token's Secret key as Bearer credentials (%+v)", ep, admin)
		}
	}
	if w.prometheusRule {
		spec, _, _ := unstructured.NestedMap(rules[0].Object, "spec")
		var alerts map[string]any
		if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/alerts.yaml")), &alerts); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(spec, alerts) {
			t.Errorf("the PrometheusRule's spec differs from deploy/prometheus/alerts.yaml:\n got %v\nwant %v", spec, alerts)
		}
	}
	var dashboard string
	for _, cm := range objs.ofKind("ConfigMap") {
		if s, ok, _ := unstructured.NestedString(cm.Object, "data", "tierup.json"); ok {
			dashboard = s
		}
	}
	if w.grafana && dashboard != readFile(t, "grafana/tierup.json") {
		t.Error("no dashboard ConfigMap holding deploy/grafana/tierup.json")
	}
	if !w.grafana && dashboard != "" {
		t.Error("a dashboard ConfigMap, want none")
	}
}

// count is how many objects a rendering wants of a kind it renders once or not.
func count(rendered bool) int {
	if rendered {
		return 1
	}
	return 0
}

// secretKeysRead lists the keys of Secret name that the rendered objects
// read, sorted.
func secretKeysRead(objs objects, name string) []string {
	var keys []string
	add := func(secret, key string) {
		if secret == name && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	for _, u := range objs.ofKind("Deployment") {
		var d appsv1.Deployment
		if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d) != nil {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				for _, it := range v.Secret.Items {
					add(v.Secret.SecretName, it.Key)
				}
			}
		}
	}
	for _, sm := range objs.ofKind("ServiceMonitor") {
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		for _, ep := range eps {
			m, _ := ep.(map[string]any)
			n, _, _ := unstructured.NestedString(m, "authorization", "credentials", "name")
			k, _, _ := unstructured.NestedString(m, "authorization", "credentials", "key")
			add(n, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// The chart refuses what cannot run, with a message that says what to give.
func TestChartRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"postgres without a database URL", []string{"--set", "database.driver=postgres", "--set", "secrets.secretKey=k"}, "needs the database URL"},
		{"postgres without a master secret", []string{"--set", "database.driver=postgres", "--set", "secrets.databaseURL=postgres://db/tierup"}, "needs the master secret"},
		{"postgres with an existing Secret lacking the master secret", []string{"--set", "database.driver=postgres", "--set", "secrets.existingSecret=mine",
			"--set", "secrets.keys.secretKey="}, "needs the master secret"},
		{"a ServiceMonitor without the admin token", []string{"--set", "metrics.serviceMonitor.enabled=true"}, "needs the admin token"},
		{"a catalog twice", []string{"--set", "catalog.content=x", "--set", "catalog.existingConfigMap=plans"}, "not both"},
		{"the database as a flag", []string{"--set", "config.db=sqlite:x.db"}, "/config/db"},
		{"a secret as a flag", []string{"--set", "config.admin-token=x"}, "/config/admin-token"},
		{"a misspelt flag", []string{"--set", "config.kube-provisoner=karpenter"}, "kube-provisoner"},
		{"a flag of the wrong type", []string{"--set", "config.retry-attempts=many"}, "/config/retry-attempts"},
		{"an unknown driver", []string{"--set", "database.driver=mysql"}, "/database/driver"},
		{"an unknown value", []string{"--set", "replicas=3"}, "replicas"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, "tierup", "tierup-system", c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template %v: %v, want an error saying %q", c.args, err, c.want)
			}
		})
	}
}

// The chart can read only files inside its own directory, so it carries
// copies of the manifests beside it (see deploy.go's go:generate).
func TestChartFilesAreCopies(t *testing.T) {
	for _, src := range []string{"rbac.yaml", "prometheus/alerts.yaml", "grafana/tierup.json"} {
		cp := filepath.Join("helm/tierup/files", filepath.Base(src))
		if readFile(t, src) != readFile(t, cp) {
			t.Errorf("%s differs from %s: run go generate ./deploy", cp, src)
		}
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func chartField(t testing.TB, field string) string {
	t.Helper()
	var chart map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, "helm/tierup/Chart.yaml")), &chart); err != nil {
		t.Fatal(err)
	}
	s, _ := chart[field].(string)
	return s
}

// warnings collects the API server's warnings (Pod Security's among them).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// dryRun renders the chart into a namespace of the test's own, enforcing the
// restricted Pod Security Standard, and creates every object with a
// server-side dry run and strict field validation, so that the API server
// validates each one (schemas, CRDs, admission) without storing it. The
// release is named after the namespace, so that its cluster-scoped objects
// meet no others.
func dryRun(t *testing.T, args []string) {
	rc := rest.CopyConfig(kubetest.Config(t))
	warn := &warnings{}
	rc.WarningHandler = warn
	kubetest.InstallCRDs(t, rc, kubetest.PrometheusCRDs(t))
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)

	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "tierup-helm-" + hex.EncodeToString(b)
	// The namespace is real (a dry-run one could hold nothing), and deleted
	// with whatever is left in it.
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": map[string]any{
			"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}}}
	nsRes := dyn.Resource(corev1.SchemeGroupVersion.WithResource("namespaces"))
	if _, err := nsRes.Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsRes.Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	objs, err := render(t, ns, ns, args...)
	if err != nil {
		t.Fatal(err)
	}
	create := func(u *unstructured.Unstructured) error {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		_, err = ri.Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
		return err
	}
	warn.take()
	for _, u := range objs {
		if err := create(u); err != nil {
			t.Errorf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if w := warn.take(); len(w) > 0 {
			t.Errorf("%s %s: the API server warns: %q", u.GetKind(), u.GetName(), w)
		}
	}

	// The warnings above are Pod Security's verdict: a pod template it
	// refuses must draw one here, or their absence proves nothing.
	for _, u := range objs.ofKind("Deployment") {
		bad := u.DeepCopy()
		ctrs, _, _ := unstructured.NestedSlice(bad.Object, "spec", "template", "spec", "containers")
		c, _ := ctrs[0].(map[string]any)
		c["securityContext"] = map[string]any{"privileged": true}
		ctrs[0] = c
		if err := unstructured.SetNestedSlice(bad.Object, ctrs, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		if err := create(bad); err != nil {
			t.Fatal(err)
		}
		if w := warn.take(); !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "restricted") }) {
			t.Errorf("a privileged container drew no Pod Security warning (%q): the check above is blind", w)
		}
	}
}
