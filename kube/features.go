package kube

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"

	"github.com/tierup/tierup"
)

// Names of what EnableFeatures keeps in the account's namespace.
const (
	QuotaName  = "tierup-plan"
	BackupName = "tierup-daily-backup"
)

// Namespace labels EnableFeatures sets: the plan, its tier and one label
// per AIOps capability (tierup.dev/aiops-<capability>=enabled).
const (
	PlanLabel   = "tierup.dev/plan"
	TierLabel   = "tierup.dev/tier"
	AIOpsPrefix = "tierup.dev/aiops-"
)

var veleroScheduleGVR = schema.GroupVersionResource{Group: "velero.io", Version: "v1", Resource: "schedules"}

// EnableFeatures implements tierup.Cluster: the namespace's quota, backups,
// labels and placement policy follow the plan. Each part is written whole, so a repeat
// changes nothing and a plan with fewer rights takes them away.
func (c *Cluster) EnableFeatures(ctx context.Context, accountID string, plan *tierup.Plan) error {
	ns, err := c.namespace(ctx, accountID)
	if err != nil {
		return err
	}
	if err := c.labelNamespace(ctx, ns, accountID, plan); err != nil {
		return err
	}
	if err := c.applyQuota(ctx, ns, accountID, plan); err != nil {
		return err
	}
	if err := c.applyBackups(ctx, ns, accountID, plan); err != nil {
		return err
	}
	// Last: the workloads are on the dedicated node by now (the step runs
	// after the migration), and from here on so are the account's new pods.
	return c.applyPlacement(ctx, ns, accountID, plan)
}

// ensureNamespace makes the account's namespace when it has deployed
// nothing yet, so that the plan's quota and backups are there for its
// first deploy.
func (c *Cluster) ensureNamespace(ctx context.Context, ns, accountID string) error {
	_, err := c.kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{c.cfg.AccountLabel: labelValue(accountID)}}}, metav1.CreateOptions{FieldManager: "tierup"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return c.wrap(ctx, err, "create namespace "+ns)
}

func (c *Cluster) labelNamespace(ctx context.Context, ns, accountID string, plan *tierup.Plan) error {
	if err := c.ensureNamespace(ctx, ns, accountID); err != nil {
		return err
	}
	namespaces := c.kc.CoreV1().Namespaces()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := namespaces.Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		for k := range n.Labels {
			if strings.HasPrefix(k, AIOpsPrefix) {
				delete(n.Labels, k)
			}
		}
		n.Labels[PlanLabel] = labelValue(plan.ID)
		n.Labels[TierLabel] = labelValue(plan.Tier)
		for _, f := range plan.Entitlements.AIOps {
			n.Labels[AIOpsPrefix+labelValue(strings.ReplaceAll(f, "_", "-"))] = "enabled"
		}
		_, err = namespaces.Update(ctx, n, metav1.UpdateOptions{FieldManager: "tierup"})
		return err
	})
	return c.wrap(ctx, err, "label namespace "+ns)
}

// StorageClass is the StorageClass a plan's storage entitlement means here.
func (c *Cluster) StorageClass(plan *tierup.Plan) string {
	if plan.Entitlements.StorageClass == "ssd" {
		return c.cfg.SSDStorageClass
	}
	return plan.Entitlements.StorageClass
}

// Quota is the hard limits of the plan's ResourceQuota: storage requests on
// the plan's StorageClass, and counts only where the plan has a limit.
func (c *Cluster) Quota(plan *tierup.Plan) corev1.ResourceList {
	hard := corev1.ResourceList{}
	if plan.Limits.StorageGB > 0 {
		hard[corev1.ResourceName(c.StorageClass(plan)+".storageclass.storage.k8s.io/requests.storage")] =
			resource.MustParse(fmt.Sprintf("%dGi", plan.Limits.StorageGB))
	}
	if plan.Limits.CronJobs != nil {
		n := *plan.Limits.CronJobs
		if backups(plan) {
			n++ // the backup CronJob is tierup's, not one of the customer's
		}
		hard["count/cronjobs.batch"] = *resource.NewQuantity(n, resource.DecimalSI)
	}
	// Functions are Deployments with a label, which a quota cannot count
	// apart; their limit is enforced where they are created.
	return hard
}

func (c *Cluster) applyQuota(ctx context.Context, ns, accountID string, plan *tierup.Plan) error {
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: QuotaName, Namespace: ns, Labels: c.managedLabels(accountID)},
		Spec:       corev1.ResourceQuotaSpec{Hard: c.Quota(plan)},
	}
	quotas := c.kc.CoreV1().ResourceQuotas(ns)
	_, err := quotas.Create(ctx, q, metav1.CreateOptions{FieldManager: "tierup"})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := quotas.Get(ctx, QuotaName, metav1.GetOptions{})
		if gerr != nil {
			return c.wrap(ctx, gerr, "read the namespace's quota")
		}
		cur.Spec.Hard, cur.Labels = q.Spec.Hard, q.Labels
		_, err = quotas.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "tierup"})
	}
	return c.wrap(ctx, err, "write the namespace's quota")
}

