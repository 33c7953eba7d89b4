package workflow

// In-memory fakes of the workflow's dependencies: a store whose
// transactions roll back, a queue that keeps jobs in that store, a
// gateway, a cluster and a mailer that record their calls, and a clock
// the test moves. No River, no database, no sleeps.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

type queued struct {
	job tierup.Job
	at  time.Time
}

// state is everything the fake store keeps; it is copied for each
// transaction so that a failed one leaves nothing behind.
type state struct {
	upgrades      map[string]*tierup.Upgrade
	accounts      map[string]*tierup.Account
	events        []*tierup.UpgradeEvent
	notifications []*tierup.Notification
	tickets       []*tierup.SupportTicket
	jobs          []queued
	completed     []tierup.Job
	beats         map[string]bool
	credit        []tierup.CreditEntry // the ledger, oldest first
	receipts      []*tierup.Receipt
	counters      map[string]int64 // receipt series → last number
	writes        int              // UpdateUpgrade calls that stored
}

func (s state) clone() state {
	c := s
	c.upgrades = map[string]*tierup.Upgrade{}
	for id, u := range s.upgrades {
		c.upgrades[id] = cloneUpgrade(u)
	}
	c.accounts = map[string]*tierup.Account{}
	for id, a := range s.accounts {
		cp := *a
		c.accounts[id] = &cp
	}
	c.events, c.notifications, c.tickets = slices.Clone(s.events), slices.Clone(s.notifications), slices.Clone(s.tickets)
	c.jobs, c.completed, c.beats = slices.Clone(s.jobs), slices.Clone(s.completed), maps.Clone(s.beats)
	c.credit = slices.Clone(s.credit)
	c.receipts, c.counters = slices.Clone(s.receipts), maps.Clone(s.counters)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneUpgrade(u *tierup.Upgrade) *tierup.Upgrade {
	c := *u
	c.Nodes, c.Previous = slices.Clone(u.Nodes), clonePtr(u.Previous)
	c.CancelRequestedAt, c.CompletedAt = clonePtr(u.CancelRequestedAt), clonePtr(u.CompletedAt)
	c.Steps = slices.Clone(u.Steps)
	for i, st := range c.Steps {
		c.Steps[i].StartedAt, c.Steps[i].FinishedAt, c.Steps[i].NextRetryAt = clonePtr(st.StartedAt), clonePtr(st.FinishedAt), clonePtr(st.NextRetryAt)
		c.Steps[i].Error = clonePtr(st.Error)
	}
	c.Workloads = slices.Clone(u.Workloads)
	for i, w := range c.Workloads {
		c.Workloads[i].Notes, c.Workloads[i].MinAvailable = slices.Clone(w.Notes), clonePtr(w.MinAvailable)
		c.Workloads[i].Nodes = slices.Clone(w.Nodes)
	}
	return &c
}

// fakeStore implements the part of tierup.Store the workflow uses; any
// other method panics through the nil embedded interface.
type fakeStore struct {
	tierup.Store
	mu         sync.Mutex
	inTx       bool
	st         state
	quotes     map[string]*tierup.Quote
	reads      atomic.Int64 // of quotes, payment methods and an upgrade's receipts
	pms        map[string]*tierup.PaymentMethod
	candidates []*tierup.Upgrade // what ResumeCandidates answers
	setSubErr  error             // the next SetSubscription fails with it
	txs        int               // transactions begun
	txFault    func(n int) error // when set, transaction n (1-based) fails with its error before it runs
	// lateBeats, when set, is closed by the next beat, which is then cut
	// short and committed late (fakeStore.beat).
	lateBeats   chan struct{}
	afterDelete []func() // the late beats, written after the next DeleteHeartbeat
}

func newFakeStore() *fakeStore {
	return &fakeStore{st: state{upgrades: map[string]*tierup.Upgrade{}, accounts: map[string]*tierup.Account{}, beats: map[string]bool{}, counters: map[string]int64{}},
		quotes: map[string]*tierup.Quote{}, pms: map[string]*tierup.PaymentMethod{}}
}

func (f *fakeStore) InTx(ctx context.Context, fn func(tx tierup.Store) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txs++
	if f.txFault != nil {
		if err := f.txFault(f.txs); err != nil {
			return err
		}
	}
	saved := f.st.clone()
	f.inTx = true
	err := fn(f)
	f.inTx = false
	if err != nil {
		f.st = saved
	}
	return err
}

func (f *fakeStore) Upgrade(_ context.Context, id string) (*tierup.Upgrade, error) {
	u, ok := f.st.upgrades[id]
	if !ok {
		return nil, tierup.ErrNotFound
	}
	return cloneUpgrade(u), nil
}

func (f *fakeStore) CreateUpgrade(_ context.Context, u *tierup.Upgrade) error {
	u.Version = 1
	f.st.upgrades[u.ID] = cloneUpgrade(u)
	return nil
}

func (f *fakeStore) UpdateUpgrade(ctx context.Context, u *tierup.Upgrade, events ...*tierup.UpgradeEvent) error {
	if old, ok := f.st.upgrades[u.ID]; !ok || old.Version != u.Version {
		return tierup.ErrConflict
	}
	u.Version++
	f.st.upgrades[u.ID] = cloneUpgrade(u)
	f.st.writes++
	for _, e := range events {
		e.Upgrade = u
		if err := f.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) AppendEvent(_ context.Context, e *tierup.UpgradeEvent) error {
	e.Seq = int64(len(f.st.events) + 1)
	cp := *e
	cp.Upgrade = cloneUpgrade(e.Upgrade)
	f.st.events = append(f.st.events, &cp)
	return nil
}

func (f *fakeStore) CreateSupportTicket(_ context.Context, t *tierup.SupportTicket) error {
	f.st.tickets = append(f.st.tickets, t)
	return nil
}

func (f *fakeStore) CreateNotification(_ context.Context, n *tierup.Notification) error {
	f.st.notifications = append(f.st.notifications, n)
	return nil
}

func (f *fakeStore) Account(_ context.Context, id string) (*tierup.Account, error) {
	a, ok := f.st.accounts[id]
	if !ok {
		return nil, tierup.ErrNotFound
	}
	cp := *a
	return &cp, nil
}

func (f *fakeStore) SetSubscription(_ context.Context, id string, s tierup.Subscription) error {
	if err := f.setSubErr; err != nil {
		f.setSubErr = nil
		return err
	}
	f.st.accounts[id].Subscription = s
	return nil
}

func (f *fakeStore) SetEntitlementsPlan(_ context.Context, id, plan string) error {
	f.st.accounts[id].EntitlementsPlan = plan
	return nil
}

// AddCreditEntry keeps the ledger's one entry of each kind per upgrade, as
// the database's unique key does.
func (f *fakeStore) AddCreditEntry(_ context.Context, e *tierup.CreditEntry) (bool, error) {
	for _, c := range f.st.credit {
		if c.UpgradeID == e.UpgradeID && c.Kind == e.Kind {
			return false, nil
		}
	}
	f.st.credit = append(f.st.credit, *e)
	return true, nil
}

func (f *fakeStore) CreditEntries(_ context.Context, accountID string) ([]tierup.CreditEntry, error) {
	var out []tierup.CreditEntry
	for _, c := range slices.Backward(f.st.credit) {
		if c.AccountID == accountID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeStore) Quote(_ context.Context, id string) (*tierup.Quote, error) {
	f.reads.Add(1)
	return f.quotes[id], nil
}

func (f *fakeStore) PaymentMethod(_ context.Context, id string) (*tierup.PaymentMethod, error) {
	f.reads.Add(1)
	return f.pms[id], nil
}

func (f *fakeStore) Heartbeat(ctx context.Context, process string) error {
	_, err := f.beat(ctx, func() bool { f.st.beats[process] = true; return true })
	return err
}

func (f *fakeStore) RefreshHeartbeat(ctx context.Context, process string) (bool, error) {
	return f.beat(ctx, func() bool { return f.st.beats[process] })
}

// beat applies write, or, while lateBeats is set, models a database that
// commits a statement cancelled in flight: the beat waits for ctx to end,
// returns its error and is written after the next DeleteHeartbeat.
func (f *fakeStore) beat(ctx context.Context, write func() bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lateBeats == nil {
		return write(), nil
	}
	inFlight := f.lateBeats
	f.lateBeats = nil
	f.mu.Unlock()
	close(inFlight)
	<-ctx.Done()
	f.mu.Lock()
	f.afterDelete = append(f.afterDelete, func() { write() })
	return false, ctx.Err()
}

func (f *fakeStore) DeleteHeartbeat(_ context.Context, process string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.st.beats, process)
	for _, w := range f.afterDelete {
		w()
	}
	f.afterDelete = nil
	return nil
}

func (f *fakeStore) RunningIn(_ context.Context, process string) ([]*tierup.Upgrade, error) {
	var out []*tierup.Upgrade
	for _, u := range f.st.upgrades {
		if u.RunningWorker() == process {
			out = append(out, cloneUpgrade(u))
		}
	}
	return out, nil
}

func (f *fakeStore) ResumeCandidates(context.Context, time.Duration, time.Duration) ([]*tierup.Upgrade, error) {
	return f.candidates, nil
}

// IssueReceipt numbers receipts from the state's counters, so that a
// rolled-back transaction takes its number back as the database does.
func (f *fakeStore) IssueReceipt(_ context.Context, r *tierup.Receipt) error {
	for _, old := range f.st.receipts {
		if old.Kind == r.Kind && old.PaymentRef == r.PaymentRef {
			*r = *old
			return nil
		}
	}
	series := tierup.ReceiptSeries(r.IssuedAt)
	f.st.counters[series]++
	r.Number = tierup.ReceiptNumber(series, f.st.counters[series])
	cp := *r
	f.st.receipts = append(f.st.receipts, &cp)
	return nil
}

func (f *fakeStore) UpgradeReceipts(_ context.Context, upgradeID string) ([]*tierup.Receipt, error) {
	f.reads.Add(1)
	var out []*tierup.Receipt
	for _, r := range f.st.receipts {
		if r.UpgradeID == upgradeID {
			cp := *r
			out = append(out, &cp)
		}
	}
	return out, nil
}

// fakeQueue keeps jobs in the fake store's state, so they commit and roll
// back with the transaction that made them; due times follow the fake
// clock.
type fakeQueue struct{ clock *fakeClock }

func (q fakeQueue) Enqueue(_ context.Context, tx tierup.Store, job tierup.Job, after time.Duration) error {
	f := tx.(*fakeStore)
	if !f.inTx {
		return errors.New("enqueue outside a transaction")
	}
	f.st.jobs = append(f.st.jobs, queued{job, q.clock.now.Add(max(after, 0))})
	return nil
}

func (fakeQueue) Start(context.Context, func(context.Context, tierup.Delivery) error) error {
	return nil
}
func (fakeQueue) Stop(context.Context) error { return nil }

type fakeDelivery struct{ job tierup.Job }

func (d fakeDelivery) Job() tierup.Job { return d.job }

func (d fakeDelivery) Complete(_ context.Context, tx tierup.Store) error {
	f := tx.(*fakeStore)
	f.st.completed = append(f.st.completed, d.job)
	return nil
}

// fakeGateway answers charges and refunds with the queued errors, then
// succeeds; it records every call's idempotency key.
type fakeGateway struct {
	chargeErrs, refundErrs []error
	charges, refunds       []string
	chargedCustomers       []string // each charge's ChargeRequest.Customer
	// With needsAuth, a charge waits for 3-D Secure: intent is what
	// LookupCharge answers until authenticate changes it.
	needsAuth bool
	intent    *tierup.Charge
	intentErr error
	returnURL string
	lookups   int
	cancels   []string
	// during, when set, runs first in each charge; its error is the
	// charge's.
	during func(ctx context.Context) error
}

func (g *fakeGateway) Name() string { return "fake" }

func (g *fakeGateway) TokenizeCard(context.Context, tierup.Card) (string, error) { return "tok", nil }

func (g *fakeGateway) Charge(ctx context.Context, r tierup.ChargeRequest) (*tierup.Charge, error) {
	g.charges = append(g.charges, r.IdempotencyKey)
	g.chargedCustomers = append(g.chargedCustomers, r.Customer)
	if g.during != nil {
		if err := g.during(ctx); err != nil {
			return nil, err
		}
	}
	if len(g.chargeErrs) > 0 {
		err := g.chargeErrs[0]
		g.chargeErrs = g.chargeErrs[1:]
		return nil, err
	}
	if g.needsAuth {
		g.intent = &tierup.Charge{ID: "pi_" + r.IdempotencyKey, Amount: r.Amount, Status: tierup.ChargeRequiresAction,
			NextAction: &tierup.NextAction{Type: tierup.NextActionRedirect, URL: "/challenge"}}
		g.returnURL = r.ReturnURL
		return g.intent, nil
	}
	return &tierup.Charge{ID: "ch_" + r.IdempotencyKey, Amount: r.Amount}, nil
}

// authenticate plays the customer on the challenge page: the charge
// succeeds, or ends with err.
func (g *fakeGateway) authenticate(err error) {
	if err != nil {
		g.intentErr = err
		return
	}
	c := *g.intent
	c.Status, c.NextAction = tierup.ChargeSucceeded, nil
	g.intent = &c
}

func (g *fakeGateway) LookupCharge(_ context.Context, id string) (*tierup.Charge, error) {
	g.lookups++
	if g.intent == nil || g.intent.ID != id {
		return nil, &tierup.PaymentError{Code: tierup.PayCodeResourceMissing, Message: "no such charge"}
	}
	if g.intentErr != nil {
		return nil, g.intentErr
	}
	return g.intent, nil
}

func (g *fakeGateway) CancelCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	g.cancels = append(g.cancels, id)
	if c, err := g.LookupCharge(ctx, id); err != nil || c.Status != tierup.ChargeRequiresAction {
		return c, err
	}
	c := *g.intent
	c.Status, c.NextAction = tierup.ChargeCanceled, nil
	g.intent = &c
	return g.intent, nil
}

// The workflow never saves cards; these only complete the interface.
func (g *fakeGateway) EnsureCustomer(_ context.Context, r tierup.CustomerRequest) (string, error) {
	return "cus_" + r.AccountID, nil
}

func (g *fakeGateway) AttachPaymentMethod(context.Context, string, string) error { return nil }

func (g *fakeGateway) DetachPaymentMethod(context.Context, string) error { return nil }

func (g *fakeGateway) Refund(_ context.Context, r tierup.RefundRequest) (*tierup.Refund, error) {
	g.refunds = append(g.refunds, r.IdempotencyKey)
	if len(g.refundErrs) > 0 {
		err := g.refundErrs[0]
		g.refundErrs = g.refundErrs[1:]
		return nil, err
	}
	return &tierup.Refund{ID: "re_1", ChargeID: r.ChargeID, Amount: r.Amount}, nil
}

// fakeCluster has two workloads and records what is done to them. Its
// nodes are named node-1, node-2, … by index; it is safe for the parallel
// provisioning of several.
type fakeCluster struct {
	mu sync.Mutex
	// provisionErrs are the next answers of each node index's provisioning:
	// a node whose provisioning fails is still made (it is not ready yet),
	// as a real cluster's would be.
	provisionErrs map[int][]error
	nodes         map[string]tierup.Node // made and not released, by node key
	made          int                    // nodes ever made
	calls         []string
	preflight     *tierup.Preflight // what Preflight finds; nil: nothing in the way
	preflightErrs []error
	preflights    int
	workloads     []tierup.Workload                            // what Workloads lists; nil: web and nightly
	placed        map[string]string                            // the node each moved workload is on now, by name
	workloadsErrs []error                                      // the next answers of Workloads
	migrateErrs   map[string]error                             // the next move of the named workload fails so
	onMigrate     func(ctx context.Context, w tierup.Workload) // called as each move starts
}

func (c *fakeCluster) record(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf(format, args...))
}

