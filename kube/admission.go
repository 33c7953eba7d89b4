package kube

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tierup/tierup"
)

// The placement policy keeps an account's new pods on its dedicated node
// after the migration: a Deployment created later, or re-applied by GitOps
// with the template it had before the move, would otherwise land on the
// shared pool. It is a MutatingAdmissionPolicy (admissionregistration.k8s.io/v1,
// Kubernetes 1.36 and later), run by the API server itself, so nothing of
// tierup's has to be up for it to work, and its binding to the account's
// namespace. It adds what place adds to a moved workload's template: the
// node selector (tierup's two keys win over the pod's own values for them:
// the account pays for the dedicated node, and a re-applied template still
// carries the shared pool's selector), the toleration of the account's
// taint (unless one already tolerates it), and the relaxation of required
// anti-affinity on kubernetes.io/hostname to preferred (one node holds
// every replica). Pods tierup makes itself (labelled managed-by tierup) and
// pods of DaemonSets (one per node by design) are left alone.
const (
	admissionGroupVersion = "admissionregistration.k8s.io/v1"
	admissionResource     = "mutatingadmissionpolicies"
)

// PlacedAnnotation marks a pod the placement policy placed; its value is
// the policy's name.
const PlacedAnnotation = "tierup.dev/placed-by"

// NoAdmissionPolicies is what tierup says of a cluster without the API.
const NoAdmissionPolicies = "the cluster has no MutatingAdmissionPolicy API (admissionregistration.k8s.io/v1, Kubernetes 1.36 or later): " +
	"workloads created after an upgrade's migration, or re-applied with their old template, are not placed on the dedicated node " +
	"and run on the shared pool"

// PlacementName names the account's placement policy and its binding.
// The hash keeps apart accounts whose IDs differ only where dnsLabel folds.
func PlacementName(accountID string) string {
	return "tierup-placement-" + dnsLabel(accountID) + "-" + shortHash(accountID)
}

// admissionPolicies reports whether the API server serves
// MutatingAdmissionPolicies.
func (c *Cluster) admissionPolicies(ctx context.Context) (bool, error) {
	list, err := c.kc.Discovery().ServerResourcesForGroupVersion(admissionGroupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, c.wrap(ctx, err, "look for MutatingAdmissionPolicies")
	}
	for _, r := range list.APIResources {
		if r.Name == admissionResource {
			return true, nil
		}
	}
	return false, nil
}

var _ tierup.ClusterWarnings = (*Cluster)(nil)

// Warnings implements tierup.ClusterWarnings: what an upgrade on this
// cluster cannot do.
func (c *Cluster) Warnings(ctx context.Context) ([]string, error) {
	ok, err := c.admissionPolicies(ctx)
	if err != nil || ok {
		return nil, err
	}
	return []string{NoAdmissionPolicies}, nil
}

// applyPlacement makes the placement policy follow the plan: there for a
// plan with a dedicated node, gone otherwise (a cancel sets the previous
// plan's features back).
func (c *Cluster) applyPlacement(ctx context.Context, ns, accountID string, plan *tierup.Plan) error {
	if plan.Entitlements.NodePool != "dedicated" {
		if err := c.removePlacement(ctx, ns, accountID); err != nil {
			return err
		}
		return c.returnPlaced(ctx, ns, accountID)
	}
	ok, err := c.admissionPolicies(ctx)
	if err != nil {
		return err
	}
	if !ok {
		c.log.WarnContext(ctx, "new pods of the account are not placed on its dedicated node", "account", accountID, "reason", NoAdmissionPolicies)
		return nil
	}
	api := c.kc.AdmissionregistrationV1()
	// The policy before its binding: a binding names a policy, and one
	// naming no policy is ignored, so the order keeps no gap open.
	policy := c.placementPolicy(ns, accountID)
	err = createOrUpdate(ctx, api.MutatingAdmissionPolicies(), policy, func(cur *admissionv1.MutatingAdmissionPolicy) {
		cur.Labels, cur.Spec = policy.Labels, policy.Spec
	})
	if err != nil {
		return c.wrap(ctx, err, "write the placement policy "+policy.Name)
	}
	binding := c.placementBinding(ns, accountID)
	err = createOrUpdate(ctx, api.MutatingAdmissionPolicyBindings(), binding, func(cur *admissionv1.MutatingAdmissionPolicyBinding) {
		cur.Labels, cur.Spec = binding.Labels, binding.Spec
	})
	if err != nil {
		return c.wrap(ctx, err, "write the placement policy binding "+binding.Name)
	}
	return c.verifyPlacement(ctx, ns, accountID)
}

