package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tierup/tierup"
)

// provisioner makes and removes dedicated nodes. Both methods are
// idempotent: the node or NodePool's name is derived from the request key,
// so a retried or resumed call finds what an earlier one made.
type provisioner interface {
	provision(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error)
	release(ctx context.Context, n *tierup.Node) error
}

// keyLabel records which request made a node, for operators and for
// finding a Karpenter node.
const keyLabel = "tierup.dev/request"

var nodePoolGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}

// dedicatedName is the node (kwok) or NodePool (karpenter) name for a request.
func dedicatedName(req tierup.NodeRequest) string {
	return "tierup-" + dnsLabel(req.AccountID) + "-" + shortHash(req.Key)
}

// dedicatedLabels are on every dedicated node of the account.
func (c *Cluster) dedicatedLabels(req tierup.NodeRequest) map[string]string {
	l := c.managedLabels(req.AccountID)
	l[c.cfg.PoolLabel] = c.cfg.DedicatedPool
	l[keyLabel] = shortHash(req.Key)
	return l
}

func (c *Cluster) taint(accountID string) corev1.Taint {
	return corev1.Taint{Key: c.cfg.TaintKey, Value: labelValue(accountID), Effect: corev1.TaintEffectNoSchedule}
}

// ProvisionNode implements tierup.Cluster.
func (c *Cluster) ProvisionNode(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error) {
	n, err := c.prov.provision(ctx, req)
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "dedicated node ready", "account", req.AccountID, "node", n.Name, "provisioner", c.cfg.Provisioner)
	return n, nil
}

// ReleaseNode implements tierup.Cluster.
func (c *Cluster) ReleaseNode(ctx context.Context, n *tierup.Node) error {
	return c.prov.release(ctx, n)
}

