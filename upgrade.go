package tierup

import (
	"time"
)

// UpgradeStatus is where an upgrade stands as a whole.
type UpgradeStatus string

// Upgrade statuses. All but completed and canceled are active: an account
// has at most one active upgrade.
const (
	UpgradeProcessing    UpgradeStatus = "processing"
	UpgradePaymentFailed UpgradeStatus = "payment_failed" // waits for a corrected card
	// UpgradePaymentActionRequired waits for the customer to authenticate
	// the payment with their bank (3-D Secure): Payment.NextAction says how.
	// The payment step checks the charge again by itself until
	// Payment.ActionExpiresAt.
	UpgradePaymentActionRequired UpgradeStatus = "payment_action_required"
	UpgradePaused                UpgradeStatus = "paused"        // a dependency is unreachable; resumes by itself
	UpgradeNeedsSupport          UpgradeStatus = "needs_support" // retries exhausted; support was notified
	UpgradeCompleted             UpgradeStatus = "completed"
	UpgradeCanceled              UpgradeStatus = "canceled" // compensated: refunded, previous plan restored
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

// DefaultStepAttempts is how many automatic attempts a failing step gets
// before support takes over, unless configured otherwise
// (workflow.Config.MaxAttempts, --retry-attempts).
const DefaultStepAttempts = 5

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

// StepStatus is where one step stands.
type StepStatus string

// Step statuses.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepRetrying  StepStatus = "retrying" // failed, another attempt is scheduled at NextRetryAt
	StepFailed    StepStatus = "failed"   // no more automatic attempts
	StepSucceeded StepStatus = "succeeded"
	StepSkipped   StepStatus = "skipped"
)

// Done reports whether the step has nothing left to do.
func (s StepStatus) Done() bool { return s == StepSucceeded || s == StepSkipped }

// Step is one step's record.
type Step struct {
	Name        StepName
	Status      StepStatus
	Attempts    int
	StartedAt   *time.Time
	FinishedAt  *time.Time
	Error       *StepError
	NextRetryAt *time.Time
	Worker      string // the tierup process that ran it last
	// Run numbers the step's scheduled executions; only the job carrying
	// the current Run may act, so stale or duplicate jobs do nothing.
	Run int
}

// StepError is the last error of a step, for people and machines.
type StepError struct {
	Code    string
	Message string
}

// PaymentStatus is where the upgrade's charge stands.
type PaymentStatus string

// Payment statuses.
const (
	PaymentPending   PaymentStatus = "pending"
	PaymentSucceeded PaymentStatus = "succeeded"
	PaymentFailed    PaymentStatus = "failed"
	PaymentSkipped   PaymentStatus = "skipped" // nothing was due
	PaymentRefunded  PaymentStatus = "refunded"
	// PaymentRequiresAction: the charge waits for the customer's
	// authentication (Payment.Intent, Payment.NextAction).
	PaymentRequiresAction PaymentStatus = "requires_action"
)

// Payment is the upgrade's charge as the user sees it: never the card
// number.
type Payment struct {
	Status          PaymentStatus
	Amount          Money
	PaymentMethodID string
	Brand           string
	Last4           string
	// Attempt counts the cards tried; each has its own idempotency key.
	Attempt     int
	ChargeID    string
	RefundID    string
	DeclineCode string
	FailureCode PaymentCode
	Message     string
	// Intent is the gateway's charge awaiting the customer's
	// authentication; the step reads it again instead of charging anew.
	Intent string
	// NextAction tells the customer's client how to authenticate, while
	// the status is requires_action.
	NextAction *NextAction
	// ActionExpiresAt is when a charge still awaiting authentication is
	// abandoned and the payment fails.
	ActionExpiresAt *time.Time
	// Receipt is the charge's receipt, recorded in the commit that issues
	// it (nil before, and in upgrades from before it was recorded).
	Receipt *ReceiptRef
}

// WorkloadState is where one workload's move stands.
type WorkloadState string

// Workload migration states.
const (
	WorkloadPending    WorkloadState = "pending"
	WorkloadMigrating  WorkloadState = "migrating"
	WorkloadMigrated   WorkloadState = "migrated"
	WorkloadRolledBack WorkloadState = "rolled_back" // the move failed and was undone; it will be retried
	WorkloadReturned   WorkloadState = "returned"    // moved back to the shared pool by a cancel
)

// WorkloadMigration is one workload's move to the dedicated node.
type WorkloadMigration struct {
	Workload
	State        WorkloadState
	MinAvailable *int // the fewest available replicas seen while it moved
	Notes        []string
}

// TermsAcceptance records the user's agreement to the terms of service.
type TermsAcceptance struct {
	Version    string
	AcceptedAt time.Time
	IP         string
	UserAgent  string
}

// Upgrade is one run of the upgrade workflow for an account, from a quote.
type Upgrade struct {
	ID           string
	AccountID    string
	QuoteID      string
	FromPlan     string
	ToPlan       string
	Status       UpgradeStatus
	PausedReason string
	CurrentStep  StepName
	Progress     int
	NewPeriod    Period
	Payment      Payment
	// Nodes are the upgrade's dedicated nodes, by index, once all are
	// ready.
	Nodes []Node
	// Zone is where the dedicated nodes must be, because a volume of the
	// account's is pinned there (the pre-flight's, before the payment).
	Zone          string
	Workloads     []WorkloadMigration
	Steps         []Step
	Terms         TermsAcceptance
	SupportTicket string
	// Previous is the subscription before activation, restored by a cancel.
	Previous *Subscription
	// CancelRequestedAt is set while a cancel's compensation runs.
	CancelRequestedAt *time.Time
	CompensateRun     int
	CreatedAt         time.Time
	UpdatedAt         time.Time
	CompletedAt       *time.Time
	// Version increases with every stored change (optimistic locking).
	Version int
}

