package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
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
	// labels are the labels a node made for req is sure to have.
	labels(req tierup.NodeRequest) map[string]string
	provision(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error)
	release(ctx context.Context, req tierup.NodeRequest) error
}

// keyLabel records which request made a node, for operators and for
// finding a Karpenter node.
const keyLabel = "tierup.dev/request"

var nodePoolGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}

// dedicatedName is the node (kwok) or NodePool (karpenter) name for a
// request: from the upgrade's key and the node's index,
// tierup-<account>-<hash> for the first node (the name a single node
// always had), then -1, -2, ….
func dedicatedName(req tierup.NodeRequest) string {
	return "tierup-" + dnsLabel(req.AccountID) + "-" + shortHash(req.Key) + req.NameSuffix()
}

// requestValue is the keyLabel value of one node of a request: its
// upgrade's hash and index, so that each node of an upgrade (and each
// Karpenter placeholder's selector) is told apart.
func requestValue(req tierup.NodeRequest) string { return shortHash(req.Key) + req.NameSuffix() }

// dedicatedLabels are on every dedicated node of the account.
func (c *Cluster) dedicatedLabels(req tierup.NodeRequest) map[string]string {
	l := c.managedLabels(req.AccountID)
	l[c.cfg.PoolLabel] = c.cfg.DedicatedPool
	l[keyLabel] = requestValue(req)
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
func (c *Cluster) ReleaseNode(ctx context.Context, req tierup.NodeRequest) error {
	return c.prov.release(ctx, req)
}

// busy refuses to let a node go while the account's workloads run on it:
// deleting it would take them down. What tierup put there itself does not
// count.
func (c *Cluster) busy(ctx context.Context, accountID, node string) error {
	ns, err := c.namespace(ctx, accountID)
	if err != nil {
		return err
	}
	pods, err := c.kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return c.wrap(ctx, err, "list the pods on node "+node)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && !c.ours(&p.ObjectMeta) {
			names = append(names, p.Name)
		}
	}
	if len(names) > 0 {
		return fmt.Errorf("kube: %d pods of the account still run on node %s (%s); it is released once they are back on the shared pool",
			len(names), node, strings.Join(names[:min(3, len(names))], ", "))
	}
	return nil
}

// waitNode waits until a node matching selector can take the account's
// pods (nodeUsable). None before the provision timeout is a shortage: the
// workflow retries, and the retry finds the same node or NodePool.
// check, when set, is asked every second whether the provider has given up.
func (c *Cluster) waitNode(ctx context.Context, accountID, selector, what string, check func(context.Context) error) (*tierup.Node, error) {
	deadline := time.Now().Add(c.cfg.ProvisionTimeout)
	lastCheck := time.Time{}
	for {
		if check != nil && time.Since(lastCheck) >= time.Second {
			if err := check(ctx); err != nil {
				return nil, err
			}
			lastCheck = time.Now()
		}
		list, err := c.kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, c.wrap(ctx, err, "watch the dedicated node come up")
		}
		for _, n := range list.Items {
			if nodeUsable(&n, c.taint(accountID)) {
				return &tierup.Node{Name: n.Name, AccountID: accountID, Pool: "dedicated", Ready: true}, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, tierup.Errorf(tierup.CodeResourceShortage,
				"no usable node for %s within %s (Ready, not cordoned, no taint but the account's; resource shortage); the request stays in place and is checked again", what, c.cfg.ProvisionTimeout)
		}
		if err := sleep(ctx, c.poll); err != nil {
			return nil, err
		}
	}
}

// nodeUsable reports whether the account's moved pods, which tolerate
// only the account's taint, can be scheduled on n now: Ready, not deleted
// or cordoned, and without another NoSchedule or NoExecute taint. Ready
// alone is not enough: the node lifecycle controller takes
// node.kubernetes.io/not-ready off only after it has seen Ready, and the
// spread over the dedicated nodes leaves out a node its pods do not
// tolerate (nodeTaintsPolicy Honor), so moves made in that window stacked
// the replicas on the nodes already usable.
func nodeUsable(n *corev1.Node, tolerated corev1.Taint) bool {
	if n.DeletionTimestamp != nil || n.Spec.Unschedulable || !nodeReady(n) {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule || (t.Key == tolerated.Key && t.Value == tolerated.Value && t.Effect == tolerated.Effect) {
			continue
		}
		return false
	}
	return true
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
	labels := k.labels(req)
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
		return nil, c.wrap(ctx, err, "create the dedicated node")
	default:
		c.log.InfoContext(ctx, "created dedicated node", "node", name, "account", req.AccountID)
	}
	return c.waitNode(ctx, req.AccountID, keyLabel+"="+requestValue(req)+","+corev1.LabelHostname+"="+name, "node "+name, nil)
}

// labels are the kwok node's: the dedicated node's, its hostname, and the
// zone a volume asked for.
func (k *kwok) labels(req tierup.NodeRequest) map[string]string {
	labels := k.c.dedicatedLabels(req)
	labels[corev1.LabelHostname] = dedicatedName(req)
	labels["type"] = "kwok"
	if req.Zone != "" {
		labels[corev1.LabelTopologyZone] = req.Zone
	}
	return labels
}

