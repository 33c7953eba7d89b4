package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tierup/tierup"
)

// legacyZoneLabel is the zone label of volumes made before
// topology.kubernetes.io/zone.
const legacyZoneLabel = "failure-domain.beta.kubernetes.io/zone"

// Preflight implements tierup.Cluster. For every workload still to move it
// looks, changing nothing, at what the migration would make of its pod
// template (the same code, on a copy) and at the volumes it uses:
//   - a hostPath volume would leave its data behind on the shared node;
//   - a node selector or required node affinity that tierup does not relax
//     must match the labels a dedicated node will have;
//   - a pod must fit in a dedicated node's allocatable (known for kwok
//     nodes, from Config.Kwok.Capacity; Karpenter picks the instance);
//   - a bound volume pinned to a zone (its PersistentVolume's node
//     affinity) asks for the dedicated node in that zone, and volumes in
//     zones no one node can share are a problem.
func (c *Cluster) Preflight(ctx context.Context, accountID string, plan *tierup.Plan) (*tierup.Preflight, error) {
	objs, err := c.accountObjects(ctx, accountID)
	if err != nil {
		return nil, err
	}
	req := tierup.NodeRequest{Key: "preflight", AccountID: accountID, Plan: plan}
	var problems []tierup.PreflightProblem
	zones := map[string][]string{} // workload → the zones its volumes allow
	for _, o := range objs {
		orig, had, err := saved(o.meta())
		if err != nil {
			return nil, err
		}
		if c.placed(o, accountID) && (!had || orig.Moved) {
			continue // already on the dedicated node
		}
		name := o.kind() + "/" + o.meta().Name
		spec := o.podSpec().DeepCopy()
		if had {
			restorePod(spec, orig)
		}
		c.place(spec, accountID)
		problems = append(problems, c.podProblems(name, o, spec, req)...)
		z, err := c.volumeZones(ctx, o)
		if err != nil {
			return nil, err
		}
		if z != nil {
			zones[name] = z
		}
	}
	zone, zoneProblems := commonZone(zones)
	problems = append(problems, zoneProblems...)
	if len(problems) > 0 {
		return tierup.PreflightFailed(problems), nil
	}
	return tierup.PreflightPassed(zone), nil
}

