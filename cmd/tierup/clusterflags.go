package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/tierup/tierup/kube"
	"github.com/tierup/tierup/sim"
)

// kubeCapacity writes a capacity map as the --kwok-capacity flag takes it.
func kubeCapacity(c map[string]string) string {
	parts := make([]string, 0, len(c))
	for name, q := range c {
		parts = append(parts, name+"="+q)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// quantities reads a flag of name=quantity pairs separated by commas; an
// empty flag keeps def.
func quantities(flag, value string, def map[string]string) (map[string]string, error) {
	if value == "" {
		return def, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(value, ",") {
		name, q, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || name == "" || q == "" {
			return nil, fmt.Errorf("--%s %q: want name=quantity pairs separated by commas, e.g. cpu=4,memory=16Gi", flag, value)
		}
		out[name] = q
	}
	return out, nil
}

// clusterFlags are the flags of the cluster tierup drives, shared by the
// server and migrate-plan.
func clusterFlags(fs *pflag.FlagSet, o *options) {
	sd, kd := sim.DefaultConfig(), kube.Config{}.Defaults()
	fs.StringVar(&o.cluster, "cluster", "sim", "cluster: sim (simulated, state in the database) or kube (a Kubernetes cluster)")
	fs.DurationVar(&o.simProvisionDelay, "sim-provision-delay", sd.ProvisionDelay, "simulated cluster: time a dedicated node takes to become ready")
	fs.DurationVar(&o.simMigrateDelay, "sim-migrate-delay", sd.MigrateDelay, "simulated cluster: time one workload takes to move")
	fs.IntVar(&o.simCapacity, "sim-capacity", sd.Capacity, "simulated cluster: dedicated nodes it can hold")

	k := &o.kube
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kube: kubeconfig file; empty means the in-cluster config of the pod tierup runs in, else $KUBECONFIG or ~/.kube/config")
	fs.StringVar(&k.NamespaceTemplate, "kube-namespace-template", kd.NamespaceTemplate, "kube: name of an account's namespace; {account} is the account ID, lower-cased, '_' as '-'")
	fs.StringVar(&k.NamespaceSelector, "kube-namespace-label", "", "kube: find an account's namespace by this label (=<account ID>) instead of by name")
	fs.StringVar(&k.PoolLabel, "kube-pool-label", kd.PoolLabel, "kube: node label telling the shared pool from dedicated nodes")
	fs.StringVar(&k.SharedPool, "kube-shared-pool", kd.SharedPool, "kube: how a workload not on a dedicated node is reported (tierup needs no label on shared nodes)")
	fs.StringVar(&k.DedicatedPool, "kube-dedicated-pool", kd.DedicatedPool, "kube: pool label value of dedicated nodes")
	fs.StringVar(&k.AccountLabel, "kube-account-label", kd.AccountLabel, "kube: node label naming a dedicated node's account")
	fs.StringVar(&k.TaintKey, "kube-taint-key", kd.TaintKey, "kube: taint key of dedicated nodes (value: the account, effect NoSchedule)")
	fs.StringVar(&k.FunctionLabel, "kube-function-label", kd.FunctionLabel, "kube: a Deployment carrying this label is a Function")
	fs.StringVar(&k.Provisioner, "kube-provisioner", kd.Provisioner, "kube: how dedicated nodes are made: kwok or karpenter")
	fs.DurationVar(&k.ProvisionTimeout, "kube-provision-timeout", kd.ProvisionTimeout, "kube: wait this long for a Ready dedicated node before reporting a resource shortage (retried)")
	fs.DurationVar(&k.RolloutTimeout, "kube-rollout-timeout", kd.RolloutTimeout, "kube: wait this long for one workload's rollout before rolling it back")
	fs.StringVar(&k.SSDStorageClass, "kube-ssd-storage-class", kd.SSDStorageClass, "kube: StorageClass of the plans' SSD storage (quota on its requests.storage)")
	fs.StringVar(&k.Backups, "kube-backups", kd.Backups, "kube: daily backups as a Velero Schedule (velero), a CronJob in the namespace (cronjob), or Velero when its CRD is installed (auto)")
	fs.StringVar(&k.BackupImage, "kube-backup-image", kd.BackupImage, "kube: image of the daily backup CronJob, used unless backups go to Velero (gets NAMESPACE and RETENTION_DAYS); tierup does not ship one")
	fs.StringVar(&k.BackupSchedule, "kube-backup-schedule", kd.BackupSchedule, "kube: cron schedule of the daily backup")
	fs.StringVar(&k.VeleroNamespace, "kube-velero-namespace", kd.VeleroNamespace, "kube: namespace of the Velero Schedules, when backups go to Velero")
	fs.StringVar(&o.kwokCapacity, "kwok-capacity", kubeCapacity(kd.Kwok.Capacity), "kube, kwok provisioner: capacity of a dedicated node")
	fs.StringVar(&k.Karpenter.NodeClassRef, "karpenter-nodeclass", kd.Karpenter.NodeClassRef, "kube, karpenter provisioner: group/kind/name of the NodePool's node class")
	fs.StringVar(&k.Karpenter.PlaceholderImage, "karpenter-placeholder-image", kd.Karpenter.PlaceholderImage, "kube, karpenter provisioner: image of the small pod that makes Karpenter launch the account's node")
	fs.StringVar(&o.karpenterLimits, "karpenter-limits", "", "kube, karpenter provisioner: resource limits of each account's NodePool besides its one node, e.g. cpu=16,memory=64Gi; none by default")
	fs.StringVar(&o.karpenterReqs, "karpenter-requirements", "", `kube, karpenter provisioner: instance requirements as JSON, e.g. [{"key":"node.kubernetes.io/instance-type","operator":"In","values":["m7i.xlarge"]}]; default on-demand amd64`)
}

// parseKube reads the kube flags that are not plain strings.
func (o *options) parseKube(k *kube.Config) error {
	var err error
	if k.Kwok.Capacity, err = quantities("kwok-capacity", o.kwokCapacity, k.Kwok.Capacity); err != nil {
		return err
	}
	if k.Karpenter.Limits, err = quantities("karpenter-limits", o.karpenterLimits, k.Karpenter.Limits); err != nil {
		return err
	}
	if o.karpenterReqs != "" {
		if err := json.Unmarshal([]byte(o.karpenterReqs), &k.Karpenter.Requirements); err != nil {
			return fmt.Errorf("--karpenter-requirements: not a JSON list of {key, operator, values}: %v", err)
		}
	}
	if o.cluster == "kube" {
		return k.Defaults().Validate()
	}
	return nil
}