func (k *kwok) release(ctx context.Context, req tierup.NodeRequest) error {
	name := dedicatedName(req)
	if err := k.c.busy(ctx, req.AccountID, name); err != nil {
		return err
	}
	err := k.c.kc.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return k.c.wrap(ctx, err, "delete the dedicated node")
}

// karpenter makes a NodePool per dedicated node (one node each, named like
// a kwok node) and a placeholder pod that only a node of that NodePool can
// take: Karpenter launches nodes for pods that
// cannot be scheduled, so the placeholder is what brings the node up, and
// it keeps the node from ever being empty.
type karpenter struct{ c *Cluster }

func (k *karpenter) nodePool(req tierup.NodeRequest) (*unstructured.Unstructured, error) {
	c := k.c
	group, kind, name, err := c.cfg.nodeClassRef()
	if err != nil {
		return nil, err
	}
	reqs := make([]any, 0, len(c.cfg.Karpenter.Requirements)+1)
	for _, r := range k.requirements(req) {
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
	limits := map[string]any{"nodes": "1"}
	for r, q := range c.cfg.Karpenter.Limits {
		limits[r] = q
	}
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
			// One node per NodePool, one NodePool per dedicated node of the
			// account: Karpenter never launches a second for it, and never
			// consolidates it away under the workloads.
			"limits":     limits,
			"disruption": map[string]any{"consolidationPolicy": "WhenEmpty", "consolidateAfter": "Never"},
		},
	}}, nil
}

// requirements are the NodePool's: the configured ones, and the zone a
// volume asked for.
func (k *karpenter) requirements(req tierup.NodeRequest) []Requirement {
	reqs := slices.Clone(k.c.cfg.Karpenter.Requirements)
	if req.Zone != "" {
		reqs = append(reqs, Requirement{Key: corev1.LabelTopologyZone, Operator: "In", Values: []string{req.Zone}})
	}
	return reqs
}

// labels are what every node of the NodePool will carry for sure: the
// template's labels and the requirements that pin one value.
func (k *karpenter) labels(req tierup.NodeRequest) map[string]string {
	labels := k.c.dedicatedLabels(req)
	for _, r := range k.requirements(req) {
		if r.Operator == "In" && len(r.Values) == 1 {
			labels[r.Key] = r.Values[0]
		}
	}
	return labels
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
		return nil, c.wrap(ctx, err, "create the account's NodePool")
	default:
		c.log.InfoContext(ctx, "created NodePool", "nodepool", pool.GetName(), "account", req.AccountID)
	}
	if err := k.placeholder(ctx, req, pool.GetName()); err != nil {
		return nil, err
	}
	ns, err := c.namespace(ctx, req.AccountID)
	if err != nil {
		return nil, err
	}
	// Karpenter reports a failure once and then keeps quiet about it for
	// its dedupe window, so a retry must believe what was reported shortly
	// before it began.
	since := time.Now().Add(-karpenterEventWindow).Truncate(time.Second)
	// Initialized: Karpenter has registered the node, removed its
	// karpenter.sh/unregistered taint and put the NodePool's taints on it,
	// so the account's pods can land there and nothing else can.
	n, err := c.waitNode(ctx, req.AccountID, karpenterNodePool+"="+pool.GetName()+","+c.cfg.AccountLabel+"="+labelValue(req.AccountID)+","+karpenterInitialized+"=true",
		"NodePool "+pool.GetName(), func(ctx context.Context) error { return k.launchFailure(ctx, pool.GetName(), ns, since) })
	if tierup.ErrorCode(err) == tierup.CodeResourceShortage {
		if why := k.notReady(ctx, pool.GetName()); why != "" {
			return nil, fmt.Errorf("%w; %s", err, why)
		}
	}
	return n, err
}

// notReady says why Karpenter does not use the NodePool, from its status
// (e.g. its node class does not exist): Karpenter then records no event at
// all, and support would otherwise see only the timeout.
func (k *karpenter) notReady(ctx context.Context, pool string) string {
	p, err := k.c.dyn.Resource(nodePoolGVR).Get(ctx, pool, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
	for _, raw := range conds {
		cond, _ := raw.(map[string]any)
		if cond["type"] == "Ready" && cond["status"] != "True" {
			return fmt.Sprintf("Karpenter does not use NodePool %s: %v (%v)", pool, cond["message"], cond["reason"])
		}
	}
	return ""
}

// placeholder makes the Deployment whose one small pod asks for a node of
// the NodePool.
func (k *karpenter) placeholder(ctx context.Context, req tierup.NodeRequest, pool string) error {
	c := k.c
	ns, err := c.namespace(ctx, req.AccountID)
	if err != nil {
		return err
	}
	if err := c.ensureNamespace(ctx, ns, req.AccountID); err != nil {
		return err
	}
	labels := c.managedLabels(req.AccountID)
	labels[keyLabel] = requestValue(req)
	pod := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "pause", Image: c.cfg.Karpenter.PlaceholderImage,
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
	}
	c.place(&pod, req.AccountID)
	pod.NodeSelector[karpenterNodePool] = pool
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: pool, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{keyLabel: requestValue(req)}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
	_, err = c.kc.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{FieldManager: "tierup"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return c.wrap(ctx, err, "create the NodePool's placeholder pod")
	}
	return nil
}

