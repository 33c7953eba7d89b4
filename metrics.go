package tierup

import "time"

// Metrics observes what the service does, for monitoring. The workflow
// calls it after each outcome is committed, so that a rolled-back
// transaction is never counted. Label values passed in are bounded sets
// (steps, outcomes, operation names, codes): never IDs. The adapter is
// package metrics (Prometheus); NoMetrics is the default. HTTP requests
// and event streams are measured by the adapter's middleware.
type Metrics interface {
	// UpgradeStarted counts an upgrade whose first step began to run.
	UpgradeStarted()
	// UpgradeFinished counts an upgrade that ended: completed or canceled.
	UpgradeFinished(outcome string)
	// StepFinished observes one run of a step: outcome is succeeded,
	// skipped, progress, retry, paused, declined, needs_support,
	// awaiting_customer, canceled, or handed_back (cut short by a shutdown).
	StepFinished(step StepName, outcome string, d time.Duration)
	// PaymentAttempt counts a payment step's outcome: succeeded, declined
	// (with the gateway's decline code) or error.
	PaymentAttempt(outcome, declineCode string)
	// Paused counts an upgrade pausing on an unreachable dependency, by
	// the error code that paused it.
	Paused(code string)
	// NeedsSupport counts an upgrade handed to support at step.
	NeedsSupport(step StepName)
	// GatewayCall and ClusterCall time a payment gateway or cluster
	// operation: outcome is ok or error.
	GatewayCall(op, outcome string, d time.Duration)
	ClusterCall(op, outcome string, d time.Duration)
}

// NoMetrics observes nothing.
type NoMetrics struct{}

func (NoMetrics) UpgradeStarted()                              {}
func (NoMetrics) UpgradeFinished(string)                       {}
func (NoMetrics) StepFinished(StepName, string, time.Duration) {}
func (NoMetrics) PaymentAttempt(string, string)                {}
func (NoMetrics) Paused(string)                                {}
func (NoMetrics) NeedsSupport(StepName)                        {}
func (NoMetrics) GatewayCall(string, string, time.Duration)    {}
func (NoMetrics) ClusterCall(string, string, time.Duration)    {}
