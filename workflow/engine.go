// Package workflow runs upgrades as durable workflows on a job queue
// (tierup.JobQueue; River in package riverqueue): payment,
// plan activation, a dedicated node, the phased migration of workloads, the
// new features and the notifications, each step idempotent and each state
// change committed with what comes next in one transaction: the next job,
// or the next step claimed for the same worker when it is due at once
// (chain.go). Failures retry
// with backoff, an unreachable dependency pauses the upgrade until it is
// back, exhausted retries hand the upgrade to support, and a crashed
// process's work is picked up after a restart.
package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierup/tierup"
)

// Config tunes retries and the job timeout.
type Config struct {
	MaxAttempts int           // automatic attempts of a failing step before support takes over (default 5)
	BaseDelay   time.Duration // first retry delay; doubles each attempt, with jitter (default 2s)
	MaxDelay    time.Duration // cap of the retry delay (default 1m)
	PauseProbe  time.Duration // how often a paused upgrade checks whether the dependency is back (default 2s)
	JobTimeout  time.Duration // longest a step may run (default 30s)
	// ProgressEvery is how long a migration moves workloads one after
	// another before it commits what it moved (default 1s, at most a
	// quarter of JobTimeout): the moves that start within it share a
	// commit, each with its own event, and a move that takes longer is
	// committed before the next starts. A crash repeats the moves not yet
	// committed, which are idempotent.
	ProgressEvery time.Duration
	// HeartbeatRetention is how long a stopped process's heartbeat is kept
	// (default tierup.DefaultRetention().Heartbeats, 1h).
	HeartbeatRetention time.Duration
	RescueMargin       time.Duration // a step still running this long after its timeout is resumed elsewhere (default 5s)
	SupportEmail       string        // receives needs_support alerts (default support@tierup.dev)
	// AuthenticationTimeout is how long a payment waits for the customer's
	// 3-D Secure authentication before it is abandoned and fails (default
	// 30m).
	AuthenticationTimeout time.Duration
	// AuthenticationCheck is how often a payment awaiting authentication
	// reads the charge again, so that a lost webhook cannot leave it
	// waiting (default 15s). The challenge page and webhooks check at once.
	AuthenticationCheck time.Duration
	// Receipts is the seller, the tax rate and the dashboard's address on
	// receipts, credit notes and their links (tierup.DefaultReceiptConfig).
	// The customer returns to that address + /upgrades/<id> after 3-D
	// Secure; empty gives a relative one (enough for the sandbox's
	// challenge page; Stripe needs an absolute one).
	Receipts tierup.ReceiptConfig
}

// DefaultConfig returns the defaults; the CLI shows them in its flags.
func DefaultConfig() Config {
	return Config{MaxAttempts: tierup.DefaultStepAttempts, BaseDelay: 2 * time.Second, MaxDelay: time.Minute, PauseProbe: 2 * time.Second,
		JobTimeout: 30 * time.Second, ProgressEvery: time.Second, RescueMargin: 5 * time.Second, SupportEmail: "support@tierup.dev",
		AuthenticationTimeout: 30 * time.Minute, AuthenticationCheck: 15 * time.Second, HeartbeatRetention: tierup.DefaultRetention().Heartbeats, Receipts: tierup.DefaultReceiptConfig()}
}

// WithDefaults fills the unset fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	set(&c.BaseDelay, d.BaseDelay)
	set(&c.MaxDelay, d.MaxDelay)
	set(&c.PauseProbe, d.PauseProbe)
	set(&c.JobTimeout, d.JobTimeout)
	set(&c.ProgressEvery, d.ProgressEvery)
	c.ProgressEvery = min(c.ProgressEvery, c.JobTimeout/4) // the last move of a run must end within the job's time
	set(&c.RescueMargin, d.RescueMargin)
	set(&c.AuthenticationTimeout, d.AuthenticationTimeout)
	set(&c.AuthenticationCheck, d.AuthenticationCheck)
	set(&c.HeartbeatRetention, d.HeartbeatRetention)
	if c.SupportEmail == "" {
		c.SupportEmail = d.SupportEmail
	}
	c.Receipts = c.Receipts.WithDefaults()
	return c
}

