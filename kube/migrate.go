package kube

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"

	"github.com/tierup/tierup"
)

// objects lists the namespace's workloads in migration order: Deployments,
// then Functions, StatefulSets and CronJobs, each kind by name. What tierup
// made itself (the backup CronJob) is not the customer's and is left out.
func (c *Cluster) objects(ctx context.Context, ns string) ([]object, error) {
	deps, err := c.kc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, c.wrap(ctx, err, "list Deployments")
	}
	sets, err := c.kc.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, c.wrap(ctx, err, "list StatefulSets")
	}
	jobs, err := c.kc.BatchV1().CronJobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, c.wrap(ctx, err, "list CronJobs")
	}
	var plain, functions, stateful, cron []object
	for i := range deps.Items {
		d := &deps.Items[i]
		if c.ours(&d.ObjectMeta) {
			continue
		}
		if _, fn := d.Labels[c.cfg.FunctionLabel]; fn {
			functions = append(functions, &deployment{d: d, function: true})
		} else {
			plain = append(plain, &deployment{d: d})
		}
	}
	for i := range sets.Items {
		if !c.ours(&sets.Items[i].ObjectMeta) {
			stateful = append(stateful, &statefulSet{s: &sets.Items[i]})
		}
	}
	for i := range jobs.Items {
		if !c.ours(&jobs.Items[i].ObjectMeta) {
			cron = append(cron, &cronJob{j: &jobs.Items[i]})
		}
	}
	var all []object
	for _, group := range [][]object{plain, functions, stateful, cron} {
		slices.SortFunc(group, func(a, b object) int { return strings.Compare(a.meta().Name, b.meta().Name) })
		all = append(all, group...)
	}
	return all, nil
}

func (c *Cluster) ours(m *metav1.ObjectMeta) bool { return m.Labels[c.cfg.ManagedByLabel] == "tierup" }

// get fetches one workload by its kind and name.
func (c *Cluster) get(ctx context.Context, ns string, w tierup.Workload) (object, error) {
	var o object
	var err error
	switch w.Kind {
	case "Deployment", "Function":
		var d *appsv1.Deployment
		d, err = c.kc.AppsV1().Deployments(ns).Get(ctx, w.Name, metav1.GetOptions{})
		o = &deployment{d: d, function: w.Kind == "Function"}
	case "StatefulSet":
		var s *appsv1.StatefulSet
		s, err = c.kc.AppsV1().StatefulSets(ns).Get(ctx, w.Name, metav1.GetOptions{})
		o = &statefulSet{s: s}
	case "CronJob":
		var j *batchv1.CronJob
		j, err = c.kc.BatchV1().CronJobs(ns).Get(ctx, w.Name, metav1.GetOptions{})
		o = &cronJob{j: j}
	default:
		return nil, tierup.Errorf(tierup.CodeInvalid, "unknown workload kind %q", w.Kind)
	}
	if err != nil {
		return nil, c.wrap(ctx, err, fmt.Sprintf("read %s %s", w.Kind, w.Name))
	}
	return o, nil
}

// placed reports whether the workload's pods are already bound for the
// account's dedicated node.
func (c *Cluster) placed(o object, accountID string) bool {
	sel := o.podSpec().NodeSelector
	return sel[c.cfg.PoolLabel] == c.cfg.DedicatedPool && sel[c.cfg.AccountLabel] == labelValue(accountID)
}