// placementSettle bounds the wait for the API server to take up a change
// of the policy (its informers see it within moments).
const placementSettle = 30 * time.Second

// verifyPlacement waits until the API server applies the new policy.
func (c *Cluster) verifyPlacement(ctx context.Context, ns, accountID string) error {
	return c.awaitPlacement(ctx, ns, accountID, true)
}

// awaitPlacement asks the API server to admit a pod in the namespace as a
// dry run (nothing is stored) until the policy places it (want) or no
// longer does: from then on so are the account's real pods. A policy the
// API server does not take up in time (its MutatingAdmissionPolicy
// admission plugin turned off), or a probe it refuses for another reason,
// is logged, not failed: a retry would not change it.
func (c *Cluster) awaitPlacement(ctx context.Context, ns, accountID string, want bool) error {
	name := PlacementName(accountID)
	no, yes := false, true
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "tierup-placement-probe", Namespace: ns},
		// What the restricted Pod Security level and a quota that wants
		// requests and limits accept.
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: c.cfg.Karpenter.PlaceholderImage,
			Resources: corev1.ResourceRequirements{Requests: smallPod(), Limits: smallPod()},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, RunAsNonRoot: &yes,
				Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}}},
	}
	deadline := time.Now().Add(placementSettle)
	for {
		got, err := c.kc.CoreV1().Pods(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && (got.Annotations[PlacedAnnotation] == name) == want {
			if want {
				c.log.InfoContext(ctx, "new pods of the account are placed on its dedicated node", "account", accountID, "namespace", ns, "policy", name)
			}
			return nil
		}
		if err != nil && unreachable(err) {
			return c.wrap(ctx, err, "check the placement policy")
		}
		if time.Now().After(deadline) {
			msg := "the API server does not apply the placement policy (is its MutatingAdmissionPolicy admission plugin on?): new pods of the account may land on the shared pool"
			if !want {
				msg = "the API server still applies the removed placement policy: new pods of the account may land on the dedicated node"
			}
			c.log.WarnContext(ctx, msg, "account", accountID, "namespace", ns, "policy", name, "err", err)
			return nil
		}
		if err := sleep(ctx, c.poll); err != nil {
			return err
		}
	}
}

func smallPod() corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}
}

// removePlacement deletes the account's placement policy and binding, the
// binding first, and waits until the API server no longer applies them.
// Absent ones, or an API server without the API, are fine.
func (c *Cluster) removePlacement(ctx context.Context, ns, accountID string) error {
	name := PlacementName(accountID)
	api := c.kc.AdmissionregistrationV1()
	errB := api.MutatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{})
	if errB != nil && !apierrors.IsNotFound(errB) {
		return c.wrap(ctx, errB, "remove the placement policy binding "+name)
	}
	errP := api.MutatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{})
	if errP != nil && !apierrors.IsNotFound(errP) {
		return c.wrap(ctx, errP, "remove the placement policy "+name)
	}
	if errB != nil && errP != nil {
		return nil // both gone before: nothing to wait for
	}
	return c.awaitPlacement(ctx, ns, accountID, false)
}