// Deps are the outside parts the workflow drives. Every one is required.
type Deps struct {
	Store   tierup.Store
	Queue   tierup.JobQueue
	Catalog *tierup.Catalog
	Clock   tierup.Clock
	Gateway tierup.PaymentGateway
	Cluster tierup.Cluster
	Mailer  tierup.Mailer
	Log     *slog.Logger
	// QuoteValid re-checks a quote's signature before money moves.
	QuoteValid func(*tierup.Quote) bool
	// Metrics observes outcomes; optional (nil: tierup.NoMetrics).
	Metrics tierup.Metrics
}

func (d Deps) check() error {
	return tierup.MissingDeps("workflow", map[string]bool{"Store": d.Store != nil, "Queue": d.Queue != nil, "Catalog": d.Catalog != nil,
		"Clock": d.Clock != nil, "Gateway": d.Gateway != nil, "Cluster": d.Cluster != nil, "Mailer": d.Mailer != nil,
		"Log": d.Log != nil, "QuoteValid": d.QuoteValid != nil})
}

// Engine runs upgrades.
type Engine struct {
	Deps
	cfg     Config
	hub     *hub
	process string // this process's ID, with a heartbeat in the store
	stop    context.CancelFunc
	done    chan struct{}
	// running is set from a successful Start until Stop begins: readiness
	// reports it.
	running atomic.Bool
	// leaving ends, with errHandBack, when Stop gives up waiting for the
	// running steps: they are cancelled and handed back (handBack).
	leaving context.Context
	leave   context.CancelCauseFunc
	// working counts, by upgrade, the jobs this process works now: Stop
	// hands back at once only the steps it holds between two runs.
	mu      sync.Mutex
	working map[string]int
	quotes  kept[tierup.Quote]
	cards   kept[tierup.PaymentMethod]
}

// New builds the engine. Call Start to begin working. Errors: a missing
// dependency.
func New(d Deps, cfg Config) (*Engine, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if d.Metrics == nil {
		d.Metrics = tierup.NoMetrics{}
	}
	leaving, leave := context.WithCancelCause(context.Background())
	return &Engine{Deps: d, cfg: cfg.WithDefaults(), hub: newHub(), process: tierup.NewID("proc"), leaving: leaving, leave: leave,
		working: map[string]int{}}, nil
}

// Config returns the engine's configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Start begins working jobs, this process's share of every upgrade's
// steps, and watching for steps left running by a process that died.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.beat(ctx); err != nil {
		return err
	}
	if err := e.Queue.Start(ctx, e.work); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stop, e.done = cancel, make(chan struct{})
	go e.watch(rctx)
	e.running.Store(true)
	return nil
}

// Running reports whether the engine works jobs: started and not stopping.
func (e *Engine) Running() bool { return e.running.Load() }

// Subscribe returns a channel that receives a value whenever this process
// changes the upgrade, and a function to unsubscribe. Changes made by other
// processes are found by polling the event log.
func (e *Engine) Subscribe(upgradeID string) (<-chan struct{}, func()) {
	return e.hub.subscribe(upgradeID)
}

// Create starts an upgrade: it stores u, its first event and its first job
// at once, in tx. q and pm are u's quote and card as the caller read them
// (nil: the payment reads them). Errors: those of Store.CreateUpgrade.
func (e *Engine) Create(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, q *tierup.Quote, pm *tierup.PaymentMethod, actor string) error {
	// The payment reads these next, most often in this process: as read for
	// u by the caller, they are what it would read.
	e.quotes.put(u.QuoteID, q)
	e.cards.put(u.Payment.PaymentMethodID, pm)
	u.UpdateProgress()
	if err := e.schedule(ctx, tx, u, tierup.StepPayment, e.Clock.Now()); err != nil {
		return err
	}
	if err := tx.CreateUpgrade(ctx, u); err != nil {
		return err
	}
	return e.event(ctx, tx, u, actor, tierup.ActionCreated, fmt.Sprintf("upgrade from %s to %s started", u.FromPlan, u.ToPlan))
}

