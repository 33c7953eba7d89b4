package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNodeUsable: a dedicated node takes the account's pods only once it
// is Ready, not cordoned or going away, and carries no NoSchedule or
// NoExecute taint but the account's own.
func TestNodeUsable(t *testing.T) {
	account := corev1.Taint{Key: "tierup.dev/dedicated", Value: "acct-1", Effect: corev1.TaintEffectNoSchedule}
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}
	now := metav1.Now()
	tests := []struct {
		name string
		node corev1.Node
		want bool
	}{
		{"ready, the account's taint", node([]corev1.NodeCondition{ready}, account), true},
		{"ready, no taint", node([]corev1.NodeCondition{ready}), true},
		{"ready, a PreferNoSchedule taint", node([]corev1.NodeCondition{ready}, account,
			corev1.Taint{Key: "example.com/soon", Effect: corev1.TaintEffectPreferNoSchedule}), true},
		{"no Ready condition yet", node(nil, account), false},
		{"not Ready", node([]corev1.NodeCondition{notReady}, account), false},
		{"Ready, the not-ready taint not yet taken off", node([]corev1.NodeCondition{ready}, account,
			corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}), false},
		{"Ready, unreachable", node([]corev1.NodeCondition{ready}, account,
			corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}), false},
		{"Ready, Karpenter has not registered it", node([]corev1.NodeCondition{ready}, account,
			corev1.Taint{Key: "karpenter.sh/unregistered", Effect: corev1.TaintEffectNoExecute}), false},
		{"Ready, another account's taint", node([]corev1.NodeCondition{ready},
			corev1.Taint{Key: account.Key, Value: "acct-2", Effect: corev1.TaintEffectNoSchedule}), false},
		{"Ready, the account's key with NoExecute", node([]corev1.NodeCondition{ready},
			corev1.Taint{Key: account.Key, Value: account.Value, Effect: corev1.TaintEffectNoExecute}), false},
		{"cordoned", func() corev1.Node {
			n := node([]corev1.NodeCondition{ready}, account)
			n.Spec.Unschedulable = true
			return n
		}(), false},
		{"being deleted", func() corev1.Node {
			n := node([]corev1.NodeCondition{ready}, account)
			n.DeletionTimestamp = &now
			return n
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeUsable(&tt.node, account); got != tt.want {
				t.Errorf("nodeUsable = %v, want %v", got, tt.want)
			}
		})
	}
}

func node(conds []corev1.NodeCondition, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{Spec: corev1.NodeSpec{Taints: taints}, Status: corev1.NodeStatus{Conditions: conds}}
}