func (c *fakeCluster) ProvisionNode(_ context.Context, r tierup.NodeRequest) (*tierup.Node, error) {
	if r.Zone != "" {
		c.record("provision %s zone %s", r.NodeKey(), r.Zone)
	} else {
		c.record("provision %s", r.NodeKey())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[r.NodeKey()]
	if !ok {
		if c.nodes == nil {
			c.nodes = map[string]tierup.Node{}
		}
		n = tierup.Node{Name: fmt.Sprintf("node-%d", r.Index+1), AccountID: r.AccountID, Pool: "dedicated"}
		c.nodes[r.NodeKey()] = n
		c.made++
	}
	if errs := c.provisionErrs[r.Index]; len(errs) > 0 {
		c.provisionErrs[r.Index] = errs[1:]
		return nil, errs[0]
	}
	n.Ready = true
	c.nodes[r.NodeKey()] = n
	return &n, nil
}

func (c *fakeCluster) Workloads(context.Context, string) ([]tierup.Workload, error) {
	if len(c.workloadsErrs) > 0 {
		err := c.workloadsErrs[0]
		c.workloadsErrs = c.workloadsErrs[1:]
		return nil, err
	}
	ws := c.workloads
	if ws == nil {
		ws = []tierup.Workload{{Kind: "Deployment", Name: "web", Replicas: 2, Node: "shared"}, {Kind: "CronJob", Name: "nightly", Replicas: 1, Node: "shared"}}
	}
	ws = slices.Clone(ws)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range ws {
		if n, ok := c.placed[w.Name]; ok {
			ws[i].Node = n
		}
	}
	return ws, nil
}

func (c *fakeCluster) PlanMigration(context.Context, string) ([]tierup.PlannedMove, error) {
	return nil, nil
}

// MigrateWorkload spreads the replicas over the nodes, one each in turn.
func (c *fakeCluster) MigrateWorkload(ctx context.Context, _ string, w tierup.Workload, nodes []tierup.Node) (*tierup.MigrationReport, error) {
	c.record("migrate %s to %d nodes", w.Name, len(nodes))
	if c.onMigrate != nil {
		c.onMigrate(ctx, w)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // cut short mid-rollout
	}
	if err := c.migrateErrs[w.Name]; err != nil {
		delete(c.migrateErrs, w.Name)
		return nil, err
	}
	w.Node, w.Nodes = nodes[0].Name, nil
	for i := range min(w.Replicas, len(nodes)) {
		w.Nodes = append(w.Nodes, nodes[i].Name)
	}
	c.mu.Lock()
	if c.placed == nil {
		c.placed = map[string]string{}
	}
	c.placed[w.Name] = w.Node
	c.mu.Unlock()
	return &tierup.MigrationReport{Workload: w, MinAvailable: w.Replicas}, nil
}

func (c *fakeCluster) ReturnWorkload(_ context.Context, _ string, w tierup.Workload) error {
	c.record("return %s", w.Name)
	return nil
}

func (c *fakeCluster) EnableFeatures(_ context.Context, _ string, p *tierup.Plan) error {
	c.record("features %s", p.ID)
	return nil
}

func (c *fakeCluster) Preflight(context.Context, string, *tierup.Plan) (*tierup.Preflight, error) {
	c.preflights++
	if len(c.preflightErrs) > 0 {
		err := c.preflightErrs[0]
		c.preflightErrs = c.preflightErrs[1:]
		return nil, err
	}
	if c.preflight != nil {
		return c.preflight, nil
	}
	return tierup.PreflightPassed(""), nil
}

func (c *fakeCluster) ReleaseNode(_ context.Context, r tierup.NodeRequest) error {
	c.record("release %s", r.NodeKey())
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, r.NodeKey())
	return nil
}