// dedicatedNodes names the account's dedicated nodes, by name; none when it
// has none.
func (c *Cluster) dedicatedNodes(ctx context.Context, accountID string) ([]string, error) {
	list, err := c.kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{
		LabelSelector: c.cfg.PoolLabel + "=" + c.cfg.DedicatedPool + "," + c.cfg.AccountLabel + "=" + labelValue(accountID)})
	if err != nil {
		return nil, c.wrap(ctx, err, "find the dedicated nodes")
	}
	var names []string
	for _, n := range list.Items {
		if n.DeletionTimestamp == nil {
			names = append(names, n.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// workload describes o. One bound for the dedicated nodes (and moved, or
// placed there by hand) is on the first of nodes, and on those of nodes its
// live pods run on.
func (c *Cluster) workload(ctx context.Context, o object, accountID string, nodes []string) (tierup.Workload, error) {
	w := tierup.Workload{Kind: o.kind(), Name: o.meta().Name, Replicas: int(o.desired()), Node: c.cfg.SharedPool}
	if orig, ok, _ := saved(o.meta()); ok && orig.Replicas != nil {
		w.Replicas = int(*orig.Replicas) // a StatefulSet mid-move has one extra
	}
	if orig, had, _ := saved(o.meta()); !c.placed(o, accountID) || len(nodes) == 0 || had && !orig.Moved {
		return w, nil
	}
	w.Node = nodes[0]
	on, err := c.podNodes(ctx, o)
	if err != nil {
		return w, c.wrap(ctx, err, "list the pods of "+o.kind()+" "+o.meta().Name)
	}
	for _, n := range nodes {
		if on[n] {
			w.Nodes = append(w.Nodes, n)
		}
	}
	return w, nil
}

// podNodes is the set of nodes o's live pods run on.
func (c *Cluster) podNodes(ctx context.Context, o object) (map[string]bool, error) {
	on := map[string]bool{}
	if o.selector() == nil {
		return on, nil // a CronJob: its jobs come and go
	}
	sel, err := metav1.LabelSelectorAsSelector(o.selector())
	if err != nil {
		return nil, err
	}
	pods, err := c.kc.CoreV1().Pods(o.meta().Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			on[p.Spec.NodeName] = true
		}
	}
	return on, nil
}

// accountObjects lists the workloads of the account's namespace.
func (c *Cluster) accountObjects(ctx context.Context, accountID string) ([]object, error) {
	ns, err := c.namespace(ctx, accountID)
	if errors.Is(err, tierup.ErrNotFound) {
		return nil, nil // no namespace yet: nothing deployed, nothing to move
	}
	if err != nil {
		return nil, err
	}
	return c.objects(ctx, ns)
}

// Workloads implements tierup.Cluster.
func (c *Cluster) Workloads(ctx context.Context, accountID string) ([]tierup.Workload, error) {
	objs, err := c.accountObjects(ctx, accountID)
	if err != nil {
		return nil, err
	}
	nodes, err := c.dedicatedNodes(ctx, accountID)
	if err != nil {
		return nil, err
	}
	ws := make([]tierup.Workload, 0, len(objs))
	for _, o := range objs {
		w, err := c.workload(ctx, o, accountID, nodes)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// PlanMigration implements tierup.Cluster: each workload not yet on the
// dedicated node, with the changes MigrateWorkload will make, computed by
// the same code on a copy that is never sent.
func (c *Cluster) PlanMigration(ctx context.Context, accountID string) ([]tierup.PlannedMove, error) {
	objs, err := c.accountObjects(ctx, accountID)
	if err != nil {
		return nil, err
	}
	nodes, err := c.dedicatedNodes(ctx, accountID)
	if err != nil {
		return nil, err
	}
	moves := []tierup.PlannedMove{}
	for _, o := range objs {
		orig, had, err := saved(o.meta())
		if err != nil {
			return nil, err
		}
		if c.placed(o, accountID) && (!had || orig.Moved) {
			continue // already there: moved before, or put there by hand
		}
		if !had {
			orig = o.capture()
		}
		w, err := c.workload(ctx, o, accountID, nil) // not moved: on the shared pool
		if err != nil {
			return nil, err
		}
		pdb, err := c.ensurePDB(ctx, o, false)
		if err != nil {
			return nil, err
		}
		changes := append(pdb, c.apply(o, orig, accountID)...)
		moves = append(moves, tierup.PlannedMove{Workload: w, Changes: changes, Nodes: nodes, Interruption: interruption(o, orig)})
	}
	return moves, nil
}

// apply turns o, from its original placement, into its placement on the
// dedicated nodes, spread over them, with a rollout that keeps every
// replica available, records the original on o and says what changed.
func (c *Cluster) apply(o object, orig original, accountID string) []string {
	restoreAll(o, orig)
	changes := c.place(o.podSpec(), accountID)
	changes = append(changes, c.spread(o, orig)...)
	changes = append(changes, o.surge()...)
	save(o.meta(), orig)
	return changes
}

func restoreAll(o object, orig original) {
	restorePod(o.podSpec(), orig)
	o.settle(orig)
}

// place binds a pod spec to the account's dedicated node and relaxes the
// rules that would keep its replicas from sharing one node.
func (c *Cluster) place(s *corev1.PodSpec, accountID string) []string {
	acct := labelValue(accountID)
	if s.NodeSelector == nil {
		s.NodeSelector = map[string]string{}
	}
	s.NodeSelector[c.cfg.PoolLabel] = c.cfg.DedicatedPool
	s.NodeSelector[c.cfg.AccountLabel] = acct
	changes := []string{fmt.Sprintf("node selector %s=%s, %s=%s", c.cfg.PoolLabel, c.cfg.DedicatedPool, c.cfg.AccountLabel, acct)}

	tol := corev1.Toleration{Key: c.cfg.TaintKey, Operator: corev1.TolerationOpEqual, Value: acct, Effect: corev1.TaintEffectNoSchedule}
	if !slices.ContainsFunc(s.Tolerations, func(t corev1.Toleration) bool { return t.MatchToleration(&tol) }) {
		s.Tolerations = append(s.Tolerations, tol)
	}
	changes = append(changes, fmt.Sprintf("toleration %s=%s:NoSchedule", c.cfg.TaintKey, acct))

	if a := s.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		dropped := false
		var terms []corev1.NodeSelectorTerm
		for _, term := range req.NodeSelectorTerms {
			n := len(term.MatchExpressions)
			term.MatchExpressions = slices.DeleteFunc(term.MatchExpressions, func(r corev1.NodeSelectorRequirement) bool {
				return r.Key == c.cfg.PoolLabel || r.Key == c.cfg.AccountLabel
			})
			if len(term.MatchExpressions) != n {
				dropped = true
				if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
					continue // an empty term matches no node at all
				}
			}
			terms = append(terms, term)
		}
		if dropped {
			changes = append(changes, fmt.Sprintf("required node affinity on %s dropped: the node selector takes its place", c.cfg.PoolLabel))
			req.NodeSelectorTerms = terms
			if len(terms) == 0 {
				a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = nil
			}
		}
	}
	if a := s.Affinity; a != nil && a.PodAntiAffinity != nil {
		var keep []corev1.PodAffinityTerm
		for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if t.TopologyKey != corev1.LabelHostname {
				keep = append(keep, t)
				continue
			}
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.WeightedPodAffinityTerm{Weight: 100, PodAffinityTerm: t})
			changes = append(changes, "required pod anti-affinity on kubernetes.io/hostname relaxed to preferred (weight 100): the account's dedicated nodes may be fewer than its replicas")
		}
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = keep
	}
	for i := range s.TopologySpreadConstraints {
		t := &s.TopologySpreadConstraints[i]
		if t.WhenUnsatisfiable == corev1.DoNotSchedule && (t.TopologyKey == corev1.LabelHostname || t.MinDomains != nil && *t.MinDomains > 1) {
			t.WhenUnsatisfiable = corev1.ScheduleAnyway
			changes = append(changes, fmt.Sprintf("topology spread on %s relaxed from DoNotSchedule to ScheduleAnyway: the account's dedicated nodes may be fewer than its replicas, and tierup's own spread over them keeps replicas apart", t.TopologyKey))
		}
	}
	return changes
}

