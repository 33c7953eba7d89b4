package kube

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// originalAnnotation keeps, on the workload itself, what tierup changed,
// written in the same update as the change. A resumed migration, a rollback
// and a compensation all restore from it, so they survive a crash of tierup.
const originalAnnotation = "tierup.dev/original"

// original is the part of a workload tierup changes.
type original struct {
	NodeSelector        map[string]string                 `json:"nodeSelector,omitempty"`
	Tolerations         []corev1.Toleration               `json:"tolerations,omitempty"`
	Affinity            *corev1.Affinity                  `json:"affinity,omitempty"`
	TopologySpread      []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	DeploymentStrategy  *appsv1.DeploymentStrategy        `json:"deploymentStrategy,omitempty"`
	StatefulSetStrategy *appsv1.StatefulSetUpdateStrategy `json:"statefulSetStrategy,omitempty"`
	Replicas            *int32                            `json:"replicas,omitempty"`
	// Moved is set once the workload runs on the dedicated node; the rest
	// stays for compensation to put it back.
	Moved bool `json:"moved,omitempty"`
}

// object is one workload of any kind, behind the few operations a
// migration needs.
type object interface {
	kind() string // Deployment, StatefulSet, CronJob or Function
	meta() *metav1.ObjectMeta
	podSpec() *corev1.PodSpec
	podLabels() map[string]string
	selector() *metav1.LabelSelector // nil for a CronJob
	desired() int32
	capture() original
	// settle puts back the workload's own strategy and size, not its placement.
	settle(o original)
	// surge sets the rollout that keeps every replica available and says how.
	surge() []string
	// retreat sets the rollout for going back: as safe as surge, but one
	// that a pod stuck on the dedicated node cannot block.
	retreat()
	// progress reports whether the rollout is done and how many replicas are available.
	progress() (done bool, available int32, failed string)
	runtimeObject() runtime.Object
	set(obj runtime.Object) bool
	update(ctx context.Context, kc kubernetes.Interface) error
	refresh(ctx context.Context, kc kubernetes.Interface) error
	watch(ctx context.Context, kc kubernetes.Interface) (watch.Interface, error)
}

func nameSelector(name, rv string) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv}
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func saved(m *metav1.ObjectMeta) (original, bool, error) {
	raw, ok := m.Annotations[originalAnnotation]
	if !ok {
		return original{}, false, nil
	}
	var o original
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		return original{}, false, fmt.Errorf("kube: %s/%s: annotation %s is not valid: %w", m.Namespace, m.Name, originalAnnotation, err)
	}
	return o, true, nil
}

func save(m *metav1.ObjectMeta, o original) {
	b, _ := json.Marshal(o)
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[originalAnnotation] = string(b)
}

func capturePod(s *corev1.PodSpec) original {
	c := s.DeepCopy()
	return original{NodeSelector: c.NodeSelector, Tolerations: c.Tolerations, Affinity: c.Affinity, TopologySpread: c.TopologySpreadConstraints}
}

func restorePod(s *corev1.PodSpec, o original) {
	c := o.DeepCopy()
	s.NodeSelector, s.Tolerations, s.Affinity, s.TopologySpreadConstraints = c.NodeSelector, c.Tolerations, c.Affinity, c.TopologySpread
}

// DeepCopy copies o through JSON, which is all it holds.
func (o original) DeepCopy() original {
	b, _ := json.Marshal(o)
	var c original
	_ = json.Unmarshal(b, &c)
	return c
}

// deployment is a Deployment, or a Function when it carries the label.
type deployment struct {
	d        *appsv1.Deployment
	function bool
}

