package kube_test

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
)

// podTemplate is a minimal pod template labelled app=name.
func podTemplate(name string, edit func(*corev1.PodSpec)) corev1.PodTemplateSpec {
	s := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}
	if edit != nil {
		edit(&s)
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: s}
}

func deploy(t *testing.T, kc kubernetes.Interface, ns, name string, edit func(*corev1.PodSpec)) {
	t.Helper()
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{Replicas: &one,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: podTemplate(name, edit)}}
	if _, err := kc.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// zonedClaim makes a PersistentVolume pinned to zone and a claim bound to
// it, as a cloud's zonal disk is.
func zonedClaim(t *testing.T, kc kubernetes.Interface, ns, claim, zone string) {
	t.Helper()
	ctx := context.Background()
	pvName := ns + "-" + claim
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pvName}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "disk.example.com", VolumeHandle: pvName}},
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}}}}},
		ClaimRef: &corev1.ObjectReference{Namespace: ns, Name: claim},
	}}
	if _, err := kc.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kc.CoreV1().PersistentVolumes().Delete(context.Background(), pvName, metav1.DeleteOptions{})
	})
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeName: pvName, StorageClassName: &empty,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if _, err := kc.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// statefulDB is a 1-replica StatefulSet whose claim template makes
// data-<name>-0.
func statefulDB(t *testing.T, kc kubernetes.Interface, ns, name string) {
	t.Helper()
	one := int32(1)
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: name,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: podTemplate(name, nil),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}}
	if _, err := kc.AppsV1().StatefulSets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPreflight puts each kind of workload that cannot move into an
// account's namespace and checks, as tierup's own ServiceAccount, what the
// pre-flight finds — and that a volume's zone is what the node is asked in.
func TestPreflight(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	sa := kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml")
	tests := []struct {
		name  string
		setup func(t *testing.T, ns string)
		codes map[string]tierup.PreflightCode // workload → problem
		zone  string
	}{
		{"the acceptance workloads can move", func(t *testing.T, ns string) { kubetest.Workloads(t, kc, ns) }, nil, ""},
		{"hostPath volume", func(t *testing.T, ns string) {
			deploy(t, kc, ns, "logs", func(s *corev1.PodSpec) {
				s.Volumes = []corev1.Volume{{Name: "var", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log/app"}}}}
			})
		}, map[string]tierup.PreflightCode{"Deployment/logs": tierup.PreflightHostPath}, ""},
		{"required affinity to a shared node", func(t *testing.T, ns string) {
			deploy(t, kc, ns, "pinned", func(s *corev1.PodSpec) {
				s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname,
						Operator: corev1.NodeSelectorOpIn, Values: []string{kubetest.SharedNodes[0]}}}}}}}}
			})
			deploy(t, kc, ns, "ssd", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"disktype": "ssd"} })
		}, map[string]tierup.PreflightCode{"Deployment/pinned": tierup.PreflightNodeAffinity, "Deployment/ssd": tierup.PreflightNodeAffinity}, ""},
		{"a pod larger than a dedicated node", func(t *testing.T, ns string) {
			deploy(t, kc, ns, "huge", func(s *corev1.PodSpec) {
				s.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}
			})
		}, map[string]tierup.PreflightCode{"Deployment/huge": tierup.PreflightTooLarge}, ""},
		{"a volume pinned to a zone asks for the node there", func(t *testing.T, ns string) {
			zonedClaim(t, kc, ns, "data-db-0", "zone-b") // first, as the StatefulSet controller would make its own
			statefulDB(t, kc, ns, "db")
		}, nil, "zone-b"},
		{"volumes in two zones", func(t *testing.T, ns string) {
			zonedClaim(t, kc, ns, "data-db-0", "zone-a")
			statefulDB(t, kc, ns, "db")
			deploy(t, kc, ns, "files", func(s *corev1.PodSpec) {
				s.Volumes = []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "files"}}}}
			})
			zonedClaim(t, kc, ns, "files", "zone-b")
		}, map[string]tierup.PreflightCode{"StatefulSet/db": tierup.PreflightZoneConflict, "Deployment/files": tierup.PreflightZoneConflict}, ""},
	}
	ctx := context.Background()
	c := newCluster(t, sa, kube.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kubetest.EnsureSharedNodes(t, kc)
			acct := kubetest.AccountID()
			ns := kubetest.Namespace(t, kc, acct)
			tt.setup(t, ns)
			pf, err := c.Preflight(ctx, acct, proPlan(t))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]tierup.PreflightCode{}
			for _, p := range pf.Problems {
				got[p.Workload] = p.Code
				if p.Message == "" {
					t.Errorf("%s: no message", p.Workload)
				}
			}
			if len(got) != len(tt.codes) || pf.OK != (len(tt.codes) == 0) || !pf.Checked || pf.Zone != tt.zone {
				t.Fatalf("pre-flight %+v; want problems %v, zone %q", pf, tt.codes, tt.zone)
			}
			for w, code := range tt.codes {
				if got[w] != code {
					t.Errorf("%s: %s, want %s (%+v)", w, got[w], code, pf.Problems)
				}
			}
			if pf.Err() != nil && tierup.ErrorCode(pf.Err()) != tierup.CodeMigrationNotPossible {
				t.Errorf("Err = %v", pf.Err())
			}
			if tt.zone == "" {
				return
			}
			node, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_zone:node", AccountID: acct, Plan: proPlan(t), Zone: pf.Zone})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
			n, err := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil || n.Labels[corev1.LabelTopologyZone] != tt.zone {
				t.Errorf("the dedicated node's zone: %v, %v", n.Labels, err)
			}
		})
	}
}

// TestPreflightUnreachable: a cluster that does not answer is an error,
// not a problem, so the upgrade pauses instead of being refused.
func TestPreflightUnreachable(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	acct, _ := accountNamespace(t, kc)
	proxy, prc := kubetest.NewProxy(t, rc)
	c := newCluster(t, prc, kube.Config{})
	proxy.Cut()
	if _, err := c.Preflight(context.Background(), acct, proPlan(t)); tierup.ErrorCode(err) != tierup.CodeClusterUnreachable {
		t.Fatalf("Preflight with the API server cut off = %v, want cluster_unreachable", err)
	}
	proxy.Restore(t)
	if pf, err := c.Preflight(context.Background(), acct, proPlan(t)); err != nil || !pf.OK || !slices.Equal(pf.Problems, []tierup.PreflightProblem{}) {
		t.Fatalf("Preflight after the cut = %+v, %v", pf, err)
	}
}