// schedule bumps the step's run (making older jobs stale) and enqueues its
// job. Call it before storing u, which carries the new run.
func (e *Engine) schedule(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, step tierup.StepName, at time.Time) error {
	return e.Queue.Enqueue(ctx, tx, tierup.Job{UpgradeID: u.ID, Step: step, Run: bump(u, step)}, at.Sub(e.Clock.Now()))
}

// bump starts the step's next run, which makes older jobs of it stale, and
// returns its number.
func bump(u *tierup.Upgrade, step tierup.StepName) int {
	if st := u.Step(step); st != nil {
		st.Run++
		return st.Run
	}
	u.CompensateRun++ // compensate is not one of the listed steps
	return u.CompensateRun
}

// event appends an audit event carrying the upgrade's new state.
func (e *Engine) event(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, actor string, action tierup.Action, msg string) error {
	ev := e.newEvent(u, actor, action, msg)
	if err := tx.AppendEvent(ctx, ev); err != nil {
		return err
	}
	e.logEvent(ctx, ev)
	return nil
}

func (e *Engine) newEvent(u *tierup.Upgrade, actor string, action tierup.Action, msg string) *tierup.UpgradeEvent {
	return &tierup.UpgradeEvent{UpgradeID: u.ID, Actor: actor, Action: action, Message: msg, At: e.Clock.Now().UTC(), Upgrade: u}
}

func (e *Engine) logEvent(ctx context.Context, ev *tierup.UpgradeEvent) {
	u := ev.Upgrade
	e.Log.InfoContext(ctx, "upgrade "+string(ev.Action), "upgrade", u.ID, "account", u.AccountID, "actor", ev.Actor, "status", u.Status,
		"step", u.CurrentStep, "message", ev.Message)
}

// save stores the upgrade (version-checked) and one event describing the
// change, in tx, the document encoded once for both.
func (e *Engine) save(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, actor string, action tierup.Action, msg string) error {
	return e.saveEvents(ctx, tx, u, e.newEvent(u, actor, action, msg))
}

// saveEvents stores the upgrade and the events of the changes it carries,
// in tx: one write of the document, which every event shows.
func (e *Engine) saveEvents(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, evs ...*tierup.UpgradeEvent) error {
	u.UpdatedAt = e.Clock.Now().UTC()
	u.UpdateProgress()
	if err := tx.UpdateUpgrade(ctx, u, evs...); err != nil {
		return err
	}
	for _, ev := range evs {
		e.logEvent(ctx, ev)
	}
	return nil
}

// note records a part of a step done before the run's outcome (progress),
// in tx: its change to u and an event at the time it was done, showing the
// upgrade as that part left it. The document itself is stored once, with
// the outcome.
func (e *Engine) note(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, p progress) error {
	p.apply(u)
	u.UpdatedAt = p.at
	u.UpdateProgress()
	ev := e.newEvent(u, "system", tierup.ActionStepProgress, p.msg)
	ev.At = p.at
	if err := tx.AppendEvent(ctx, ev); err != nil {
		return err
	}
	e.logEvent(ctx, ev)
	return nil
}

// backoff is the delay before retry number attempt (1-based): exponential,
// capped, with full jitter on its upper half so that retries spread out.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > e.cfg.MaxDelay {
		d = e.cfg.MaxDelay
	}
	half := d / 2
	return half + rand.N(half+1)
}

// hub wakes in-process listeners of an upgrade's changes.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[chan struct{}]struct{}{}} }

func (h *hub) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs[id] == nil {
		h.subs[id] = map[chan struct{}]struct{}{}
	}
	h.subs[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[id], ch)
		if len(h.subs[id]) == 0 {
			delete(h.subs, id)
		}
		h.mu.Unlock()
	}
}

func (h *hub) publish(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[id] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Publish wakes listeners after a committed change.
func (e *Engine) Publish(upgradeID string) { e.hub.publish(upgradeID) }

var errStale = errors.New("stale job")
