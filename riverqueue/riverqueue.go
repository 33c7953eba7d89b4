// Package riverqueue is the workflow's job queue on River, in the store's
// own database: riversqlite on SQLite, riverpgxv5 on PostgreSQL. It is the
// only package that knows River and its drivers; the workflow sees a
// tierup.JobQueue.
package riverqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sqlstore"
)

// Config tunes the queue.
type Config struct {
	// Workers is how many jobs this process runs at once (default 10).
	Workers int
	// PollInterval is how often idle workers look for jobs, and how often
	// due scheduled jobs are made available (default 200ms).
	PollInterval time.Duration
	// JobTimeout is the longest one step may run. Required: it is the
	// workflow's (workflow.Config.JobTimeout), which times each step
	// itself: a job runs the steps that follow it when they are due at
	// once, longer together than one may take, so River's own timer is
	// off for the workflow's jobs (worker.Timeout) and never takes such a
	// job for stuck.
	JobTimeout time.Duration
	// RescueAfter is how long after it started a job still running is
	// rescued by River, for a process that died. Required: the workflow's
	// job timeout plus its margin.
	RescueAfter time.Duration
	// MaxRetryDelay caps the wait before River runs again a job that failed
	// unexpectedly (the database was unreachable, say): 1 s after the
	// first failure, doubling after each one, with jitter (default 30s).
	// River's own schedule, attempt⁴ seconds, put a step that failed a
	// few times during a database outage minutes to hours away.
	MaxRetryDelay time.Duration
	// FinishedJobRetention is how long the jobs of finished steps are kept
	// (default tierup.DefaultRetention().FinishedJobs, 24h); River keeps
	// the few jobs that failed for good 7 days.
	FinishedJobRetention time.Duration
}

// DefaultConfig returns the defaults of the optional fields.
func DefaultConfig() Config {
	return Config{Workers: 10, PollInterval: 200 * time.Millisecond, MaxRetryDelay: 30 * time.Second, FinishedJobRetention: tierup.DefaultRetention().FinishedJobs}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.PollInterval <= 0 {
		c.PollInterval = d.PollInterval
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = d.MaxRetryDelay
	}
	if c.FinishedJobRetention <= 0 {
		c.FinishedJobRetention = d.FinishedJobRetention
	}
	return c
}

// retryPolicy schedules a failed job's next run 1 s after its first
// failure, doubling with each one up to max, each wait between half and
// all of that. Like River's default policy it counts the job's errors and
// reads the process's clock: the queue compares the time with its own.
type retryPolicy struct{ max time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().UTC().Add(p.delay(len(job.Errors) + 1))
}

