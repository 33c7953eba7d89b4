package metrics

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// Gateway times every call of g, by operation and outcome, and counts the
// refunds that went through. The result implements tierup.CardDescriber
// exactly when g does, so that callers' checks still tell.
func (m *Metrics) Gateway(g tierup.PaymentGateway) tierup.PaymentGateway {
	t := timedGateway{g: g, m: m}
	if d, ok := g.(tierup.CardDescriber); ok {
		return describingGateway{t, d}
	}
	return t
}

type timedGateway struct {
	g tierup.PaymentGateway
	m *Metrics
}

func (t timedGateway) Name() string { return t.g.Name() }

func (t timedGateway) TokenizeCard(ctx context.Context, card tierup.Card) (string, error) {
	return timed(t.m.GatewayCall, "tokenize_card", func() (string, error) { return t.g.TokenizeCard(ctx, card) })
}

func (t timedGateway) Charge(ctx context.Context, req tierup.ChargeRequest) (*tierup.Charge, error) {
	return timed(t.m.GatewayCall, "charge", func() (*tierup.Charge, error) { return t.g.Charge(ctx, req) })
}

func (t timedGateway) LookupCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	return timed(t.m.GatewayCall, "lookup_charge", func() (*tierup.Charge, error) { return t.g.LookupCharge(ctx, id) })
}

func (t timedGateway) CancelCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	return timed(t.m.GatewayCall, "cancel_charge", func() (*tierup.Charge, error) { return t.g.CancelCharge(ctx, id) })
}

func (t timedGateway) Refund(ctx context.Context, req tierup.RefundRequest) (*tierup.Refund, error) {
	r, err := timed(t.m.GatewayCall, "refund", func() (*tierup.Refund, error) { return t.g.Refund(ctx, req) })
	if err == nil {
		// A retried refund (same idempotency key) after a crash counts
		// again: rare, and the gateway's ledger is the exact record.
		t.m.refunds.Inc()
	}
	return r, err
}

func (t timedGateway) EnsureCustomer(ctx context.Context, req tierup.CustomerRequest) (string, error) {
	return timed(t.m.GatewayCall, "ensure_customer", func() (string, error) { return t.g.EnsureCustomer(ctx, req) })
}

func (t timedGateway) AttachPaymentMethod(ctx context.Context, ref, customer string) error {
	return timedErr(t.m.GatewayCall, "attach_payment_method", func() error { return t.g.AttachPaymentMethod(ctx, ref, customer) })
}

func (t timedGateway) DetachPaymentMethod(ctx context.Context, ref string) error {
	return timedErr(t.m.GatewayCall, "detach_payment_method", func() error { return t.g.DetachPaymentMethod(ctx, ref) })
}

type describingGateway struct {
	timedGateway
	d tierup.CardDescriber
}

func (t describingGateway) DescribeCard(ctx context.Context, ref string) (*tierup.PaymentMethod, error) {
	return timed(t.m.GatewayCall, "describe_card", func() (*tierup.PaymentMethod, error) { return t.d.DescribeCard(ctx, ref) })
}

// Cluster times every call of c, by operation and outcome. The result
// implements tierup.ClusterWarnings exactly when c does.
func (m *Metrics) Cluster(c tierup.Cluster) tierup.Cluster {
	t := timedCluster{c: c, m: m}
	if w, ok := c.(tierup.ClusterWarnings); ok {
		return warningCluster{t, w}
	}
	return t
}

type timedCluster struct {
	c tierup.Cluster
	m *Metrics
}

func (t timedCluster) ProvisionNode(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error) {
	return timed(t.m.ClusterCall, "provision_node", func() (*tierup.Node, error) { return t.c.ProvisionNode(ctx, req) })
}

func (t timedCluster) Workloads(ctx context.Context, accountID string) ([]tierup.Workload, error) {
	return timed(t.m.ClusterCall, "workloads", func() ([]tierup.Workload, error) { return t.c.Workloads(ctx, accountID) })
}

func (t timedCluster) PlanMigration(ctx context.Context, accountID string) ([]tierup.PlannedMove, error) {
	return timed(t.m.ClusterCall, "plan_migration", func() ([]tierup.PlannedMove, error) { return t.c.PlanMigration(ctx, accountID) })
}

func (t timedCluster) MigrateWorkload(ctx context.Context, accountID string, w tierup.Workload, nodes []tierup.Node) (*tierup.MigrationReport, error) {
	return timed(t.m.ClusterCall, "migrate_workload", func() (*tierup.MigrationReport, error) { return t.c.MigrateWorkload(ctx, accountID, w, nodes) })
}

func (t timedCluster) ReturnWorkload(ctx context.Context, accountID string, w tierup.Workload) error {
	return timedErr(t.m.ClusterCall, "return_workload", func() error { return t.c.ReturnWorkload(ctx, accountID, w) })
}

func (t timedCluster) EnableFeatures(ctx context.Context, accountID string, plan *tierup.Plan) error {
	return timedErr(t.m.ClusterCall, "enable_features", func() error { return t.c.EnableFeatures(ctx, accountID, plan) })
}

func (t timedCluster) ReleaseNode(ctx context.Context, req tierup.NodeRequest) error {
	return timedErr(t.m.ClusterCall, "release_node", func() error { return t.c.ReleaseNode(ctx, req) })
}

func (t timedCluster) Preflight(ctx context.Context, accountID string, plan *tierup.Plan) (*tierup.Preflight, error) {
	return timed(t.m.ClusterCall, "preflight", func() (*tierup.Preflight, error) { return t.c.Preflight(ctx, accountID, plan) })
}

type warningCluster struct {
	timedCluster
	w tierup.ClusterWarnings
}

func (t warningCluster) Warnings(ctx context.Context) ([]string, error) {
	return timed(t.m.ClusterCall, "warnings", func() ([]string, error) { return t.w.Warnings(ctx) })
}

// timed runs f and observes its duration and outcome under op.
func timed[T any](observe func(op, outcome string, d time.Duration), op string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	observe(op, outcomeOf(err), time.Since(start))
	return v, err
}

// timedErr is timed for calls that return only an error.
func timedErr(observe func(op, outcome string, d time.Duration), op string, f func() error) error {
	_, err := timed(observe, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}