// spread adds a topology spread constraint over the account's dedicated
// nodes by hostname, for o's own pods: with two nodes or more, a workload of
// two replicas or more never has them all on one node.
//
// DoNotSchedule, because ScheduleAnyway only weighs the scheduler's choice
// and can still stack every replica on one node. It cannot hold a move up:
// the node selector makes the account's dedicated nodes alone the domains
// (nodeAffinityPolicy Honor, the default), and nodeTaintsPolicy Honor
// leaves out a node the pod does not tolerate — one briefly NotReady or
// unreachable carries the node controller's NoSchedule taint — so the skew
// is counted over the nodes that can take a pod, and the one with the
// fewest replicas always can. The workload's pods on the shared pool are
// not counted either. Nothing to spread for a CronJob (its jobs run one at
// a time).
//
// A StatefulSet's extra replica for the move is not counted: it is the one
// removed at the end, and counted it could leave the others on one node.
func (c *Cluster) spread(o object, orig original) []string {
	if o.selector() == nil {
		return nil
	}
	sel := o.selector().DeepCopy()
	if _, ok := o.(*statefulSet); ok && orig.Replicas != nil {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: appsv1.StatefulSetPodNameLabel,
			Operator: metav1.LabelSelectorOpNotIn, Values: []string{fmt.Sprintf("%s-%d", o.meta().Name, *orig.Replicas)}})
	}
	s := o.podSpec()
	honor := corev1.NodeInclusionPolicyHonor
	s.TopologySpreadConstraints = append(s.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: sel, NodeTaintsPolicy: &honor,
	})
	return []string{"topology spread over the account's dedicated nodes by kubernetes.io/hostname: maxSkew 1, DoNotSchedule, its own pods"}
}