// delay is the wait after the failure-th failure.
func (p retryPolicy) delay(failure int) time.Duration {
	d := p.max
	if failure <= 30 {
		d = min(time.Second<<(max(failure, 1)-1), p.max)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// jobArgs is River's form of a tierup.Job: the one job kind.
type jobArgs tierup.Job

func (jobArgs) Kind() string { return "tierup_upgrade_step" }

// New migrates River's tables in db and returns the queue. Errors: a
// missing JobTimeout or RescueAfter, or the migration's.
func New(ctx context.Context, db *sqlstore.DB, cfg Config, log *slog.Logger) (tierup.JobQueue, error) {
	cfg = cfg.withDefaults()
	if cfg.JobTimeout <= 0 || cfg.RescueAfter <= 0 {
		return nil, errors.New("riverqueue: JobTimeout and RescueAfter are required")
	}
	log = log.With("component", "river")
	var q tierup.JobQueue
	var err error
	switch db.Dialect() {
	case sqlstore.Postgres:
		q, err = build(ctx, riverpgxv5.New(db.Pool()), sqlstore.PgxTx, cfg, log)
	default:
		q, err = build(ctx, riversqlite.New(db.SQLDB()), sqlstore.SQLTx, cfg, log)
	}
	if err != nil {
		return nil, err
	}
	return q, nil
}

// queue holds River's driver type parameter away from everyone else.
type queue[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	client  *river.Client[TTx]
	txOf    func(tierup.Store) (TTx, bool)
	every   time.Duration
	log     *slog.Logger
	work    func(ctx context.Context, d tierup.Delivery) error
	stopped chan struct{}
	cancel  context.CancelFunc
}

func build[TTx any, TDriver riverdriver.Driver[TTx]](ctx context.Context, driver TDriver, txOf func(tierup.Store) (TTx, bool),
	cfg Config, log *slog.Logger) (*queue[TTx, TDriver], error) {
	m, err := rivermigrate.New[TTx](driver, nil)
	if err != nil {
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	q := &queue[TTx, TDriver]{txOf: txOf, every: cfg.PollInterval, log: log}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker[TTx, TDriver]{q: q})
	q.client, err = river.NewClient[TTx](driver, &river.Config{
		Queues:     map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:    workers,
		JobTimeout: cfg.JobTimeout,
		// Soon after a job's timeout, not River's default hour, so that
		// an upgrade whose process died resumes within seconds.
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    cfg.PollInterval, // SQLite has no LISTEN/NOTIFY
		MaxAttempts:          1000,             // River retries only unexpected errors (a database hiccup); steps retry themselves
		RetryPolicy:          retryPolicy{max: cfg.MaxRetryDelay},
		// Jobs are the queue's, not the record: the upgrade and its audit
		// events say what happened.
		CompletedJobRetentionPeriod: cfg.FinishedJobRetention,
		CancelledJobRetentionPeriod: cfg.FinishedJobRetention,
		Logger:                      log,
	})
	return q, err
}

func (q *queue[TTx, TDriver]) tx(tx tierup.Store) (TTx, error) {
	t, ok := q.txOf(tx)
	if !ok {
		return t, errors.New("riverqueue: used outside a transaction of the queue's database")
	}
	return t, nil
}

// Enqueue implements tierup.JobQueue.
func (q *queue[TTx, TDriver]) Enqueue(ctx context.Context, tx tierup.Store, job tierup.Job, after time.Duration) error {
	t, err := q.tx(tx)
	if err != nil {
		return err
	}
	if ctx, err = sqlstore.TxContext(ctx, tx); err != nil {
		return err
	}
	opts := &river.InsertOpts{}
	if after > 0 {
		// Only later jobs are scheduled: River makes a scheduled job
		// available on its next scheduler pass, up to 5 s later.
		opts.ScheduledAt = time.Now().Add(after)
	}
	_, err = q.client.InsertTx(ctx, t, jobArgs(job), opts)
	return err
}

// Start implements tierup.JobQueue.
func (q *queue[TTx, TDriver]) Start(ctx context.Context, work func(ctx context.Context, d tierup.Delivery) error) error {
	q.work = work
	// River stops at once, cancelling the running jobs, when its start
	// context ends: only Stop stops it, so that they may finish.
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.cancel, q.stopped = cancel, make(chan struct{})
	go q.promote(pctx)
	return nil
}

// Stop implements tierup.JobQueue.
func (q *queue[TTx, TDriver]) Stop(ctx context.Context) error {
	if q.cancel != nil {
		q.cancel()
		<-q.stopped
	}
	return q.client.Stop(ctx)
}

// promote makes due scheduled jobs available. River's own scheduler passes
// only every 5 s, which would let a retry or a paused upgrade's probe run
// seconds after the time the user was shown. Running jobs are untouched by
// JobRetry, and a job that finished meanwhile is harmless: its run is stale.
func (q *queue[TTx, TDriver]) promote(ctx context.Context) {
	defer close(q.stopped)
	t := time.NewTicker(q.every)
	defer t.Stop()
	params := river.NewJobListParams().Kinds(jobArgs{}.Kind()).States(rivertype.JobStateScheduled).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(100)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := q.client.JobList(ctx, params)
		if err != nil {
			if ctx.Err() == nil {
				q.log.WarnContext(ctx, "listing scheduled jobs", "err", err)
			}
			continue
		}
		now := time.Now()
		for _, j := range res.Jobs {
			if j.ScheduledAt.After(now) {
				break
			}
			if _, err := q.client.JobRetry(ctx, j.ID); err != nil && ctx.Err() == nil {
				q.log.WarnContext(ctx, "promoting a due job", "job", j.ID, "err", err)
			}
		}
	}
}

type worker[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	river.WorkerDefaults[jobArgs]
	q *queue[TTx, TDriver]
}

// Timeout turns River's timer off for the workflow's jobs (Config.JobTimeout).
func (w *worker[TTx, TDriver]) Timeout(*river.Job[jobArgs]) time.Duration { return -1 }

func (w *worker[TTx, TDriver]) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	return w.q.work(ctx, delivery[TTx, TDriver]{q: w.q, job: job})
}

type delivery[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	q   *queue[TTx, TDriver]
	job *river.Job[jobArgs]
}

func (d delivery[TTx, TDriver]) Job() tierup.Job { return tierup.Job(d.job.Args) }

func (d delivery[TTx, TDriver]) Complete(ctx context.Context, tx tierup.Store) error {
	t, err := d.q.tx(tx)
	if err != nil {
		return err
	}
	if ctx, err = sqlstore.TxContext(ctx, tx); err != nil {
		return err
	}
	_, err = river.JobCompleteTx[TDriver](ctx, t, d.job)
	return err
}

// Compile-time checks that both drivers fit.
var (
	_ tierup.JobQueue = (*queue[pgx.Tx, *riverpgxv5.Driver])(nil)
	_ tierup.JobQueue = (*queue[*sql.Tx, *riversqlite.Driver])(nil)
)