// applyBackups schedules daily backups kept for the plan's retention: a
// Velero Schedule when Velero is installed, else a CronJob in the
// namespace. A plan without backups removes both.
func (c *Cluster) applyBackups(ctx context.Context, ns, accountID string, plan *tierup.Plan) error {
	days := plan.Limits.BackupRetentionDays
	want := backups(plan)
	velero := c.cfg.Backups == "velero"
	if c.cfg.Backups == "auto" {
		var err error
		if velero, err = c.hasVelero(ctx); err != nil {
			return err
		}
	}
	jobs := c.kc.BatchV1().CronJobs(ns)
	if velero {
		// A CronJob from before Velero was installed is not needed any more.
		if err := jobs.Delete(ctx, BackupName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return c.wrap(ctx, err, "remove the backup CronJob")
		}
		return c.veleroSchedule(ctx, ns, accountID, days, want)
	}
	if !want {
		err := jobs.Delete(ctx, BackupName, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return c.wrap(ctx, err, "remove the backup CronJob")
	}
	job := c.backupCronJob(ns, accountID, plan, days)
	_, err := jobs.Create(ctx, job, metav1.CreateOptions{FieldManager: "tierup"})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := jobs.Get(ctx, BackupName, metav1.GetOptions{})
		if gerr != nil {
			return c.wrap(ctx, gerr, "read the backup CronJob")
		}
		cur.Labels, cur.Spec = job.Labels, job.Spec
		_, err = jobs.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "tierup"})
	}
	return c.wrap(ctx, err, "write the backup CronJob")
}

// backups reports whether the plan comes with daily backups.
func backups(plan *tierup.Plan) bool {
	return plan.Entitlements.Backups == "daily" && plan.Limits.BackupRetentionDays > 0
}

func (c *Cluster) backupCronJob(ns, accountID string, plan *tierup.Plan, days int64) *batchv1.CronJob {
	history := int32(3)
	pod := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyOnFailure,
		Containers: []corev1.Container{{
			Name:  "backup",
			Image: c.cfg.BackupImage,
			Env: []corev1.EnvVar{
				{Name: "NAMESPACE", Value: ns},
				{Name: "RETENTION_DAYS", Value: fmt.Sprint(days)},
			},
		}},
	}
	if plan.Entitlements.NodePool == "dedicated" {
		c.place(&pod, accountID)
	}
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: BackupName, Namespace: ns, Labels: c.managedLabels(accountID)},
		Spec: batchv1.CronJobSpec{
			Schedule:                   c.cfg.BackupSchedule,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: &history,
			FailedJobsHistoryLimit:     &history,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: c.managedLabels(accountID)},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: c.managedLabels(accountID)},
					Spec:       pod,
				}},
			},
		},
	}
}

func (c *Cluster) hasVelero(ctx context.Context) (bool, error) {
	list, err := c.kc.Discovery().ServerResourcesForGroupVersion("velero.io/v1")
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, c.wrap(ctx, err, "look for Velero")
	}
	for _, r := range list.APIResources {
		if r.Name == "schedules" {
			return true, nil
		}
	}
	return false, nil
}

func (c *Cluster) veleroSchedule(ctx context.Context, ns, accountID string, days int64, want bool) error {
	schedules := c.dyn.Resource(veleroScheduleGVR).Namespace(c.cfg.VeleroNamespace)
	name := "tierup-" + ns
	if !want {
		err := schedules.Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return c.wrap(ctx, err, "remove the Velero Schedule")
	}
	labels := map[string]any{}
	for k, v := range c.managedLabels(accountID) {
		labels[k] = v
	}
	spec := map[string]any{
		"schedule": c.cfg.BackupSchedule,
		"template": map[string]any{"includedNamespaces": []any{ns}, "ttl": fmt.Sprintf("%dh0m0s", days*24)},
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Schedule",
		"metadata": map[string]any{"name": name, "namespace": c.cfg.VeleroNamespace, "labels": labels},
		"spec":     spec,
	}}
	_, err := schedules.Create(ctx, obj, metav1.CreateOptions{FieldManager: "tierup"})
	if apierrors.IsAlreadyExists(err) {
		cur, gerr := schedules.Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return c.wrap(ctx, gerr, "read the Velero Schedule")
		}
		cur.Object["spec"] = spec
		_, err = schedules.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "tierup"})
	}
	return c.wrap(ctx, err, "write the Velero Schedule")
}
