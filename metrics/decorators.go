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

// time observes one call; err is the call's error.
func (t timedGateway) time(op string, start time.Time, err error) {
	t.m.GatewayCall(op, outcomeOf(err), time.Since(start))
}

func (t timedGateway) Name() string { return t.g.Name() }

func (t timedGateway) TokenizeCard(ctx context.Context, card tierup.Card) (string, error) {
	start := time.Now()
	ref, err := t.g.TokenizeCard(ctx, card)
	t.time("tokenize_card", start, err)
	return ref, err
}

func (t timedGateway) Charge(ctx context.Context, req tierup.ChargeRequest) (*tierup.Charge, error) {
	start := time.Now()
	c, err := t.g.Charge(ctx, req)
	t.time("charge", start, err)
	return c, err
}

func (t timedGateway) LookupCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	start := time.Now()
	c, err := t.g.LookupCharge(ctx, id)
	t.time("lookup_charge", start, err)
	return c, err
}

func (t timedGateway) CancelCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	start := time.Now()
	c, err := t.g.CancelCharge(ctx, id)
	t.time("cancel_charge", start, err)
	return c, err
}

func (t timedGateway) Refund(ctx context.Context, req tierup.RefundRequest) (*tierup.Refund, error) {
	start := time.Now()
	r, err := t.g.Refund(ctx, req)
	t.time("refund", start, err)
	if err == nil {
		// A retried refund (same idempotency key) after a crash counts
		// again: rare, and the gateway's ledger is the exact record.
		t.m.refunds.Inc()
	}
	return r, err
}

func (t timedGateway) EnsureCustomer(ctx context.Context, req tierup.CustomerRequest) (string, error) {
	start := time.Now()
	ref, err := t.g.EnsureCustomer(ctx, req)
	t.time("ensure_customer", start, err)
	return ref, err
}

func (t timedGateway) AttachPaymentMethod(ctx context.Context, ref, customer string) error {
	start := time.Now()
	err := t.g.AttachPaymentMethod(ctx, ref, customer)
	t.time("attach_payment_method", start, err)
	return err
}

func (t timedGateway) DetachPaymentMethod(ctx context.Context, ref string) error {
	start := time.Now()
	err := t.g.DetachPaymentMethod(ctx, ref)
	t.time("detach_payment_method", start, err)
	return err
}

type describingGateway struct {
	timedGateway
	d tierup.CardDescriber
}

func (t describingGateway) DescribeCard(ctx context.Context, ref string) (*tierup.PaymentMethod, error) {
	start := time.Now()
	pm, err := t.d.DescribeCard(ctx, ref)
	t.time("describe_card", start, err)
	return pm, err
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

func (t timedCluster) time(op string, start time.Time, err error) {
	t.m.ClusterCall(op, outcomeOf(err), time.Since(start))
}

func (t timedCluster) ProvisionNode(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error) {
	start := time.Now()
	n, err := t.c.ProvisionNode(ctx, req)
	t.time("provision_node", start, err)
	return n, err
}

func (t timedCluster) Workloads(ctx context.Context, accountID string) ([]tierup.Workload, error) {
	start := time.Now()
	w, err := t.c.Workloads(ctx, accountID)
	t.time("workloads", start, err)
	return w, err
}

func (t timedCluster) PlanMigration(ctx context.Context, accountID string) ([]tierup.PlannedMove, error) {
	start := time.Now()
	p, err := t.c.PlanMigration(ctx, accountID)
	t.time("plan_migration", start, err)
	return p, err
}

func (t timedCluster) MigrateWorkload(ctx context.Context, accountID string, w tierup.Workload, nodes []tierup.Node) (*tierup.MigrationReport, error) {
	start := time.Now()
	r, err := t.c.MigrateWorkload(ctx, accountID, w, nodes)
	t.time("migrate_workload", start, err)
	return r, err
}

func (t timedCluster) ReturnWorkload(ctx context.Context, accountID string, w tierup.Workload) error {
	start := time.Now()
	err := t.c.ReturnWorkload(ctx, accountID, w)
	t.time("return_workload", start, err)
	return err
}

func (t timedCluster) EnableFeatures(ctx context.Context, accountID string, plan *tierup.Plan) error {
	start := time.Now()
	err := t.c.EnableFeatures(ctx, accountID, plan)
	t.time("enable_features", start, err)
	return err
}

func (t timedCluster) ReleaseNode(ctx context.Context, req tierup.NodeRequest) error {
	start := time.Now()
	err := t.c.ReleaseNode(ctx, req)
	t.time("release_node", start, err)
	return err
}

func (t timedCluster) Preflight(ctx context.Context, accountID string, plan *tierup.Plan) (*tierup.Preflight, error) {
	start := time.Now()
	p, err := t.c.Preflight(ctx, accountID, plan)
	t.time("preflight", start, err)
	return p, err
}

type warningCluster struct {
	timedCluster
	w tierup.ClusterWarnings
}

func (t warningCluster) Warnings(ctx context.Context) ([]string, error) {
	start := time.Now()
	w, err := t.w.Warnings(ctx)
	t.time("warnings", start, err)
	return w, err
}