// createOrUpdate creates obj, or, when it exists, updates the existing
// object with what set copies from obj.
func createOrUpdate[T metav1.Object](ctx context.Context, api interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
}, obj T, set func(cur T)) error {
	_, err := api.Create(ctx, obj, metav1.CreateOptions{FieldManager: "tierup"})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	cur, err := api.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	set(cur)
	_, err = api.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "tierup"})
	return err
}

// inNamespace selects the namespace ns by its name label, which the API
// server sets on every namespace.
func inNamespace(ns string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
}

func (c *Cluster) placementBinding(ns, accountID string) *admissionv1.MutatingAdmissionPolicyBinding {
	name := PlacementName(accountID)
	return &admissionv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: c.managedLabels(accountID)},
		Spec: admissionv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName:     name,
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: inNamespace(ns)},
		},
	}
}

// placementPolicy is the account's policy. It has no paramKind: the
// account's values are written into its expressions, so creating it and
// its binding needs no permission on a parameter resource.
func (c *Cluster) placementPolicy(ns, accountID string) *admissionv1.MutatingAdmissionPolicy {
	acct := labelValue(accountID)
	q := strconv.Quote // label keys and values are plain ASCII: a Go literal is a CEL literal
	const hostname = `"` + corev1.LabelHostname + `"`
	const anti = "object.spec.affinity.podAntiAffinity"
	const antiPath = "/spec/affinity/podAntiAffinity"
	selector := fmt.Sprintf(`has(object.spec.nodeSelector) ? [
  JSONPatch{op: "add", path: "/spec/nodeSelector/" + jsonpatch.escapeKey(%[1]s), value: %[2]s},
  JSONPatch{op: "add", path: "/spec/nodeSelector/" + jsonpatch.escapeKey(%[3]s), value: %[4]s}
] : [
  JSONPatch{op: "add", path: "/spec/nodeSelector", value: {%[1]s: %[2]s, %[3]s: %[4]s}}
]`, q(c.cfg.PoolLabel), q(c.cfg.DedicatedPool), q(c.cfg.AccountLabel), q(acct))
	toleration := fmt.Sprintf(`Object.spec.tolerations{key: %s, operator: "Equal", value: %s, effect: "NoSchedule"}`, q(c.cfg.TaintKey), q(acct))
	tolerate := fmt.Sprintf(`variables.tolerated ? [] : has(object.spec.tolerations) ? [
  JSONPatch{op: "add", path: "/spec/tolerations/-", value: %[1]s}
] : [
  JSONPatch{op: "add", path: "/spec/tolerations", value: [%[1]s]}
]`, toleration)
	// A toleration tolerates the taint as the scheduler reads it: the key
	// (or none, with Exists), the effect (or none) and the value (or Exists).
	tolerated := fmt.Sprintf(`object.spec.?tolerations.orValue([]).exists(t,
  (t.?key.orValue("") == "" ? t.?operator.orValue("") == "Exists" : t.key == %s) &&
  t.?effect.orValue("") in ["", "NoSchedule"] &&
  (t.?operator.orValue("") == "Exists" || t.?value.orValue("") == %s))`, q(c.cfg.TaintKey), q(acct))
	// Required anti-affinity on the hostname becomes preferred: each such
	// term is copied into a new preferred term of weight 100, then removed,
	// from the last down so that the indexes stay right. (Patch values can
	// build new objects but not carry the pod's own, so the terms move by
	// copy.)
	relax := fmt.Sprintf(`size(variables.apartByHost) == 0 ? [] :
  (has(%[1]s.preferredDuringSchedulingIgnoredDuringExecution) ? [] :
    [JSONPatch{op: "add", path: "%[2]s/preferredDuringSchedulingIgnoredDuringExecution", value: []}]) +
  variables.apartByHost.transformList(k, i, [
    JSONPatch{op: "add", path: "%[2]s/preferredDuringSchedulingIgnoredDuringExecution/-",
      value: Object.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution{weight: 100}},
    JSONPatch{op: "copy", from: "%[2]s/requiredDuringSchedulingIgnoredDuringExecution/" + string(i),
      path: "%[2]s/preferredDuringSchedulingIgnoredDuringExecution/" +
        string(size(%[1]s.?preferredDuringSchedulingIgnoredDuringExecution.orValue([])) + k) + "/podAffinityTerm"}
  ]).flatten() +
  variables.apartByHost.reverse().map(i,
    JSONPatch{op: "remove", path: "%[2]s/requiredDuringSchedulingIgnoredDuringExecution/" + string(i)})`, anti, antiPath)
	// Topology spread that cannot be met on one node is relaxed to
	// ScheduleAnyway, which allows no minDomains.
	spread := `variables.spreadOnHost.map(i, [
    JSONPatch{op: "replace", path: "/spec/topologySpreadConstraints/" + string(i) + "/whenUnsatisfiable", value: "ScheduleAnyway"}
  ] + (has(object.spec.topologySpreadConstraints[i].minDomains) ?
    [JSONPatch{op: "remove", path: "/spec/topologySpreadConstraints/" + string(i) + "/minDomains"}] : [])
).flatten()`
	// The mark tells the pods the policy placed from those whose template
	// says so: a cancel restarts their workloads onto the shared pool.
	mark := fmt.Sprintf(`has(object.metadata.annotations) ? [
  JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey(%[1]s), value: %[2]s}
] : [
  JSONPatch{op: "add", path: "/metadata/annotations", value: {%[1]s: %[2]s}}
]`, q(PlacedAnnotation), q(PlacementName(accountID)))
	fail := admissionv1.Fail
	return &admissionv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: PlacementName(accountID), Labels: c.managedLabels(accountID)},
		Spec: admissionv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: inNamespace(ns),
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}},
			},
			MatchConditions: []admissionv1.MatchCondition{
				{Name: "not-made-by-tierup", Expression: fmt.Sprintf(
					`!has(object.metadata.labels) || !(%[1]s in object.metadata.labels) || object.metadata.labels[%[1]s] != "tierup"`, q(c.cfg.ManagedByLabel))},
				{Name: "not-a-daemonset-pod", Expression: `!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(r, r.kind == "DaemonSet")`},
			},
			Variables: []admissionv1.Variable{
				{Name: "tolerated", Expression: tolerated},
				// The indexes of the required anti-affinity terms on the hostname.
				{Name: "apartByHost", Expression: fmt.Sprintf(
					`object.spec.?affinity.?podAntiAffinity.?requiredDuringSchedulingIgnoredDuringExecution.orValue([]).transformList(i, t, t.topologyKey == %s, i)`, hostname)},
				// The indexes of the topology spread constraints one node cannot meet.
				{Name: "spreadOnHost", Expression: fmt.Sprintf(`object.spec.?topologySpreadConstraints.orValue([]).transformList(i, t,
  t.whenUnsatisfiable == "DoNotSchedule" && (t.topologyKey == %s || t.?minDomains.orValue(0) > 1), i)`, hostname)},
			},
			Mutations: []admissionv1.Mutation{
				{PatchType: admissionv1.PatchTypeJSONPatch, JSONPatch: &admissionv1.JSONPatch{Expression: mark}},
				{PatchType: admissionv1.PatchTypeJSONPatch, JSONPatch: &admissionv1.JSONPatch{Expression: selector}},
				{PatchType: admissionv1.PatchTypeJSONPatch, JSONPatch: &admissionv1.JSONPatch{Expression: tolerate}},
				{PatchType: admissionv1.PatchTypeJSONPatch, JSONPatch: &admissionv1.JSONPatch{Expression: relax}},
				{PatchType: admissionv1.PatchTypeJSONPatch, JSONPatch: &admissionv1.JSONPatch{Expression: spread}},
			},
			// A pod the policy cannot place is refused rather than let onto
			// the shared pool: its controller retries and says why in events.
			FailurePolicy: &fail,
			// Another admission plugin that changes the pod after this one
			// gets it back to the policy once more.
			ReinvocationPolicy: admissionv1.IfNeededReinvocationPolicy,
		},
	}
}

