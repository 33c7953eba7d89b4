package tierup

import (
	"context"
	"time"
)

// Job asks the workflow to run one step of an upgrade. Run must equal the
// step's current run for the job to act, so a stale or duplicate job does
// nothing and only one job owns a step at a time.
type Job struct {
	UpgradeID string   `json:"upgrade_id"`
	Step      StepName `json:"step"`
	Run       int      `json:"run"`
}

// JobQueue runs the workflow's jobs durably, in the store's database, so
// that a job exists exactly when the transaction that scheduled it
// commits.
type JobQueue interface {
	// Enqueue adds job, due after the delay (zero or less: at once),
	// inside the store transaction tx. A delay, not a time: the caller's
	// clock (a test clock, another host's) is never compared with the
	// queue's. Errors: the store's, or one saying tx is not a transaction
	// of the queue's database.
	Enqueue(ctx context.Context, tx Store, job Job, after time.Duration) error
	// Start hands each due job to work, several at once, until Stop. A job
	// whose work returns an error is tried again later; work completes a
	// job with Delivery.Complete inside the transaction that records its
	// outcome.
	Start(ctx context.Context, work func(ctx context.Context, d Delivery) error) error
	// Stop lets running jobs finish (until ctx ends) and stops.
	Stop(ctx context.Context) error
}

// Delivery is one job handed to the workflow by the queue.
type Delivery interface {
	// Job is what to do.
	Job() Job
	// Complete marks the job done inside tx, so the job's end commits with
	// the state change it made.
	Complete(ctx context.Context, tx Store) error
}
