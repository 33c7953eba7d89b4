// Package kube is tierup's Kubernetes cluster: each account owns a
// namespace, its dedicated node is made by a node provisioner (kwok or
// Karpenter), and its Deployments, StatefulSets and CronJobs move onto that
// node one at a time with no loss of availability.
//
// Errors: an API server that cannot be reached is cluster_unreachable (the
// upgrade pauses); no capacity, or no usable node in time, is
// resource_shortage (retried); a rollout that fails or times out is rolled
// back and reported as migration_failed.
package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tierup/tierup"
)

// Config says how tierup finds an account's things in the cluster. Every
// name is configurable so that tierup fits a cluster's existing conventions;
// Defaults fills what is left empty.
type Config struct {
	// NamespaceTemplate names an account's namespace; {account} is replaced
	// by the account ID, lower-cased with characters a namespace name
	// cannot hold turned into '-'. Default "tierup-{account}".
	NamespaceTemplate string
	// NamespaceSelector, when set, is a label key: the account's namespace
	// is the one labelled <key>=<account ID>, and NamespaceTemplate is not
	// used.
	NamespaceSelector string

	PoolLabel      string // node label telling pools apart; default tierup.dev/pool
	SharedPool     string // its value on shared nodes; default shared
	DedicatedPool  string // its value on dedicated nodes; default dedicated
	AccountLabel   string // node label naming the owner of a dedicated node; default tierup.dev/account
	TaintKey       string // taint keeping others off a dedicated node; default tierup.dev/dedicated (value: the account, effect NoSchedule)
	FunctionLabel  string // a Deployment with this label is a Function; default tierup.dev/function
	ManagedByLabel string // marks objects tierup made; default app.kubernetes.io/managed-by (value tierup)

	// Provisioner makes dedicated nodes: "kwok" (default) or "karpenter".
	Provisioner string
	Kwok        KwokConfig
	Karpenter   KarpenterConfig

	ProvisionTimeout time.Duration // wait for a Ready node before reporting a shortage; default 3m
	RolloutTimeout   time.Duration // wait for one workload's rollout before rolling back; default 5m

	// SSDStorageClass is the StorageClass the plans' "ssd" entitlement
	// means; other entitlements name their class directly. Default ssd.
	SSDStorageClass string
	// Backups says how daily backups are made: "velero" (a Velero
	// Schedule), "cronjob" (a CronJob in the namespace) or "auto" (the
	// default: Velero when its Schedule CRD is installed, else the CronJob).
	Backups string
	// BackupImage runs the daily backup CronJob; it gets NAMESPACE and
	// RETENTION_DAYS in its environment.
	BackupImage string
	// BackupSchedule is the cron schedule of the daily backup; default "0 3 * * *".
	BackupSchedule string
	// VeleroNamespace is where a Velero Schedule goes when Velero's CRDs are
	// installed; default velero.
	VeleroNamespace string
}

// KwokConfig shapes nodes made for kwok, which plays their kubelet.
type KwokConfig struct {
	// Annotations go on each node; kwok manages nodes it is configured to
	// select by annotation. Default kwok.x-k8s.io/node=fake.
	Annotations map[string]string
	// Capacity of each node, e.g. {"cpu": "4", "memory": "16Gi", "pods": "110"} (the default).
	Capacity map[string]string
}

// KarpenterConfig shapes the NodePool made for each account.
type KarpenterConfig struct {
	// PlaceholderImage runs the one small pod that makes Karpenter launch
	// the account's node. Default registry.k8s.io/pause:3.10.
	PlaceholderImage string
	// NodeClassRef is group/kind/name of the cloud's node class, e.g.
	// karpenter.k8s.aws/EC2NodeClass/default (the default).
	NodeClassRef string
	// Requirements constrain the instance, as Karpenter's
	// NodeSelectorRequirements: key, operator, values. Default: on-demand
	// amd64 capacity.
	Requirements []Requirement
	// Limits caps each account's NodePool beyond its one node, as
	// Karpenter's NodePool limits, e.g. {"cpu": "16"}: Karpenter then
	// launches no instance type larger than that. None by default.
	Limits map[string]string
}