// fakeMetrics records what the engine reports, one line each (durations
// left out: tests never assert wall-clock times).
type fakeMetrics struct {
	tierup.NoMetrics
	mu   sync.Mutex
	seen []string
}

func (m *fakeMetrics) add(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, fmt.Sprintf(format, args...))
}

func (m *fakeMetrics) UpgradeStarted()                { m.add("started") }
func (m *fakeMetrics) UpgradeFinished(outcome string) { m.add("finished %s", outcome) }
func (m *fakeMetrics) StepFinished(s tierup.StepName, outcome string, _ time.Duration) {
	m.add("step %s %s", s, outcome)
}
func (m *fakeMetrics) PaymentAttempt(outcome, decline string) {
	m.add("payment %s %s", outcome, decline)
}
func (m *fakeMetrics) Paused(code string)             { m.add("paused %s", code) }
func (m *fakeMetrics) NeedsSupport(s tierup.StepName) { m.add("support %s", s) }

type fakeMailer struct{ sent []tierup.Email }

func (m *fakeMailer) Send(_ context.Context, e tierup.Email) error {
	m.sent = append(m.sent, e)
	return nil
}

// rig is an engine on fakes with one account, a quote and a card.
type rig struct {
	e       *Engine
	store   *fakeStore
	clock   *fakeClock
	gateway *fakeGateway
	cluster *fakeCluster
	mailer  *fakeMailer
	metrics *fakeMetrics
}

