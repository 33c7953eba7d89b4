// Package workflow runs upgrades as durable workflows on River: payment,
// plan activation, a dedicated node, the phased migration of workloads, the
// new features and the notifications, each step idempotent and each state
// change committed with the next job in one transaction. Failures retry
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
	"time"

	"github.com/riverqueue/river"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sqlstore"
)

// Config tunes retries and the job queue.
type Config struct {
	MaxAttempts  int           // automatic attempts of a failing step before support takes over (default 5)
	BaseDelay    time.Duration // first retry delay; doubles each attempt, with jitter (default 2s)
	MaxDelay     time.Duration // cap of the retry delay (default 1m)
	PauseProbe   time.Duration // how often a paused upgrade checks whether the dependency is back (default 2s)
	JobTimeout   time.Duration // longest a step may run (default 30s)
	RescueMargin time.Duration // a job still running this long after its timeout is rescued (default 5s)
	PollInterval time.Duration // how often idle workers look for jobs (default 200ms)
	Workers      int           // concurrent steps per process (default 10)
	SupportEmail string        // receives needs_support alerts
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	set(&c.BaseDelay, 2*time.Second)
	set(&c.MaxDelay, time.Minute)
	set(&c.PauseProbe, 2*time.Second)
	set(&c.JobTimeout, 30*time.Second)
	set(&c.RescueMargin, 5*time.Second)
	set(&c.PollInterval, 200*time.Millisecond)
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.SupportEmail == "" {
		c.SupportEmail = "support@tierup.dev"
	}
}

// Deps are the outside parts the workflow drives.
type Deps struct {
	Store   *sqlstore.DB
	Catalog *tierup.Catalog
	Clock   tierup.Clock
	Gateway tierup.PaymentGateway
	Cluster tierup.Cluster
	Mailer  tierup.Mailer
	Log     *slog.Logger
	// QuoteValid re-checks a quote's signature before money moves.
	QuoteValid func(*tierup.Quote) bool
}

// Engine runs upgrades.
type Engine struct {
	Deps
	cfg     Config
	queue   queue
	hub     *hub
	process string // this process's ID, with a heartbeat in the store
	stop    context.CancelFunc
	done    chan struct{}
}

// New builds the engine and migrates the job queue's tables. Call Start to
// begin working.
func New(ctx context.Context, d Deps, cfg Config) (*Engine, error) {
	cfg.defaults()
	e := &Engine{Deps: d, cfg: cfg, hub: newHub(), process: tierup.NewID("proc")}
	workers := river.NewWorkers()
	river.AddWorker(workers, &stepWorker{e: e})
	q, err := newQueue(ctx, d.Store, cfg, workers, d.Log)
	if err != nil {
		return nil, err
	}
	e.queue = q
	return e, nil
}

// Start begins working jobs, this process's share of every upgrade's
// steps, and watching for steps left running by a process that died.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.heartbeat(ctx); err != nil {
		return err
	}
	if err := e.queue.start(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stop, e.done = cancel, make(chan struct{})
	go e.watch(rctx)
	return nil
}

// Stop finishes the running steps and stops.
func (e *Engine) Stop(ctx context.Context) error {
	// The heartbeat stops last: while steps finish, other processes must
	// not take them for orphans.
	err := e.queue.stop(ctx)
	if e.stop != nil {
		e.stop()
		<-e.done
	}
	return err
}

// Subscribe returns a channel that receives a value whenever this process
// changes the upgrade, and a function to unsubscribe. Changes made by other
// processes are found by polling the event log.
func (e *Engine) Subscribe(upgradeID string) (<-chan struct{}, func()) {
	return e.hub.subscribe(upgradeID)
}

// Start of an upgrade: store it, its first event and its first job at once.
// Errors: those of Store.CreateUpgrade.
func (e *Engine) Create(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, actor string) error {
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
	st := u.Step(step)
	run := 1
	if st != nil {
		st.Run++
		run = st.Run
	} else { // compensate is not one of the listed steps
		u.CompensateRun++
		run = u.CompensateRun
	}
	return e.queue.enqueue(ctx, tx, stepArgs{UpgradeID: u.ID, Step: step, Run: run}, at)
}

// event appends an audit event carrying the upgrade's new state.
func (e *Engine) event(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, actor string, action tierup.Action, msg string) error {
	ev := &tierup.UpgradeEvent{UpgradeID: u.ID, Actor: actor, Action: action, Message: msg, At: e.Clock.Now().UTC(), Upgrade: u}
	if err := tx.AppendEvent(ctx, ev); err != nil {
		return err
	}
	e.Log.InfoContext(ctx, "upgrade "+string(action), "upgrade", u.ID, "account", u.AccountID, "actor", actor, "status", u.Status,
		"step", u.CurrentStep, "message", msg)
	return nil
}

// save stores the upgrade (version-checked) and one event describing the
// change, in tx.
func (e *Engine) save(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, actor string, action tierup.Action, msg string) error {
	u.UpdatedAt = e.Clock.Now().UTC()
	u.UpdateProgress()
	if err := tx.UpdateUpgrade(ctx, u); err != nil {
		return err
	}
	return e.event(ctx, tx, u, actor, action, msg)
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