func (w *deployment) kind() string {
	if w.function {
		return "Function"
	}
	return "Deployment"
}
func (w *deployment) meta() *metav1.ObjectMeta        { return &w.d.ObjectMeta }
func (w *deployment) podSpec() *corev1.PodSpec        { return &w.d.Spec.Template.Spec }
func (w *deployment) podLabels() map[string]string    { return w.d.Spec.Template.Labels }
func (w *deployment) selector() *metav1.LabelSelector { return w.d.Spec.Selector }
func (w *deployment) desired() int32                  { return replicas(w.d.Spec.Replicas) }
func (w *deployment) runtimeObject() runtime.Object   { return w.d }
func (w *deployment) capture() original {
	o := capturePod(w.podSpec())
	o.DeploymentStrategy = w.d.Spec.Strategy.DeepCopy()
	return o
}
func (w *deployment) settle(o original) {
	if o.DeploymentStrategy != nil {
		w.d.Spec.Strategy = *o.DeploymentStrategy.DeepCopy()
	}
}
func (w *deployment) surge() []string {
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	s := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one}}
	old := w.d.Spec.Strategy
	w.d.Spec.Strategy = s
	if old.Type == s.Type && old.RollingUpdate != nil && old.RollingUpdate.MaxUnavailable != nil && old.RollingUpdate.MaxSurge != nil &&
		old.RollingUpdate.MaxUnavailable.String() == "0" && old.RollingUpdate.MaxSurge.String() == "1" {
		return []string{"rolling update with maxSurge 1, maxUnavailable 0 (its own strategy)"}
	}
	return []string{fmt.Sprintf("rolling update with maxSurge 1, maxUnavailable 0 during the move; its own strategy (%s) is restored afterwards", describeDeploymentStrategy(old))}
}
func (w *deployment) retreat() { w.surge() }
func (w *deployment) progress() (bool, int32, string) {
	st := w.d.Status
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" && st.ObservedGeneration >= w.d.Generation {
			return false, st.AvailableReplicas, c.Message
		}
	}
	want := w.desired()
	done := st.ObservedGeneration >= w.d.Generation && st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want
	return done, st.AvailableReplicas, ""
}
func (w *deployment) set(obj runtime.Object) bool {
	d, ok := obj.(*appsv1.Deployment)
	if ok {
		w.d = d
	}
	return ok
}
func (w *deployment) update(ctx context.Context, kc kubernetes.Interface) error {
	d, err := kc.AppsV1().Deployments(w.d.Namespace).Update(ctx, w.d, metav1.UpdateOptions{FieldManager: "tierup"})
	if err == nil {
		w.d = d
	}
	return err
}
func (w *deployment) refresh(ctx context.Context, kc kubernetes.Interface) error {
	d, err := kc.AppsV1().Deployments(w.d.Namespace).Get(ctx, w.d.Name, metav1.GetOptions{})
	if err == nil {
		w.d = d
	}
	return err
}
func (w *deployment) watch(ctx context.Context, kc kubernetes.Interface) (watch.Interface, error) {
	return kc.AppsV1().Deployments(w.d.Namespace).Watch(ctx, nameSelector(w.d.Name, w.d.ResourceVersion))
}

func describeDeploymentStrategy(s appsv1.DeploymentStrategy) string {
	if s.Type == appsv1.RecreateDeploymentStrategyType {
		return "Recreate"
	}
	if s.RollingUpdate == nil {
		return "RollingUpdate with the defaults, maxSurge 25%, maxUnavailable 25%"
	}
	str := func(p interface{ String() string }, def string) string {
		if p == nil {
			return def
		}
		return p.String()
	}
	var surge, unavail string
	if s.RollingUpdate.MaxSurge != nil {
		surge = str(s.RollingUpdate.MaxSurge, "25%")
	} else {
		surge = "25%"
	}
	if s.RollingUpdate.MaxUnavailable != nil {
		unavail = str(s.RollingUpdate.MaxUnavailable, "25%")
	} else {
		unavail = "25%"
	}
	return fmt.Sprintf("RollingUpdate maxSurge %s, maxUnavailable %s", surge, unavail)
}