// Requirement is one instance requirement of a Karpenter NodePool.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Defaults returns c with every empty field set to its default.
func (c Config) Defaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.NamespaceTemplate, "tierup-{account}")
	def(&c.PoolLabel, "tierup.dev/pool")
	def(&c.SharedPool, "shared")
	def(&c.DedicatedPool, "dedicated")
	def(&c.AccountLabel, "tierup.dev/account")
	def(&c.TaintKey, "tierup.dev/dedicated")
	def(&c.FunctionLabel, "tierup.dev/function")
	def(&c.ManagedByLabel, "app.kubernetes.io/managed-by")
	def(&c.Provisioner, "kwok")
	def(&c.SSDStorageClass, "ssd")
	def(&c.BackupImage, "tierup/namespace-backup:1")
	def(&c.BackupSchedule, "0 3 * * *")
	def(&c.VeleroNamespace, "velero")
	def(&c.Backups, "auto")
	def(&c.Karpenter.PlaceholderImage, "registry.k8s.io/pause:3.10")
	def(&c.Karpenter.NodeClassRef, "karpenter.k8s.aws/EC2NodeClass/default")
	if len(c.Kwok.Annotations) == 0 {
		c.Kwok.Annotations = map[string]string{"kwok.x-k8s.io/node": "fake"}
	}
	if len(c.Kwok.Capacity) == 0 {
		c.Kwok.Capacity = map[string]string{"cpu": "4", "memory": "16Gi", "pods": "110"}
	}
	if len(c.Karpenter.Requirements) == 0 {
		c.Karpenter.Requirements = []Requirement{
			{Key: "karpenter.sh/capacity-type", Operator: "In", Values: []string{"on-demand"}},
			{Key: "kubernetes.io/arch", Operator: "In", Values: []string{"amd64"}},
		}
	}
	if c.ProvisionTimeout <= 0 {
		c.ProvisionTimeout = 3 * time.Minute
	}
	if c.RolloutTimeout <= 0 {
		c.RolloutTimeout = 5 * time.Minute
	}
	return c
}

// Validate reports configuration a cluster cannot work with.
func (c Config) Validate() error {
	if c.Provisioner != "kwok" && c.Provisioner != "karpenter" {
		return fmt.Errorf("kube: provisioner %q: want kwok or karpenter", c.Provisioner)
	}
	if c.Backups != "auto" && c.Backups != "velero" && c.Backups != "cronjob" {
		return fmt.Errorf("kube: backups %q: want auto, velero or cronjob", c.Backups)
	}
	if c.NamespaceSelector == "" && !strings.Contains(c.NamespaceTemplate, "{account}") {
		return fmt.Errorf("kube: namespace template %q must contain {account}", c.NamespaceTemplate)
	}
	if _, _, _, err := c.nodeClassRef(); err != nil && c.Provisioner == "karpenter" {
		return err
	}
	for name, q := range c.Kwok.Capacity {
		if _, err := resource.ParseQuantity(q); err != nil {
			return fmt.Errorf("kube: kwok capacity %s=%q: %v", name, q, err)
		}
	}
	for name, q := range c.Karpenter.Limits {
		if _, err := resource.ParseQuantity(q); err != nil || name == "nodes" {
			return fmt.Errorf("kube: karpenter limit %s=%q: want a resource quantity (nodes is always 1)", name, q)
		}
	}
	return nil
}

func (c Config) nodeClassRef() (group, kind, name string, err error) {
	parts := strings.Split(c.Karpenter.NodeClassRef, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("kube: karpenter node class %q: want group/kind/name", c.Karpenter.NodeClassRef)
	}
	return parts[0], parts[1], parts[2], nil
}

// Cluster implements tierup.Cluster on a Kubernetes cluster.
type Cluster struct {
	cfg  Config
	kc   kubernetes.Interface
	dyn  dynamic.Interface
	prov provisioner
	log  *slog.Logger
	poll time.Duration
}

var _ tierup.Cluster = (*Cluster)(nil)

