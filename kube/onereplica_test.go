package kube_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/kubetest"
	"github.com/tierup/tierup/kube"
)

// TestOneReplica moves single-replica workloads, watching their
// availability from outside. Eviction does not surge (kubernetes#90977),
// so tierup never evicts: a Deployment of 1 with a PodDisruptionBudget of
// minAvailable 1 rolls surge-first and is never at 0 available; a
// StatefulSet of 1 without volume claims moves through an extra replica
// and keeps serving. A StatefulSet of 1 with volume claims cannot do
// either (its pod's name and volumes are its own): its pod restarts on the
// dedicated node, and the plan says so before anything moves.
func TestOneReplica(t *testing.T) {
	rc := kubetest.Config(t)
	kc := kubetest.Client(t)
	sa := kubetest.ServiceAccountConfig(t, rc, "../deploy/rbac.yaml")
	for _, tc := range []struct {
		name         string
		make         func(t *testing.T, kc kubernetes.Interface, ns string) tierup.Workload
		interruption bool // announced by the plan and seen by the watch
	}{
		{"Deployment with minAvailable 1", oneDeployment, false},
		{"StatefulSet without volumes", func(t *testing.T, kc kubernetes.Interface, ns string) tierup.Workload {
			kubetest.OneReplicaStatefulSet(t, kc, ns, "solo", false)
			return tierup.Workload{Kind: "StatefulSet", Name: "solo", Replicas: 1}
		}, false},
		{"StatefulSet with volumes", func(t *testing.T, kc kubernetes.Interface, ns string) tierup.Workload {
			kubetest.OneReplicaStatefulSet(t, kc, ns, "solo", true)
			return tierup.Workload{Kind: "StatefulSet", Name: "solo", Replicas: 1}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			kubetest.EnsureSharedNodes(t, kc)
			acct := kubetest.AccountID()
			ns := kubetest.Namespace(t, kc, acct)
			w := tc.make(t, kc, ns)
			c := newCluster(t, sa, kube.Config{})

			plan, err := c.PlanMigration(ctx, acct)
			if err != nil || len(plan) != 1 {
				t.Fatalf("plan = %+v, %v; want one move", plan, err)
			}
			if tc.interruption {
				want := "StatefulSet " + w.Name + " has 1 replica: it is unavailable for about the time its pod takes to restart on the dedicated node"
				if !strings.HasPrefix(plan[0].Interruption, want) {
					t.Errorf("plan's interruption = %q, want it to start %q", plan[0].Interruption, want)
				}
			} else if plan[0].Interruption != "" {
				t.Errorf("plan's interruption = %q, want none", plan[0].Interruption)
			}

			node, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_one:" + acct + ":node", AccountID: acct, Plan: proPlan(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = kc.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{}) })
			stop := kubetest.WatchOutages(t, kc, ns)
			report, err := c.MigrateWorkload(ctx, acct, w, []tierup.Node{*node})
			if err != nil {
				t.Fatal(err)
			}
			seen := stop()[w.Name]
			if !slices.Equal(report.Notes, plan[0].Changes) {
				t.Errorf("report notes %q, plan said %q", report.Notes, plan[0].Changes)
			}
			if tc.interruption {
				// Observed, not timed: the StatefulSet's status showed no
				// available replica while its one pod restarted.
				if seen.Outages != 1 || report.MinAvailable != 0 {
					t.Errorf("%d intervals at 0 available (report: %d at the lowest), want the one the plan announced", seen.Outages, report.MinAvailable)
				}
			} else if seen.Outages != 0 || seen.Min < 1 || report.MinAvailable < 1 {
				t.Errorf("%d intervals at 0 available, %d at the lowest (report: %d); want it never unavailable", seen.Outages, seen.Min, report.MinAvailable)
			}
			pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + w.Name})
			if err != nil {
				t.Fatal(err)
			}
			var live []string
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					live = append(live, p.Name)
					if p.Spec.NodeName != node.Name {
						t.Errorf("pod %s on %s, want the dedicated node", p.Name, p.Spec.NodeName)
					}
				}
			}
			if len(live) != 1 {
				t.Errorf("live pods %v, want one", live)
			}
			if w.Kind == "StatefulSet" {
				// Its own size back, and no volume claim but its own.
				s, _ := kc.AppsV1().StatefulSets(ns).Get(ctx, w.Name, metav1.GetOptions{})
				pvcs, _ := kc.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
				if *s.Spec.Replicas != 1 || tc.interruption && (len(pvcs.Items) != 1 || pvcs.Items[0].Name != "data-"+w.Name+"-0") {
					t.Errorf("after the move: %d replicas, %d volume claims", *s.Spec.Replicas, len(pvcs.Items))
				}
			}
		})
	}
}

var onShared = map[string]string{"tierup.dev/pool": "shared"}

func onePod(name string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeSelector: onShared, Containers: []corev1.Container{{Name: name, Image: "registry.example/" + name + ":1"}}}}
}

// oneDeployment makes a Deployment of one replica whose own
// PodDisruptionBudget allows no disruption at all (minAvailable 1).
func oneDeployment(t *testing.T, kc kubernetes.Interface, ns string) tierup.Workload {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	minOne := intstr.FromInt32(1)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "solo"}}
	if _, err := kc.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "solo-pdb", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: &minOne}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "solo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: sel, Template: onePod("solo")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, time.Minute, "solo to be available", func() (bool, error) {
		d, err := kc.AppsV1().Deployments(ns).Get(ctx, "solo", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 1, err
	})
	return tierup.Workload{Kind: "Deployment", Name: "solo", Replicas: 1}
}