// statefulSet moves through one extra replica: a StatefulSet cannot surge,
// so tierup scales it to N+1, rolls the pods one at a time (never more than
// one of the N+1 unavailable) and scales back to N on the dedicated node.
type statefulSet struct{ s *appsv1.StatefulSet }

func (w *statefulSet) kind() string                    { return "StatefulSet" }
func (w *statefulSet) meta() *metav1.ObjectMeta        { return &w.s.ObjectMeta }
func (w *statefulSet) podSpec() *corev1.PodSpec        { return &w.s.Spec.Template.Spec }
func (w *statefulSet) podLabels() map[string]string    { return w.s.Spec.Template.Labels }
func (w *statefulSet) selector() *metav1.LabelSelector { return w.s.Spec.Selector }
func (w *statefulSet) desired() int32                  { return replicas(w.s.Spec.Replicas) }
func (w *statefulSet) runtimeObject() runtime.Object   { return w.s }
func (w *statefulSet) capture() original {
	o := capturePod(w.podSpec())
	o.StatefulSetStrategy = w.s.Spec.UpdateStrategy.DeepCopy()
	r := w.desired()
	o.Replicas = &r
	return o
}
func (w *statefulSet) settle(o original) {
	if o.StatefulSetStrategy != nil {
		w.s.Spec.UpdateStrategy = *o.StatefulSetStrategy.DeepCopy()
	}
	if o.Replicas != nil {
		r := *o.Replicas
		w.s.Spec.Replicas = &r
	}
}
func (w *statefulSet) surge() []string {
	n := w.desired()
	var notes []string
	if w.inPlace() {
		notes = []string{"its one pod is replaced in place, without an extra replica: a second one would start on empty volumes of its own and serve as if it were " + w.s.Name}
	} else {
		notes = []string{fmt.Sprintf("one extra replica during the move (%d, then back to %d), pods replaced one at a time", n+1, n)}
	}
	old := w.s.Spec.UpdateStrategy
	w.s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
	if old.Type == appsv1.OnDeleteStatefulSetStrategyType || (old.RollingUpdate != nil && (old.RollingUpdate.Partition != nil && *old.RollingUpdate.Partition > 0 || old.RollingUpdate.MaxUnavailable != nil)) {
		notes = append(notes, "its own update strategy is restored afterwards; a template change it held back rolls out with the move")
	}
	if w.inPlace() {
		return notes
	}
	n1 := n + 1
	w.s.Spec.Replicas = &n1
	if len(w.s.Spec.VolumeClaimTemplates) > 0 {
		notes = append(notes, fmt.Sprintf("the extra replica's volume claims (ordinal %d) are kept by the StatefulSet's retention policy", n))
	}
	return notes
}

// inPlace reports whether the StatefulSet moves without an extra replica:
// with one replica and volume claim templates, its data is on that pod's
// own volumes, so an extra pod (ordinal 1) would be a second, empty
// instance taking traffic rather than a copy of the first. Its pod is
// restarted on the dedicated node instead, a brief interruption the plan
// announces. With two or more replicas the set is a cluster that lets a
// member join, and without volume claims every pod is alike: both move
// through one extra replica and keep serving.
func (w *statefulSet) inPlace() bool {
	return w.desired() == 1 && len(w.s.Spec.VolumeClaimTemplates) > 0
}

// interruption says why, and for about how long, o is unavailable while it
// moves; "" when it keeps serving. orig is its size before the move.
func interruption(o object, orig original) string {
	s, ok := o.(*statefulSet)
	if !ok || orig.Replicas == nil || *orig.Replicas != 1 || len(s.s.Spec.VolumeClaimTemplates) == 0 {
		return ""
	}
	return fmt.Sprintf("StatefulSet %s has 1 replica: it is unavailable for about the time its pod takes to restart on the dedicated node "+
		"(a StatefulSet cannot surge: its pod's name and volumes are its own, and an extra replica would start without its data)", s.s.Name)
}