// NodeNames lists the names of the upgrade's dedicated nodes.
func (u *Upgrade) NodeNames() []string {
	names := make([]string, 0, len(u.Nodes))
	for _, n := range u.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// NodeCount is how many dedicated nodes the upgrade asks for: its plan's
// count (plan may be nil when the catalog no longer has it), and never
// fewer than it already has, so that a cancel releases every one.
func (u *Upgrade) NodeCount(plan *Plan) int {
	n := max(1, len(u.Nodes))
	if plan != nil {
		n = max(n, plan.NodeCount())
	}
	return n
}

// Active reports whether the upgrade holds the account's single upgrade
// slot. The store keeps it in a column that the one-active-upgrade index
// uses, so this is the only place the rule is written.
func (u *Upgrade) Active() bool { return u.Status.Active() }

// Moving reports whether jobs, not a person, move the upgrade on: it is
// processing or paused, or a cancel's compensation runs.
func (u *Upgrade) Moving() bool {
	return u.Active() && (u.Status.Moves() || u.CancelRequestedAt != nil)
}

// Moves reports whether jobs move an upgrade in this status on: a
// payment awaiting authentication is checked again by its step.
func (s UpgradeStatus) Moves() bool {
	return s == UpgradeProcessing || s == UpgradePaused || s == UpgradePaymentActionRequired
}

// RunningWorker returns the process running the current step, or "" when
// no step is running.
func (u *Upgrade) RunningWorker() string {
	if !u.Active() {
		return ""
	}
	if st := u.Step(u.CurrentStep); st != nil && st.Status == StepRunning {
		return st.Worker
	}
	return ""
}

// DueAt is when a moving upgrade is next expected to change by itself: its
// last change, or its current step's next attempt when that is later. An
// upgrade long past it has lost its job.
func (u *Upgrade) DueAt() time.Time {
	due := u.UpdatedAt
	if st := u.Step(u.CurrentStep); st != nil && st.NextRetryAt != nil && st.NextRetryAt.After(due) {
		due = *st.NextRetryAt
	}
	return due
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

// NextToMove is the index of the first workload after index after that is
// not on the dedicated nodes yet, or -1: the migration moves them in this
// order, one at a time.
func (u *Upgrade) NextToMove(after int) int {
	for i := after + 1; i < len(u.Workloads); i++ {
		if u.Workloads[i].State != WorkloadMigrated {
			return i
		}
	}
	return -1
}

// MovingWorkload is the index of the workload being moved now — the next
// to move while the migration step runs or waits to try again — or -1.
func (u *Upgrade) MovingWorkload() int {
	st := u.Step(StepMigrateWorkloads)
	if st == nil || (st.Status != StepRunning && st.Status != StepRetrying) || !u.Moving() {
		return -1
	}
	return u.NextToMove(-1)
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

// Action names what an audit event records. Writers and readers (the
// payment rate limit, the dashboard) share these constants.
type Action string

// Audit actions.
const (
	ActionCreated                Action = "created"
	ActionStepStarted            Action = "step_started"
	ActionStepTakenOver          Action = "step_taken_over"
	ActionStepHandedBack         Action = "step_handed_back"
	ActionStepProgress           Action = "step_progress"
	ActionStepSucceeded          Action = "step_succeeded"
	ActionStepRetryScheduled     Action = "step_retry_scheduled"
	ActionPaymentFailed          Action = "payment_failed"
	ActionPaymentActionRequired  Action = "payment_action_required"
	ActionPaymentRetry           Action = "payment_retry"
	ActionPaused                 Action = "paused"
	ActionResumed                Action = "resumed"
	ActionResumedAfterCrash      Action = "resumed_after_crash"
	ActionNeedsSupport           Action = "needs_support"
	ActionAdminRetry             Action = "admin_retry"
	ActionCompleted              Action = "completed"
	ActionCancelRequested        Action = "cancel_requested"
	ActionStepConcludedForCancel Action = "step_concluded_for_cancel"
	ActionCancelProgress         Action = "cancel_progress"
	ActionCancelRetryScheduled   Action = "cancel_retry_scheduled"
	ActionCanceled               Action = "canceled"
)

// GatewayAction is the audit action of an event a payment gateway reported
// by webhook, e.g. "stripe_payment_intent.succeeded".
func GatewayAction(gateway, eventType string) Action { return Action(gateway + "_" + eventType) }

// UpgradeEvent is one entry of an upgrade's history: an audit record (who
// did what, when) carrying the upgrade as it was right after.
type UpgradeEvent struct {
	Seq       int64 // increasing; the SSE event ID
	UpgradeID string
	Actor     string // system, the account ID, admin, or a gateway
	Action    Action
	Message   string
	At        time.Time
	Upgrade   *Upgrade
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

// TicketStatus is where a support ticket stands.
type TicketStatus string

// Ticket statuses.
const (
	TicketOpen     TicketStatus = "open"
	TicketResolved TicketStatus = "resolved"
)

// SupportTicket asks a person to look at an upgrade the system could not
// finish.
type SupportTicket struct {
	ID        string       `json:"id"`
	UpgradeID string       `json:"upgrade_id"`
	AccountID string       `json:"account"`
	Step      StepName     `json:"step"`
	Error     string       `json:"error"`
	Status    TicketStatus `json:"status" enum:"open,resolved"`
	CreatedAt time.Time    `json:"created_at"`
}