// returnedAnnotation, on a pod template, restarts the workload's pods.
const returnedAnnotation = "tierup.dev/returned-at"

// returnPlaced moves back to the shared pool the workloads whose pods only
// the placement policy put on the dedicated node (made after the
// migration, or re-applied with their old template): without the policy a
// restart puts their pods where their templates say, and the node can be
// released. The restart keeps every replica available, as a return does;
// the workload's own strategy is kept in its original annotation meanwhile,
// so a crash mid-way is resumed by the next call or by ReturnWorkload. A
// CronJob's running job finishes where it is; a bare pod cannot be moved
// and keeps the node from being released until it is gone.
func (c *Cluster) returnPlaced(ctx context.Context, ns, accountID string) error {
	pods, err := c.kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return c.wrap(ctx, err, "list the account's pods")
	}
	var placed []labels.Set
	for _, p := range pods.Items {
		if livePlaced(p) {
			placed = append(placed, p.Labels)
		}
	}
	if len(placed) == 0 {
		return nil
	}
	objs, err := c.objects(ctx, ns)
	if err != nil {
		return err
	}
	for _, o := range objs {
		tpl := podTemplate(o)
		if tpl == nil || c.placed(o, accountID) {
			continue // a CronJob's jobs run out; a moved workload is returned on its own
		}
		sel, err := metav1.LabelSelectorAsSelector(o.selector())
		if err != nil || !slices.ContainsFunc(placed, func(l labels.Set) bool { return sel.Matches(l) }) {
			continue
		}
		orig, had, err := saved(o.meta())
		if err != nil {
			return err
		}
		if !had {
			orig = o.capture()
		}
		c.log.InfoContext(ctx, "restarting a workload the placement policy placed", "namespace", ns, "kind", o.kind(), "name", o.meta().Name)
		err = c.change(ctx, o, func() {
			o.retreat()
			save(o.meta(), orig)
			tpl = podTemplate(o) // change may have read o afresh
			if tpl.Annotations == nil {
				tpl.Annotations = map[string]string{}
			}
			tpl.Annotations[returnedAnnotation] = time.Now().UTC().Format(time.RFC3339)
		})
		if err != nil {
			return c.wrap(ctx, err, "restart "+o.kind()+" "+o.meta().Name)
		}
		if err := c.moveBack(ctx, o, orig); err != nil {
			return err
		}
		if err := c.placedGone(ctx, ns, sel); err != nil {
			return err
		}
	}
	return nil
}

// placedGone waits until the old pods the policy placed are gone: a
// rollout is complete before its old pods have all been deleted, and a
// repeated call must not take them for pods still to move.
func (c *Cluster) placedGone(ctx context.Context, ns string, sel labels.Selector) error {
	deadline := time.Now().Add(c.cfg.RolloutTimeout)
	for {
		pods, err := c.kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return c.wrap(ctx, err, "list the account's pods")
		}
		left := slices.ContainsFunc(pods.Items, livePlaced)
		if !left {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube: pods the placement policy placed (%s) are still there after %s", sel, c.cfg.RolloutTimeout)
		}
		if err := sleep(ctx, c.poll); err != nil {
			return err
		}
	}
}

// livePlaced reports whether p is a pod the policy placed that still runs.
func livePlaced(p corev1.Pod) bool {
	return p.Annotations[PlacedAnnotation] != "" && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// podTemplate is the pod template of a Deployment or StatefulSet, nil for a
// CronJob.
func podTemplate(o object) *corev1.PodTemplateSpec {
	switch w := o.(type) {
	case *deployment:
		return &w.d.Spec.Template
	case *statefulSet:
		return &w.s.Spec.Template
	}
	return nil
}