// retreat rolls back at the StatefulSet's own size: an extra replica that
// cannot start would hold an OrderedReady rollout forever.
func (w *statefulSet) retreat() {
	w.s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
}
func (w *statefulSet) progress() (bool, int32, string) {
	st := w.s.Status
	want := replicas(w.s.Spec.Replicas)
	done := st.ObservedGeneration >= w.s.Generation && st.Replicas == want && st.UpdatedReplicas == want &&
		st.ReadyReplicas == want && st.AvailableReplicas == want && st.CurrentRevision == st.UpdateRevision
	return done, st.AvailableReplicas, ""
}
func (w *statefulSet) set(obj runtime.Object) bool {
	s, ok := obj.(*appsv1.StatefulSet)
	if ok {
		w.s = s
	}
	return ok
}
func (w *statefulSet) update(ctx context.Context, kc kubernetes.Interface) error {
	s, err := kc.AppsV1().StatefulSets(w.s.Namespace).Update(ctx, w.s, metav1.UpdateOptions{FieldManager: "tierup"})
	if err == nil {
		w.s = s
	}
	return err
}
func (w *statefulSet) refresh(ctx context.Context, kc kubernetes.Interface) error {
	s, err := kc.AppsV1().StatefulSets(w.s.Namespace).Get(ctx, w.s.Name, metav1.GetOptions{})
	if err == nil {
		w.s = s
	}
	return err
}
func (w *statefulSet) watch(ctx context.Context, kc kubernetes.Interface) (watch.Interface, error) {
	return kc.AppsV1().StatefulSets(w.s.Namespace).Watch(ctx, nameSelector(w.s.Name, w.s.ResourceVersion))
}

// cronJob changes only its job template: jobs already running finish where
// they are, the next ones start on the dedicated node.
type cronJob struct{ j *batchv1.CronJob }

func (w *cronJob) kind() string                    { return "CronJob" }
func (w *cronJob) meta() *metav1.ObjectMeta        { return &w.j.ObjectMeta }
func (w *cronJob) podSpec() *corev1.PodSpec        { return &w.j.Spec.JobTemplate.Spec.Template.Spec }
func (w *cronJob) podLabels() map[string]string    { return w.j.Spec.JobTemplate.Spec.Template.Labels }
func (w *cronJob) selector() *metav1.LabelSelector { return nil }
func (w *cronJob) desired() int32                  { return 1 }
func (w *cronJob) runtimeObject() runtime.Object   { return w.j }
func (w *cronJob) capture() original               { return capturePod(w.podSpec()) }
func (w *cronJob) settle(original)                 {}
func (w *cronJob) surge() []string {
	return []string{"job template patched: running jobs finish where they are, the next runs start on the dedicated node"}
}
func (w *cronJob) retreat()                        {}
func (w *cronJob) progress() (bool, int32, string) { return true, 1, "" }
func (w *cronJob) set(obj runtime.Object) bool {
	j, ok := obj.(*batchv1.CronJob)
	if ok {
		w.j = j
	}
	return ok
}
func (w *cronJob) update(ctx context.Context, kc kubernetes.Interface) error {
	j, err := kc.BatchV1().CronJobs(w.j.Namespace).Update(ctx, w.j, metav1.UpdateOptions{FieldManager: "tierup"})
	if err == nil {
		w.j = j
	}
	return err
}
func (w *cronJob) refresh(ctx context.Context, kc kubernetes.Interface) error {
	j, err := kc.BatchV1().CronJobs(w.j.Namespace).Get(ctx, w.j.Name, metav1.GetOptions{})
	if err == nil {
		w.j = j
	}
	return err
}
func (w *cronJob) watch(ctx context.Context, kc kubernetes.Interface) (watch.Interface, error) {
	return kc.BatchV1().CronJobs(w.j.Namespace).Watch(ctx, nameSelector(w.j.Name, w.j.ResourceVersion))
}
