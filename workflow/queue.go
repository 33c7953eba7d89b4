package workflow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
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

// stepArgs is the one job kind: run a step of an upgrade. Run must equal
// the step's current Run for the job to act, so a stale or duplicate job
// does nothing and only one job can own a step at a time.
type stepArgs struct {
	UpgradeID string          `json:"upgrade_id"`
	Step      tierup.StepName `json:"step"`
	Run       int             `json:"run"`
}

func (stepArgs) Kind() string { return "tierup_upgrade_step" }

// queue hides River's driver type parameter from the engine.
type queue interface {
	// enqueue inserts a job inside the store transaction tx.
	enqueue(ctx context.Context, tx tierup.Store, args stepArgs, at time.Time) error
	// complete marks the running job done inside tx, so that the step's
	// state change, the next job and the completion commit together.
	complete(ctx context.Context, tx tierup.Store, job *river.Job[stepArgs]) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

type riverQueue[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	client  *river.Client[TTx]
	every   time.Duration
	log     *slog.Logger
	stopped chan struct{}
	cancel  context.CancelFunc
}

func (q *riverQueue[TTx, TDriver]) txOf(tx tierup.Store) (TTx, error) {
	t, ok := tx.TxHandle().(TTx)
	if !ok {
		return t, errors.New("workflow: job queue used outside a store transaction")
	}
	return t, nil
}

func (q *riverQueue[TTx, TDriver]) enqueue(ctx context.Context, tx tierup.Store, args stepArgs, at time.Time) error {
	t, err := q.txOf(tx)
	if err != nil {
		return err
	}
	opts := &river.InsertOpts{}
	if at.After(time.Now()) {
		// Only future jobs are scheduled: River makes a scheduled job
		// available on its next scheduler pass, up to 5 s later.
		opts.ScheduledAt = at
	}
	_, err = q.client.InsertTx(ctx, t, args, opts)
	return err
}

func (q *riverQueue[TTx, TDriver]) complete(ctx context.Context, tx tierup.Store, job *river.Job[stepArgs]) error {
	t, err := q.txOf(tx)
	if err != nil {
		return err
	}
	_, err = river.JobCompleteTx[TDriver](ctx, t, job)
	return err
}

func (q *riverQueue[TTx, TDriver]) start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.cancel, q.stopped = cancel, make(chan struct{})
	go q.promote(pctx)
	return nil
}

func (q *riverQueue[TTx, TDriver]) stop(ctx context.Context) error {
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
func (q *riverQueue[TTx, TDriver]) promote(ctx context.Context) {
	defer close(q.stopped)
	t := time.NewTicker(q.every)
	defer t.Stop()
	params := river.NewJobListParams().Kinds(stepArgs{}.Kind()).States(rivertype.JobStateScheduled).
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

// riverConfig tunes River for upgrades: short jobs, quick polling (SQLite
// has no LISTEN/NOTIFY), and stuck-job rescue soon after a job's timeout so
// that an upgrade whose process died resumes within seconds of a restart,
// not River's default hour.
func riverConfig(cfg Config, workers *river.Workers, log *slog.Logger) *river.Config {
	return &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.JobTimeout + cfg.RescueMargin,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    cfg.PollInterval,
		MaxAttempts:          1000, // River retries only unexpected errors (a database hiccup); steps retry themselves
		Logger:               log,
	}
}

// newQueue migrates River's tables and builds the client for the store's
// database.
func newQueue(ctx context.Context, db *sqlstore.DB, cfg Config, workers *river.Workers, log *slog.Logger) (queue, error) {
	rlog := log.With("component", "river")
	switch db.Dialect() {
	case sqlstore.Postgres:
		driver := riverpgxv5.New(db.Pool())
		if err := migrateRiver(ctx, driver); err != nil {
			return nil, err
		}
		c, err := river.NewClient(driver, riverConfig(cfg, workers, rlog))
		if err != nil {
			return nil, err
		}
		return &riverQueue[pgx.Tx, *riverpgxv5.Driver]{client: c, every: cfg.PollInterval, log: rlog}, nil
	default:
		driver := riversqlite.New(db.SQLDB())
		if err := migrateRiver(ctx, driver); err != nil {
			return nil, err
		}
		c, err := river.NewClient(driver, riverConfig(cfg, workers, rlog))
		if err != nil {
			return nil, err
		}
		return &riverQueue[*sql.Tx, *riversqlite.Driver]{client: c, every: cfg.PollInterval, log: rlog}, nil
	}
}

func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}