var start = time.Date(2026, 3, 22, 10, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{store: newFakeStore(), clock: &fakeClock{now: start}, gateway: &fakeGateway{}, cluster: &fakeCluster{}, mailer: &fakeMailer{},
		metrics: &fakeMetrics{}}
	e, err := New(Deps{Store: r.store, Queue: fakeQueue{r.clock}, Catalog: tierup.DefaultCatalog(), Clock: r.clock, Gateway: r.gateway,
		Cluster: r.cluster, Mailer: r.mailer, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		QuoteValid: func(*tierup.Quote) bool { return true }, Metrics: r.metrics},
		// Each part of a migration is committed alone, so that a test
		// can stop between two: TestMigrationShares has them share.
		Config{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: 4 * time.Second, PauseProbe: 2 * time.Second, ProgressEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	r.store.st.accounts["acct_1"] = &tierup.Account{ID: "acct_1", Email: "dev@example.com", TimeZone: "UTC",
		Subscription: tierup.Subscription{PlanID: "hobby"}}
	return r
}

// create starts an upgrade from Hobby to Pro (1 month).
func (r *rig) create(t *testing.T) *tierup.Upgrade {
	t.Helper()
	return r.createFrom(t, nil)
}

// createFrom starts an upgrade from Hobby to Pro (1 month) with the quote
// changed by edit first.
func (r *rig) createFrom(t *testing.T, edit func(q *tierup.Quote)) *tierup.Upgrade {
	t.Helper()
	q := &tierup.Quote{ID: "quo_1", AccountID: "acct_1", FromPlan: "hobby", ToPlan: "pro-1m",
		AmountDue: tierup.Money{Amount: 2900, Currency: "USD"}, NewPeriod: tierup.Period{Start: start, End: start.AddDate(0, 1, 0)}}
	if edit != nil {
		edit(q)
	}
	pm := &tierup.PaymentMethod{ID: "pm_1", AccountID: "acct_1", Brand: "visa", Last4: "4242", Customer: "cus_1"}
	r.store.quotes[q.ID], r.store.pms[pm.ID] = q, pm
	u := tierup.NewUpgrade("upg_1", q, pm, tierup.TermsAcceptance{}, start)
	if err := r.store.InTx(context.Background(), func(tx tierup.Store) error { return r.e.Create(context.Background(), tx, u, q, pm, "acct_1") }); err != nil {
		t.Fatal(err)
	}
	return u
}

// drain runs queued jobs in due order until none is left; more than
// limit is a runaway.
func (r *rig) drain(t *testing.T, limit int) {
	t.Helper()
	for range limit {
		if !r.runOne(t) {
			return
		}
	}
	t.Fatalf("jobs still queued after %d: %+v", limit, r.store.st.jobs)
}

// runOne runs the next due job, moving the clock to its time; false when
// none is queued.
func (r *rig) runOne(t *testing.T) bool {
	t.Helper()
	if len(r.store.st.jobs) == 0 {
		return false
	}
	i := 0
	for k, q := range r.store.st.jobs {
		if q.at.Before(r.store.st.jobs[i].at) {
			i = k
		}
	}
	q := r.store.st.jobs[i]
	r.store.st.jobs = slices.Delete(r.store.st.jobs, i, i+1)
	if q.at.After(r.clock.now) {
		r.clock.now = q.at
	}
	if err := r.e.work(context.Background(), fakeDelivery{q.job}); err != nil {
		t.Fatalf("job %+v: %v", q.job, err)
	}
	return true
}

// untilMigrating runs jobs until the migration runs with its workloads
// listed: a continuation of it is queued, the step marked running here.
func (r *rig) untilMigrating(t *testing.T) {
	t.Helper()
	for {
		u := r.upgrade(t)
		if st := u.Step(tierup.StepMigrateWorkloads); st.Status == tierup.StepRunning && len(u.Workloads) > 0 {
			return
		}
		r.runOne(t)
	}
}

func (r *rig) upgrade(t *testing.T) *tierup.Upgrade {
	t.Helper()
	u, err := r.store.Upgrade(context.Background(), "upg_1")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// actions lists the upgrade's audit actions in order.
func (r *rig) actions() []tierup.Action {
	var out []tierup.Action
	for _, e := range r.store.st.events {
		out = append(out, e.Action)
	}
	return out
}
