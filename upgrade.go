package tierup

import (
	"time"
)

// UpgradeStatus is where an upgrade stands as a whole.
type UpgradeStatus string

// Upgrade statuses. processing, payment_failed, paused and needs_support
// are active: an account has at most one active upgrade.
const (
	UpgradeProcessing    UpgradeStatus = "processing"
	UpgradePaymentFailed UpgradeStatus = "payment_failed" // waits for a corrected card
	UpgradePaused        UpgradeStatus = "paused"         // a dependency is unreachable; resumes by itself
	UpgradeNeedsSupport  UpgradeStatus = "needs_support"  // retries exhausted; support was notified
	UpgradeCompleted     UpgradeStatus = "completed"
	UpgradeCanceled      UpgradeStatus = "canceled" // compensated: refunded, previous plan restored
)

// Active reports whether the upgrade still holds the account's single
// upgrade slot.
func (s UpgradeStatus) Active() bool {
	return s != UpgradeCompleted && s != UpgradeCanceled
}

// StepName names one step of the upgrade workflow.
type StepName string

// The workflow's steps, in order.
const (
	StepPayment          StepName = "payment"
	StepActivatePlan     StepName = "activate_plan"
	StepProvisionNode    StepName = "provision_node"
	StepMigrateWorkloads StepName = "migrate_workloads"
	StepEnableFeatures   StepName = "enable_features"
	StepNotify           StepName = "notify"
)

// Steps returns the workflow's steps in order (a new slice each time).
func Steps() []StepName {
	return []StepName{StepPayment, StepActivatePlan, StepProvisionNode, StepMigrateWorkloads, StepEnableFeatures, StepNotify}
}

// NextStep returns the step after s, or "" after the last.
func NextStep(s StepName) StepName {
	steps := Steps()
	for i, x := range steps {
		if x == s && i+1 < len(steps) {
			return steps[i+1]
		}
	}
	return ""
}

// Step statuses.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepRetrying  = "retrying" // failed, another attempt is scheduled at NextRetryAt
	StepFailed    = "failed"   // no more automatic attempts
	StepSucceeded = "succeeded"
	StepSkipped   = "skipped"
)

// Step is one step's record.
type Step struct {
	Name        StepName   `json:"name"`
	Status      string     `json:"status" enum:"pending,running,retrying,failed,succeeded,skipped"`
	Attempts    int        `json:"attempts"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Error       *StepError `json:"error,omitempty"`
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
	Worker      string     `json:"worker,omitempty" doc:"The tierup process that ran it last."`
	// Run numbers the step's scheduled executions; only the job carrying
	// the current Run may act, so stale or duplicate jobs do nothing.
	Run int `json:"-"`
}

// StepError is the last error of a step, for people and machines.
type StepError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Payment statuses.
const (
	PaymentPending   = "pending"
	PaymentSucceeded = "succeeded"
	PaymentFailed    = "failed"
	PaymentSkipped   = "skipped" // nothing was due
	PaymentRefunded  = "refunded"
)

// Payment is the upgrade's charge as the user sees it: never the card
// number.
type Payment struct {
	Status          string `json:"status" enum:"pending,succeeded,failed,skipped,refunded"`
	Amount          Money  `json:"amount"`
	PaymentMethodID string `json:"payment_method"`
	Brand           string `json:"brand,omitempty"`
	Last4           string `json:"last4,omitempty"`
	// Attempt counts the cards tried; each has its own idempotency key.
	Attempt     int    `json:"attempt"`
	ChargeID    string `json:"charge_id,omitempty"`
	RefundID    string `json:"refund_id,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	FailureCode string `json:"failure_code,omitempty"`
	Message     string `json:"message,omitempty"`
}

// Workload migration states.
const (
	WorkloadPending    = "pending"
	WorkloadMigrating  = "migrating"
	WorkloadMigrated   = "migrated"
	WorkloadRolledBack = "rolled_back" // the move failed and was undone; it will be retried
	WorkloadReturned   = "returned"    // moved back to the shared pool by a cancel
)

// WorkloadMigration is one workload's move to the dedicated node.
type WorkloadMigration struct {
	Workload
	State        string   `json:"state" enum:"pending,migrating,migrated,rolled_back,returned"`
	MinAvailable *int     `json:"min_available,omitempty" doc:"Fewest available replicas seen while it moved."`
	Notes        []string `json:"notes,omitempty"`
}

// TermsAcceptance records the user's agreement to the terms of service.
type TermsAcceptance struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"accepted_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