// ensurePDB makes sure a PodDisruptionBudget protects the workload's pods,
// creating one owned by the workload when create is set and none does.
func (c *Cluster) ensurePDB(ctx context.Context, o object, create bool) ([]string, error) {
	if o.selector() == nil {
		return nil, nil // a CronJob's jobs run to completion; nothing to budget
	}
	m := o.meta()
	pdbs, err := c.kc.PolicyV1().PodDisruptionBudgets(m.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, c.wrap(ctx, err, "list PodDisruptionBudgets")
	}
	name := "tierup-" + m.Name
	ownNote := []string{fmt.Sprintf("PodDisruptionBudget %s (maxUnavailable 1) created for it, owned by the %s", name, o.kind())}
	for _, p := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		// An empty selector selects every pod of the namespace (policy/v1).
		if err != nil || !sel.Matches(labels.Set(o.podLabels())) {
			continue
		}
		if p.Name == name && c.ours(&p.ObjectMeta) {
			return ownNote, nil
		}
		return []string{fmt.Sprintf("protected by its own PodDisruptionBudget %s", p.Name)}, nil
	}
	if !create {
		return ownNote, nil
	}
	one := intstr.FromInt32(1)
	kind := o.kind()
	if kind == "Function" {
		kind = "Deployment"
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: m.Namespace, Labels: map[string]string{c.cfg.ManagedByLabel: "tierup"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: m.Name, UID: m.UID}}},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: o.selector().DeepCopy(), MaxUnavailable: &one},
	}
	_, err = c.kc.PolicyV1().PodDisruptionBudgets(m.Namespace).Create(ctx, pdb, metav1.CreateOptions{FieldManager: "tierup"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, c.wrap(ctx, err, "create a PodDisruptionBudget")
	}
	return ownNote, nil
}

// change applies f to the freshest copy of o and sends it, again on a
// conflict with another writer.
func (c *Cluster) change(ctx context.Context, o object, f func()) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			if err := o.refresh(ctx, c.kc); err != nil {
				return err
			}
		}
		first = false
		f()
		return o.update(ctx, c.kc)
	})
}

