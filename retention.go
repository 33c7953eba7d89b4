package tierup

import (
	"fmt"
	"time"
)

// Retention says how long the rows that serve only for a while are kept
// before they are purged. What the business needs later — upgrades and
// their audit events, quotes, receipts and credit notes, the credit ledger,
// support tickets — is never purged.
type Retention struct {
	// Expired is how long sessions, sign-in links and idempotency keys are
	// kept after they expire (default 0: purged once expired).
	Expired time.Duration
	// WebhookEvents is how long the ID of a processed webhook event is
	// remembered, so that a replay is acknowledged without being acted on
	// (default WebhookEventRetention, 30 days).
	WebhookEvents time.Duration
	// Heartbeats is how long the heartbeat of a process that died is kept
	// for the operators (default 1 hour); one that shuts down deletes its
	// own.
	Heartbeats time.Duration
	// FinishedJobs is how long the job queue keeps the jobs of steps that
	// finished (default 24 hours); failed jobs are kept 7 days.
	FinishedJobs time.Duration
}

// DefaultRetention returns the defaults; the CLI shows them in its flags.
func DefaultRetention() Retention {
	return Retention{WebhookEvents: WebhookEventRetention, Heartbeats: time.Hour, FinishedJobs: 24 * time.Hour}
}

// WithDefaults fills the unset fields (zero, except Expired whose default
// is zero) from DefaultRetention.
func (r Retention) WithDefaults() Retention {
	d := DefaultRetention()
	for _, f := range []struct{ v, def *time.Duration }{{&r.WebhookEvents, &d.WebhookEvents}, {&r.Heartbeats, &d.Heartbeats}, {&r.FinishedJobs, &d.FinishedJobs}} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return r
}

// Check refuses retentions that would break what the rows are for.
// Errors: CodeInvalid naming the setting.
func (r Retention) Check() error {
	switch {
	case r.Expired < 0, r.WebhookEvents < 0, r.Heartbeats < 0, r.FinishedJobs < 0:
		return Errorf(CodeInvalid, "retention periods cannot be negative")
	case r.WebhookEvents < 3*24*time.Hour:
		return Errorf(CodeInvalid, "webhook event retention %v is shorter than the 3 days over which Stripe retries a delivery: a retried event would be processed again", r.WebhookEvents)
	}
	return nil
}

func (r Retention) String() string {
	return fmt.Sprintf("expired +%v, webhook events %v, heartbeats %v, finished jobs %v", r.Expired, r.WebhookEvents, r.Heartbeats, r.FinishedJobs)
}