// Labels Karpenter puts on the nodes it launches.
const (
	karpenterNodePool    = "karpenter.sh/nodepool"
	karpenterInitialized = "karpenter.sh/initialized"
)

// karpenterEventWindow is the longest Karpenter (v1) stays silent about a
// failure it has reported: it publishes the same event again only after
// its dedupe timeout (5 minutes for a pod's FailedScheduling, 2 by
// default, 1 for NoCompatibleInstanceTypes).
const karpenterEventWindow = 5 * time.Minute

var nodeClaimGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}

// launchFailure turns what Karpenter records when it cannot give the
// NodePool a node into a shortage straight away. Karpenter (v1) writes no
// failed condition for it; it leaves Warning events:
//   - NoCompatibleInstanceTypes on the NodePool: its requirements rule out
//     every instance type the cloud offers, so no NodeClaim is ever made;
//   - FailedScheduling on the placeholder pod, naming the NodePool: no
//     instance type fits the pod, or the NodePool's limits are reached;
//   - InsufficientCapacityError (or NodeClassNotReady) on a NodeClaim: the
//     cloud refused to launch it, and Karpenter deleted the NodeClaim.
//
// Events of cluster-scoped objects are kept in the default namespace. Only
// events seen since since count, and none while a NodeClaim of the
// NodePool is alive: Karpenter is launching (again), so what it reported
// before is over.
func (k *karpenter) launchFailure(ctx context.Context, pool, ns string, since time.Time) error {
	c := k.c
	claims, err := c.dyn.Resource(nodeClaimGVR).List(ctx, metav1.ListOptions{LabelSelector: karpenterNodePool + "=" + pool})
	if err != nil {
		return c.wrap(ctx, err, "read the NodePool's NodeClaims")
	}
	for _, claim := range claims.Items {
		if claim.GetDeletionTimestamp() == nil {
			return nil
		}
	}
	fresh := func(e *corev1.Event) bool { return eventTime(e).After(since) || eventTime(e).Equal(since) }
	list := func(ns, selector string) ([]corev1.Event, error) {
		l, err := c.kc.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			return nil, c.wrap(ctx, err, "read Karpenter's events for NodePool "+pool)
		}
		return l.Items, nil
	}
	evs, err := list(metav1.NamespaceDefault, "involvedObject.kind=NodePool,involvedObject.name="+pool+",reason=NoCompatibleInstanceTypes")
	if err != nil {
		return err
	}
	for i := range evs {
		if fresh(&evs[i]) {
			return tierup.Errorf(tierup.CodeResourceShortage, "Karpenter cannot launch a node for NodePool %s: %s", pool, evs[i].Message)
		}
	}
	evs, err = list(metav1.NamespaceDefault, "involvedObject.kind=NodeClaim,type=Warning")
	if err != nil {
		return err
	}
	for i := range evs {
		e := &evs[i]
		if fresh(e) && strings.HasPrefix(e.InvolvedObject.Name, pool+"-") && (e.Reason == "InsufficientCapacityError" || e.Reason == "NodeClassNotReady") {
			return tierup.Errorf(tierup.CodeResourceShortage, "the cloud has no capacity for NodePool %s: %s", pool, e.Message)
		}
	}
	evs, err = list(ns, "involvedObject.kind=Pod,reason=FailedScheduling")
	if err != nil {
		return err
	}
	for i := range evs {
		e := &evs[i]
		// The placeholder's pods are named after the NodePool; the
		// scheduler's own FailedScheduling (no node yet) is expected.
		if fresh(e) && e.Source.Component == "karpenter" && strings.HasPrefix(e.InvolvedObject.Name, pool+"-") && strings.Contains(e.Message, pool) {
			return tierup.Errorf(tierup.CodeResourceShortage, "Karpenter cannot launch a node for NodePool %s: %s", pool, e.Message)
		}
	}
	return nil
}

// eventTime is when an event was last seen, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if e.EventTime.After(t) {
		t = e.EventTime.Time
	}
	return t
}

func (k *karpenter) release(ctx context.Context, req tierup.NodeRequest) error {
	c := k.c
	pool := dedicatedName(req)
	nodes, err := c.kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: karpenterNodePool + "=" + pool})
	if err != nil {
		return c.wrap(ctx, err, "find the NodePool's nodes")
	}
	for _, n := range nodes.Items {
		if err := c.busy(ctx, req.AccountID, n.Name); err != nil {
			return err
		}
	}
	ns, err := c.namespace(ctx, req.AccountID)
	if err != nil {
		return err
	}
	err = c.kc.AppsV1().Deployments(ns).Delete(ctx, pool, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return c.wrap(ctx, err, "delete the NodePool's placeholder")
	}
	// Deleting the NodePool makes Karpenter drain and remove its node.
	err = c.dyn.Resource(nodePoolGVR).Delete(ctx, pool, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return c.wrap(ctx, err, "delete the account's NodePool")
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