// MigrateWorkload implements tierup.Cluster.
func (c *Cluster) MigrateWorkload(ctx context.Context, accountID string, w tierup.Workload, nodes []tierup.Node) (*tierup.MigrationReport, error) {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	to := strings.Join(names, ", ")
	if to == "" {
		to = "the dedicated nodes"
	}
	ns, err := c.namespace(ctx, accountID)
	if err != nil {
		return nil, err
	}
	o, err := c.get(ctx, ns, w)
	if errors.Is(err, tierup.ErrNotFound) {
		return &tierup.MigrationReport{Workload: w, Notes: []string{w.Kind + " " + w.Name + " no longer exists: nothing to move"}}, nil
	}
	if err != nil {
		return nil, err
	}
	orig, had, err := saved(o.meta())
	if err != nil {
		return nil, err
	}
	if !had {
		orig = o.capture()
	}
	notes, err := c.ensurePDB(ctx, o, true)
	if err != nil {
		return nil, err
	}
	var changes []string
	if err := c.change(ctx, o, func() { changes = c.apply(o, orig, accountID) }); err != nil {
		return nil, c.wrap(ctx, err, "patch "+w.Kind+" "+w.Name)
	}
	notes = append(notes, changes...)
	desired := int32(w.Replicas)
	if orig.Replicas != nil {
		desired = *orig.Replicas
	}
	c.log.InfoContext(ctx, "moving workload", "namespace", ns, "kind", w.Kind, "name", w.Name, "nodes", to)

	minAvail, err := c.rollout(ctx, o, accountID)
	if err == nil {
		// Back to its own strategy (and, for a StatefulSet, its own size).
		var settled int32
		moved := orig
		moved.Moved = true
		if err = c.change(ctx, o, func() { o.settle(orig); save(o.meta(), moved) }); err == nil {
			settled, err = c.rollout(ctx, o, accountID)
			minAvail = min(minAvail, settled)
		}
		err = c.wrap(ctx, err, "finish moving "+w.Kind+" "+w.Name)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("kube: moving %s %s was interrupted: %w", w.Kind, w.Name, ctx.Err())
		}
		if errors.Is(err, tierup.ErrClusterUnreachable) {
			return nil, err // the move resumes from the annotation when the cluster is back
		}
		c.log.WarnContext(ctx, "workload move failed; rolling back", "namespace", ns, "kind", w.Kind, "name", w.Name, "err", err)
		if rbErr := c.moveBack(ctx, o, orig); rbErr != nil {
			if errors.Is(rbErr, tierup.ErrClusterUnreachable) {
				return nil, rbErr // the retry after the pause finds the annotation and moves it again
			}
			return nil, tierup.Errorf(tierup.CodeMigrationFailed, "%s %s did not move to %s (%v), and rolling it back failed too: %v", w.Kind, w.Name, to, err, rbErr)
		}
		return nil, tierup.Errorf(tierup.CodeMigrationFailed, "%s %s did not move to %s (%v); it was rolled back to its previous pod template", w.Kind, w.Name, to, err)
	}
	// Where it runs now: the account's dedicated nodes as the cluster has
	// them (a node Karpenter replaced included), not only those asked for.
	current, err := c.dedicatedNodes(ctx, accountID)
	if err != nil {
		return nil, err
	}
	moved, err := c.workload(ctx, o, accountID, current)
	if err != nil {
		return nil, err
	}
	moved.Replicas = int(desired)
	if w.Kind == "CronJob" {
		minAvail = desired // no replica was stopped: running jobs were left alone
	}
	return &tierup.MigrationReport{Workload: moved, MinAvailable: int(minAvail), Notes: notes}, nil
}