// podProblems checks one pod template, as the migration would leave it,
// against a dedicated node.
func (c *Cluster) podProblems(name string, o object, s *corev1.PodSpec, req tierup.NodeRequest) []tierup.PreflightProblem {
	var out []tierup.PreflightProblem
	bad := func(code tierup.PreflightCode, format string, args ...any) {
		out = append(out, tierup.PreflightProblem{Workload: name, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	what := o.kind() + " " + o.meta().Name
	for _, v := range s.Volumes {
		if v.HostPath != nil {
			bad(tierup.PreflightHostPath, "%s mounts the host path %s (volume %s), whose data stays on the shared node it runs on now: move it to a PersistentVolumeClaim or an emptyDir, then upgrade.",
				what, v.HostPath.Path, v.Name)
		}
	}
	labels := c.prov.labels(req)
	var keys []string
	for k := range s.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := s.NodeSelector[k]; labels[k] != v {
			bad(tierup.PreflightNodeAffinity, "%s only runs on nodes labelled %s=%s, and a dedicated node will not be: remove that node selector (or ask your platform team to add the label to dedicated nodes), then upgrade.", what, k, v)
		}
	}
	if a := s.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if !matchesAnyTerm(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, labels) {
			bad(tierup.PreflightNodeAffinity, "%s has a required node affinity that no dedicated node will match (%s): relax it to a preferred affinity, then upgrade.",
				what, describeTerms(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms))
		}
	}
	if c.cfg.Provisioner == "kwok" {
		for r, q := range c.cfg.Kwok.Capacity {
			have, err := resource.ParseQuantity(q)
			if err != nil || (r != string(corev1.ResourceCPU) && r != string(corev1.ResourceMemory)) {
				continue
			}
			if want := podRequest(s, corev1.ResourceName(r)); want.Cmp(have) > 0 {
				bad(tierup.PreflightTooLarge, "%s asks for %s %s per pod, more than a dedicated node's %s: it would never be scheduled there. Lower its requests, then upgrade.",
					what, want.String(), r, have.String())
			}
		}
	}
	return out
}

// podRequest is what a pod of the spec asks for of r: its containers'
// requests added up, or its largest init container's when that is more.
func podRequest(s *corev1.PodSpec, r corev1.ResourceName) resource.Quantity {
	var sum resource.Quantity
	for _, ct := range s.Containers {
		if q, ok := ct.Resources.Requests[r]; ok {
			sum.Add(q)
		}
	}
	for _, ct := range s.InitContainers {
		if q, ok := ct.Resources.Requests[r]; ok && q.Cmp(sum) > 0 {
			sum = q.DeepCopy()
		}
	}
	return sum
}

// matchesAnyTerm reports whether a node with these labels satisfies the
// required node affinity: any term, each of whose expressions holds.
// Fields (metadata.name) cannot match a node that does not exist yet.
func matchesAnyTerm(terms []corev1.NodeSelectorTerm, labels map[string]string) bool {
	for _, t := range terms {
		if len(t.MatchFields) == 0 && allMatch(t.MatchExpressions, labels) {
			return true
		}
	}
	return len(terms) == 0
}

func allMatch(reqs []corev1.NodeSelectorRequirement, labels map[string]string) bool {
	for _, r := range reqs {
		v, has := labels[r.Key]
		ok := false
		switch r.Operator {
		case corev1.NodeSelectorOpIn:
			ok = has && slices.Contains(r.Values, v)
		case corev1.NodeSelectorOpNotIn:
			ok = !has || !slices.Contains(r.Values, v)
		case corev1.NodeSelectorOpExists:
			ok = has
		case corev1.NodeSelectorOpDoesNotExist:
			ok = !has
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			n, err1 := strconv.ParseInt(v, 10, 64)
			if len(r.Values) == 1 && has && err1 == nil {
				m, err2 := strconv.ParseInt(r.Values[0], 10, 64)
				ok = err2 == nil && (r.Operator == corev1.NodeSelectorOpGt && n > m || r.Operator == corev1.NodeSelectorOpLt && n < m)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func describeTerms(terms []corev1.NodeSelectorTerm) string {
	var parts []string
	for _, t := range terms {
		for _, r := range t.MatchExpressions {
			parts = append(parts, fmt.Sprintf("%s %s %s", r.Key, r.Operator, strings.Join(r.Values, ",")))
		}
		for _, r := range t.MatchFields {
			parts = append(parts, fmt.Sprintf("%s %s %s", r.Key, r.Operator, strings.Join(r.Values, ",")))
		}
	}
	return strings.Join(parts, "; ")
}

// volumeZones returns the zones the workload's bound volumes allow all at
// once, or nil when none is pinned to a zone. A claim not bound yet is
// bound where the pod lands, so it pins nothing.
func (c *Cluster) volumeZones(ctx context.Context, o object) ([]string, error) {
	ns := o.meta().Namespace
	var claims []string
	for _, v := range o.podSpec().Volumes {
		if v.PersistentVolumeClaim != nil {
			claims = append(claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	if st, ok := o.(*statefulSet); ok {
		for _, t := range st.s.Spec.VolumeClaimTemplates {
			for i := range replicas(st.s.Spec.Replicas) {
				claims = append(claims, fmt.Sprintf("%s-%s-%d", t.Name, st.s.Name, i))
			}
		}
	}
	var allowed []string // nil: no constraint yet
	for _, name := range claims {
		pvc, err := c.kc.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, c.wrap(ctx, err, "read the volume claim "+name)
		}
		if pvc.Spec.VolumeName == "" {
			continue
		}
		pv, err := c.kc.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, c.wrap(ctx, err, "read the volume "+pvc.Spec.VolumeName)
		}
		if z := pvZones(pv); z != nil {
			allowed = intersect(allowed, z)
		}
	}
	return allowed, nil
}

// pvZones returns the zones a volume can be used from, or nil when it is
// not pinned to any.
func pvZones(pv *corev1.PersistentVolume) []string {
	var zones []string
	if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil {
		for _, t := range na.Required.NodeSelectorTerms {
			for _, r := range t.MatchExpressions {
				if (r.Key == corev1.LabelTopologyZone || r.Key == legacyZoneLabel) && r.Operator == corev1.NodeSelectorOpIn {
					zones = append(zones, r.Values...)
				}
			}
		}
	}
	if len(zones) == 0 {
		for _, k := range []string{corev1.LabelTopologyZone, legacyZoneLabel} {
			if z := pv.Labels[k]; z != "" {
				zones = append(zones, z)
			}
		}
	}
	if len(zones) == 0 {
		return nil
	}
	slices.Sort(zones)
	return slices.Compact(zones)
}

// intersect returns the zones in both; a nil a means "any".
func intersect(a, b []string) []string {
	if a == nil {
		return slices.Clone(b)
	}
	out := []string{}
	for _, z := range a {
		if slices.Contains(b, z) {
			out = append(out, z)
		}
	}
	return out
}

// commonZone picks the zone every workload's volumes allow (the first, in
// order, when several do); when there is none, each pinned workload is a
// problem, as one set of dedicated nodes cannot be in two zones.
func commonZone(zones map[string][]string) (string, []tierup.PreflightProblem) {
	if len(zones) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(zones))
	for n := range zones {
		names = append(names, n)
	}
	sort.Strings(names)
	var all []string
	for _, n := range names {
		all = intersect(all, zones[n])
	}
	if len(all) > 0 {
		return all[0], nil
	}
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s in %s", n, strings.Join(zones[n], " or ")))
	}
	var problems []tierup.PreflightProblem
	for _, n := range names {
		problems = append(problems, tierup.PreflightProblem{Workload: n, Code: tierup.PreflightZoneConflict,
			Message: fmt.Sprintf("%s's volumes are pinned to %s, but the account's volumes are in different zones (%s) and its dedicated nodes can only be in one: move the volumes into one zone, then upgrade.",
				n, strings.Join(zones[n], " or "), strings.Join(parts, "; "))})
	}
	return "", problems
}