// RESTConfig loads a client configuration from kubeconfig; when it is
// empty, the pod's in-cluster configuration, else kubectl's default
// ($KUBECONFIG, ~/.kube/config). Requests time out so
// that a vanished API server surfaces as unreachable rather than a hang.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if kubeconfig == "" {
		// In a pod, the pod's ServiceAccount; elsewhere what kubectl would
		// use ($KUBECONFIG, then ~/.kube/config).
		rc, err = rest.InClusterConfig()
		if err != nil {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
			if err != nil {
				return nil, fmt.Errorf("kube: not running in a pod, and no usable kubeconfig ($KUBECONFIG or ~/.kube/config; or pass --kubeconfig): %w", err)
			}
		}
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kube: kubeconfig %s: %w", kubeconfig, err)
		}
	}
	rc.Timeout = 20 * time.Second
	rc.UserAgent = "tierup"
	rc.QPS, rc.Burst = 50, 100
	return rc, nil
}

// New returns a cluster talking to the API server rc describes.
func New(rc *rest.Config, cfg Config, log *slog.Logger) (*Cluster, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	c := &Cluster{cfg: cfg, kc: kc, dyn: dyn, log: log, poll: 100 * time.Millisecond}
	switch cfg.Provisioner {
	case "karpenter":
		c.prov = &karpenter{c: c}
	default:
		c.prov = &kwok{c: c}
	}
	return c, nil
}

// Config returns the cluster's configuration with defaults applied.
func (c *Cluster) Config() Config { return c.cfg }

// Ping checks that the API server answers and returns its version.
func (c *Cluster) Ping(ctx context.Context) (string, error) {
	v, err := c.kc.Discovery().ServerVersion()
	if err != nil {
		return "", c.wrap(ctx, err, "reach the API server")
	}
	return v.GitVersion, nil
}

// Characters a DNS label, and a label value, cannot hold.
var (
	invalidNameChars  = regexp.MustCompile(`[^a-z0-9-]+`)
	invalidLabelChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// dnsLabel turns s into a valid DNS-1123 label fragment.
func dnsLabel(s string) string {
	s = strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return s
}

// shortHash is a stable 8-hex-digit digest for names derived from keys.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// namespace finds the account's namespace.
func (c *Cluster) namespace(ctx context.Context, accountID string) (string, error) {
	if c.cfg.NamespaceSelector == "" {
		return strings.ReplaceAll(c.cfg.NamespaceTemplate, "{account}", dnsLabel(accountID)), nil
	}
	list, err := c.kc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: c.cfg.NamespaceSelector + "=" + accountID})
	if err != nil {
		return "", c.wrap(ctx, err, "find the account's namespace")
	}
	switch len(list.Items) {
	case 0:
		return "", tierup.Errorf(tierup.CodeNotFound, "no namespace is labelled %s=%s", c.cfg.NamespaceSelector, accountID)
	case 1:
		return list.Items[0].Name, nil
	}
	return "", tierup.Errorf(tierup.CodeConflict, "%d namespaces are labelled %s=%s; want one", len(list.Items), c.cfg.NamespaceSelector, accountID)
}

func (c *Cluster) managedLabels(accountID string) map[string]string {
	return map[string]string{c.cfg.ManagedByLabel: "tierup", c.cfg.AccountLabel: labelValue(accountID)}
}

// labelValue fits s into a label value (63 characters of [A-Za-z0-9._-]).
func labelValue(s string) string {
	s = invalidLabelChars.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

// wrap turns a client error into a domain error: unreachable API servers
// pause the upgrade, everything else keeps its message and is retried.
func (c *Cluster) wrap(ctx context.Context, err error, doing string) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// Our own deadline or a shutdown, not the API server: retried.
		return fmt.Errorf("kube: could not %s: %w", doing, ctx.Err())
	}
	var te *tierup.Error
	if errors.As(err, &te) {
		return err
	}
	if unreachable(err) {
		return &tierup.Error{Code: tierup.CodeClusterUnreachable,
			Message: fmt.Sprintf("the cluster's API server cannot be reached (could not %s): %v", doing, err)}
	}
	if apierrors.IsNotFound(err) {
		return tierup.Errorf(tierup.CodeNotFound, "could not %s: %v", doing, err)
	}
	return fmt.Errorf("kube: could not %s: %w", doing, err)
}

// unreachable tells a down or overloaded API server from a refused request.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "EOF") || strings.Contains(msg, "http2: client connection lost")
}