// waitNode waits until a node matching selector is Ready. No Ready node
// before the provision timeout is a shortage: the workflow retries, and the
// retry finds the same node or NodePool.
func (c *Cluster) waitNode(ctx context.Context, accountID, selector, what string) (*tierup.Node, error) {
	deadline := time.Now().Add(c.cfg.ProvisionTimeout)
	for {
		list, err := c.kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, c.wrap(err, "watch the dedicated node come up")
		}
		for _, n := range list.Items {
			if n.DeletionTimestamp == nil && nodeReady(&n) {
				return &tierup.Node{Name: n.Name, AccountID: accountID, Pool: "dedicated", Ready: true}, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, tierup.Errorf(tierup.CodeResourceShortage,
				"no Ready node for %s within %s (resource shortage); the request stays in place and is checked again", what, c.cfg.ProvisionTimeout)
		}
		if err := sleep(ctx, c.poll); err != nil {
			return nil, err
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kwok makes Node objects that kwok runs as fake kubelets.
type kwok struct{ c *Cluster }

func (k *kwok) provision(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error) {
	c := k.c
	name := dedicatedName(req)
	capacity := corev1.ResourceList{}
	for r, q := range c.cfg.Kwok.Capacity {
		capacity[corev1.ResourceName(r)] = resource.MustParse(q)
	}
	labels := c.dedicatedLabels(req)
	labels[corev1.LabelHostname] = name
	labels["type"] = "kwok"
	annotations := map[string]string{}
	for a, v := range c.cfg.Kwok.Annotations {
		annotations[a] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{c.taint(req.AccountID)}},
		Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := c.kc.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{FieldManager: "tierup"})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Made by an earlier attempt under the same key: wait for it.
	case err != nil:
		return nil, c.wrap(err, "create the dedicated node")
	default:
		c.log.InfoContext(ctx, "created dedicated node", "node", name, "account", req.AccountID)
	}
	return c.waitNode(ctx, req.AccountID, keyLabel+"="+shortHash(req.Key)+","+corev1.LabelHostname+"="+name, "node "+name)
}

func (k *kwok) release(ctx context.Context, n *tierup.Node) error {
	err := k.c.kc.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return k.c.wrap(err, "delete the dedicated node")
}

// karpenter makes a NodePool per account and lets Karpenter launch the node.
type karpenter struct{ c *Cluster }

func (k *karpenter) nodePool(req tierup.NodeRequest) (*unstructured.Unstructured, error) {
	c := k.c
	group, kind, name, err := c.cfg.nodeClassRef()
	if err != nil {
		return nil, err
	}
	reqs := make([]any, 0, len(c.cfg.Karpenter.Requirements))
	for _, r := range c.cfg.Karpenter.Requirements {
		values := make([]any, 0, len(r.Values))
		for _, v := range r.Values {
			values = append(values, v)
		}
		m := map[string]any{"key": r.Key, "operator": r.Operator}
		if len(values) > 0 {
			m["values"] = values
		}
		reqs = append(reqs, m)
	}
	templateLabels := map[string]any{}
	for k, v := range c.dedicatedLabels(req) {
		templateLabels[k] = v
	}
	t := c.taint(req.AccountID)
	meta := map[string]any{}
	for k, v := range c.managedLabels(req.AccountID) {
		meta[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "karpenter.sh/v1",
		"kind":       "NodePool",
		"metadata":   map[string]any{"name": dedicatedName(req), "labels": meta},
		"spec": map[string]any{
			"template": map[string]any{
				"metadata": map[string]any{"labels": templateLabels},
				"spec": map[string]any{
					"nodeClassRef": map[string]any{"group": group, "kind": kind, "name": name},
					"requirements": reqs,
					"taints":       []any{map[string]any{"key": t.Key, "value": t.Value, "effect": string(t.Effect)}},
				},
			},
			// One node for one account: Karpenter never launches a second.
			"limits":     map[string]any{"nodes": "1"},
			"disruption": map[string]any{"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m"},
		},
	}}, nil
}

func (k *karpenter) provision(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error) {
	c := k.c
	pool, err := k.nodePool(req)
	if err != nil {
		return nil, err
	}
	_, err = c.dyn.Resource(nodePoolGVR).Create(ctx, pool, metav1.CreateOptions{FieldManager: "tierup"})
	switch {
	case apierrors.IsAlreadyExists(err):
	case apierrors.IsNotFound(err) || isNoMatch(err):
		return nil, fmt.Errorf("kube: Karpenter's NodePool CRD (karpenter.sh/v1) is not installed: %w", err)
	case err != nil:
		return nil, c.wrap(err, "create the account's NodePool")
	default:
		c.log.InfoContext(ctx, "created NodePool", "nodepool", pool.GetName(), "account", req.AccountID)
	}
	if err := k.launchFailure(ctx, pool.GetName()); err != nil {
		return nil, err
	}
	return c.waitNode(ctx, req.AccountID, "karpenter.sh/nodepool="+pool.GetName()+","+c.cfg.AccountLabel+"="+labelValue(req.AccountID), "NodePool "+pool.GetName())
}

// launchFailure turns a NodeClaim that Karpenter could not launch for lack
// of capacity into a shortage straight away.
func (k *karpenter) launchFailure(ctx context.Context, pool string) error {
	claims, err := k.c.dyn.Resource(schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}).
		List(ctx, metav1.ListOptions{LabelSelector: "karpenter.sh/nodepool=" + pool})
	if err != nil {
		if apierrors.IsNotFound(err) || isNoMatch(err) {
			return nil
		}
		return k.c.wrap(err, "read the NodePool's NodeClaims")
	}
	for _, claim := range claims.Items {
		conds, _, _ := unstructured.NestedSlice(claim.Object, "status", "conditions")
		for _, raw := range conds {
			cond, _ := raw.(map[string]any)
			if cond["type"] == "Launched" && cond["status"] == "False" && cond["reason"] == "InsufficientCapacity" {
				return tierup.Errorf(tierup.CodeResourceShortage, "the cloud has no capacity for NodePool %s: %v", pool, cond["message"])
			}
		}
	}
	return nil
}

func (k *karpenter) release(ctx context.Context, n *tierup.Node) error {
	c := k.c
	node, err := c.kc.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return c.wrap(err, "find the dedicated node")
	}
	// Deleting the NodePool makes Karpenter drain and remove its node.
	if pool := node.Labels["karpenter.sh/nodepool"]; pool != "" {
		err := c.dyn.Resource(nodePoolGVR).Delete(ctx, pool, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.wrap(err, "delete the account's NodePool")
		}
	}
	return nil
}

func isNoMatch(err error) bool {
	var se *apierrors.StatusError
	return errors.As(err, &se) && se.ErrStatus.Reason == metav1.StatusReasonNotFound ||
		err != nil && (strings.Contains(err.Error(), "no matches for kind") || strings.Contains(err.Error(), "the server could not find the requested resource"))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