// ReturnWorkload implements tierup.Cluster: it puts back the placement and
// strategy the workload had before tierup moved it.
func (c *Cluster) ReturnWorkload(ctx context.Context, accountID string, w tierup.Workload) error {
	ns, err := c.namespace(ctx, accountID)
	if err != nil {
		return err
	}
	// New pods must follow the workload back: the placement policy would
	// put the returning rollout's pods on the dedicated node again.
	if err := c.removePlacement(ctx, ns, accountID); err != nil {
		return err
	}
	o, err := c.get(ctx, ns, w)
	if errors.Is(err, tierup.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	orig, had, err := saved(o.meta())
	if err != nil {
		return err
	}
	if had {
		if err := c.moveBack(ctx, o, orig); err != nil {
			return err
		}
	}
	// The PodDisruptionBudget tierup made for the move goes with it.
	pdb, err := c.kc.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "tierup-"+w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return c.wrap(ctx, err, "read the move's PodDisruptionBudget")
	}
	if !c.ours(&pdb.ObjectMeta) {
		return nil
	}
	err = c.kc.PolicyV1().PodDisruptionBudgets(ns).Delete(ctx, pdb.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return c.wrap(ctx, err, "delete the move's PodDisruptionBudget")
}

// moveBack rolls o back to its original pod template, with the same
// no-downtime rollout, then to its own strategy, and forgets the original.
func (c *Cluster) moveBack(ctx context.Context, o object, orig original) error {
	err := c.change(ctx, o, func() {
		restoreAll(o, orig)
		o.retreat()
		save(o.meta(), orig)
	})
	if s, ok := o.(*statefulSet); ok && err == nil {
		err = c.unstick(ctx, s)
	}
	if err == nil {
		_, err = c.rollout(ctx, o, "")
	}
	if err == nil {
		err = c.change(ctx, o, func() {
			restoreAll(o, orig)
			delete(o.meta().Annotations, originalAnnotation)
		})
	}
	if err == nil {
		_, err = c.rollout(ctx, o, "")
	}
	return c.wrap(ctx, err, "roll "+o.kind()+" "+o.meta().Name+" back")
}

// unstick deletes the StatefulSet's pods that are not ready and not of its
// current template: the controller waits for them forever otherwise
// (Kubernetes' documented "forced rollback").
func (c *Cluster) unstick(ctx context.Context, s *statefulSet) error {
	deadline := time.Now().Add(c.cfg.RolloutTimeout)
	for s.s.Status.ObservedGeneration < s.s.Generation || s.s.Status.UpdateRevision == "" {
		if time.Now().After(deadline) {
			return fmt.Errorf("the StatefulSet controller did not take the rollback within %s", c.cfg.RolloutTimeout)
		}
		if err := sleep(ctx, c.poll); err != nil {
			return err
		}
		if err := s.refresh(ctx, c.kc); err != nil {
			return err
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(s.selector())
	if err != nil {
		return err
	}
	pods, err := c.kc.CoreV1().Pods(s.s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && !podReady(&p) && p.Labels[appsv1.StatefulSetRevisionLabel] != s.s.Status.UpdateRevision {
			c.log.InfoContext(ctx, "deleting a stuck pod for the rollback", "namespace", p.Namespace, "pod", p.Name)
			if err := c.kc.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// rollout watches o until its rollout is complete and, when accountID is
// set, every pod runs on the account's dedicated node. It returns the
// fewest available replicas seen.
func (c *Cluster) rollout(ctx context.Context, o object, accountID string) (int32, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RolloutTimeout)
	defer cancel()
	lowest := int32(math.MaxInt32)
	tick := time.NewTicker(4 * c.poll)
	defer tick.Stop()
	for {
		w, err := o.watch(ctx, c.kc)
		if err != nil {
			if ctx.Err() != nil || unreachable(err) {
				return lowest, c.rolloutErr(ctx, parent, o, err)
			}
			// e.g. a resource version too old: read it again and re-watch.
			if err := sleep(ctx, c.poll); err != nil {
				return lowest, c.rolloutErr(ctx, parent, o, err)
			}
			if err := o.refresh(ctx, c.kc); err != nil {
				return lowest, c.rolloutErr(ctx, parent, o, err)
			}
			continue
		}
		for open := true; open; {
			done, avail, failed := o.progress()
			lowest = min(lowest, avail)
			if failed != "" {
				w.Stop()
				return lowest, fmt.Errorf("%s", failed)
			}
			if done {
				ok, err := c.podsOn(ctx, o, accountID)
				if err != nil {
					w.Stop()
					return lowest, c.rolloutErr(ctx, parent, o, err)
				}
				if ok {
					w.Stop()
					return lowest, nil
				}
			}
			select {
			case ev, ok := <-w.ResultChan():
				switch {
				case !ok || ev.Type == watch.Error:
					open = false
				case ev.Type == watch.Deleted:
					w.Stop()
					return lowest, fmt.Errorf("%s %s was deleted during the move", o.kind(), o.meta().Name)
				default:
					o.set(ev.Object)
				}
			case <-tick.C: // pods lag the status: look again
			case <-ctx.Done():
				w.Stop()
				return lowest, c.rolloutErr(ctx, parent, o, ctx.Err())
			}
		}
		w.Stop()
		if err := o.refresh(ctx, c.kc); err != nil {
			return lowest, c.rolloutErr(ctx, parent, o, err)
		}
	}
}

func (c *Cluster) rolloutErr(ctx, parent context.Context, o object, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("the rollout did not complete within %s", c.cfg.RolloutTimeout)
	}
	return c.wrap(ctx, err, "watch the rollout of "+o.kind()+" "+o.meta().Name)
}

// podsOn reports whether every live pod of o is ready, and, when accountID
// is set, on a dedicated node of that account: any of them, so that a node
// Karpenter replaced (expiry, drift) still counts.
func (c *Cluster) podsOn(ctx context.Context, o object, accountID string) (bool, error) {
	sel := o.selector()
	if sel == nil {
		return true, nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	pods, err := c.kc.CoreV1().Pods(o.meta().Namespace).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		return false, err
	}
	var dedicated map[string]bool
	if accountID != "" {
		nodes, err := c.kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{
			LabelSelector: c.cfg.PoolLabel + "=" + c.cfg.DedicatedPool + "," + c.cfg.AccountLabel + "=" + labelValue(accountID)})
		if err != nil {
			return false, err
		}
		dedicated = map[string]bool{}
		for _, n := range nodes.Items {
			dedicated[n.Name] = true
		}
	}
	live := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		live++
		if dedicated != nil && !dedicated[p.Spec.NodeName] || !podReady(&p) {
			return false, nil
		}
	}
	return live >= int(o.desired()), nil
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