// Upgrade is one run of the upgrade workflow for an account, from a quote.
type Upgrade struct {
	ID            string              `json:"id"`
	AccountID     string              `json:"account"`
	QuoteID       string              `json:"quote"`
	FromPlan      string              `json:"from_plan"`
	ToPlan        string              `json:"to_plan"`
	Status        UpgradeStatus       `json:"status" enum:"processing,payment_failed,paused,needs_support,completed,canceled"`
	PausedReason  string              `json:"paused_reason,omitempty"`
	CurrentStep   StepName            `json:"current_step,omitempty"`
	Progress      int                 `json:"progress" minimum:"0" maximum:"100"`
	NewPeriod     Period              `json:"new_period"`
	Payment       Payment             `json:"payment"`
	Node          *Node               `json:"node,omitempty"`
	Workloads     []WorkloadMigration `json:"workloads"`
	Steps         []Step              `json:"steps"`
	Terms         TermsAcceptance     `json:"terms"`
	SupportTicket string              `json:"support_ticket,omitempty"`
	// Previous is the subscription before activation, restored by a cancel.
	Previous *Subscription `json:"-"`
	// CancelRequestedAt is set while a cancel's compensation runs.
	CancelRequestedAt *time.Time `json:"cancel_requested_at,omitempty"`
	CompensateRun     int        `json:"-"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	CompletedAt       *time.Time `json:"completed_at,omitempty"`
	// Version increases with every stored change (optimistic locking).
	Version int `json:"version"`
}

// Step returns the record of the named step.
func (u *Upgrade) Step(name StepName) *Step {
	for i := range u.Steps {
		if u.Steps[i].Name == name {
			return &u.Steps[i]
		}
	}
	return nil
}

// UpdateProgress recomputes Progress: each step weighs the same, and the
// migration step advances with each workload moved.
func (u *Upgrade) UpdateProgress() {
	if u.Status == UpgradeCompleted {
		u.Progress = 100
		return
	}
	n := max(1, len(u.Workloads)) // units per step, so a moved workload counts 1/n of a step
	done := 0
	for _, s := range u.Steps {
		switch {
		case s.Status == StepSucceeded || s.Status == StepSkipped:
			done += n
		case s.Name == StepMigrateWorkloads:
			for _, w := range u.Workloads {
				if w.State == WorkloadMigrated {
					done++
				}
			}
		}
	}
	u.Progress = min(100*done/(n*len(u.Steps)), 99)
}

// NewUpgrade starts an upgrade record with every step pending.
func NewUpgrade(id string, q *Quote, pm *PaymentMethod, terms TermsAcceptance, now time.Time) *Upgrade {
	u := &Upgrade{ID: id, AccountID: q.AccountID, QuoteID: q.ID, FromPlan: q.FromPlan, ToPlan: q.ToPlan,
		Status: UpgradeProcessing, CurrentStep: StepPayment, NewPeriod: q.NewPeriod, Terms: terms,
		Payment:   Payment{Status: PaymentPending, Amount: q.AmountDue, PaymentMethodID: pm.ID, Brand: pm.Brand, Last4: pm.Last4, Attempt: 1},
		Workloads: []WorkloadMigration{}, CreatedAt: now, UpdatedAt: now}
	for _, s := range Steps() {
		u.Steps = append(u.Steps, Step{Name: s, Status: StepPending})
	}
	return u
}

// UpgradeEvent is one entry of an upgrade's history: an audit record (who
// did what, when) carrying the upgrade as it was right after.
type UpgradeEvent struct {
	Seq       int64     `json:"seq" doc:"Increasing event number; the SSE event ID."`
	UpgradeID string    `json:"upgrade_id"`
	Actor     string    `json:"actor" doc:"system, the account ID, or admin."`
	Action    string    `json:"action" doc:"e.g. created, step_started, step_succeeded, step_retry_scheduled, payment_failed, paused, resumed, completed, admin_retry, canceled."`
	Message   string    `json:"message"`
	At        time.Time `json:"at"`
	Upgrade   *Upgrade  `json:"upgrade,omitempty"`
}

// Notification is an in-app message to an account.
type Notification struct {
	ID        string    `json:"id"`
	AccountID string    `json:"-"`
	Kind      string    `json:"kind"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// SupportTicket asks a person to look at an upgrade the system could not
// finish.
type SupportTicket struct {
	ID        string    `json:"id"`
	UpgradeID string    `json:"upgrade_id"`
	AccountID string    `json:"account"`
	Step      StepName  `json:"step"`
	Error     string    `json:"error"`
	Status    string    `json:"status" enum:"open,resolved"`
	CreatedAt time.Time `json:"created_at"`
}
