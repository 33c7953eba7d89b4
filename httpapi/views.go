package httpapi

import (
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sim"
)

// The API's JSON for upgrades and what they carry. These types, not the
// domain's, are the API's contract: their field names, omitempty and
// OpenAPI docs stay put when the domain types change. The type names give
// the OpenAPI schemas their names (Upgrade, Step, …).

type upgrade struct {
	ID                string               `json:"id"`
	AccountID         string               `json:"account"`
	QuoteID           string               `json:"quote"`
	FromPlan          string               `json:"from_plan"`
	ToPlan            string               `json:"to_plan"`
	Status            tierup.UpgradeStatus `json:"status" enum:"processing,payment_action_required,payment_failed,paused,needs_support,completed,canceled"`
	PausedReason      string               `json:"paused_reason,omitempty"`
	CurrentStep       tierup.StepName      `json:"current_step,omitempty"`
	Progress          int                  `json:"progress" minimum:"0" maximum:"100"`
	NewPeriod         tierup.Period        `json:"new_period"`
	Payment           payment              `json:"payment"`
	Node              *node                `json:"node,omitempty" doc:"The first of nodes, kept for clients from before there were several."`
	Nodes             []node               `json:"nodes,omitempty" doc:"The upgrade's dedicated nodes (as many as the plan has), once all are ready."`
	Workloads         []workloadMigration  `json:"workloads"`
	Steps             []step               `json:"steps"`
	Terms             termsAcceptance      `json:"terms"`
	SupportTicket     string               `json:"support_ticket,omitempty"`
	CancelRequestedAt *time.Time           `json:"cancel_requested_at,omitempty"`
	CreatedAt         time.Time            `json:"created_at"`
	UpdatedAt         time.Time            `json:"updated_at"`
	CompletedAt       *time.Time           `json:"completed_at,omitempty"`
	Version           int                  `json:"version"`
}

type payment struct {
	Status          tierup.PaymentStatus `json:"status" enum:"pending,requires_action,succeeded,failed,skipped,refunded"`
	Amount          tierup.Money         `json:"amount"`
	PaymentMethodID string               `json:"payment_method"`
	Brand           string               `json:"brand,omitempty"`
	Last4           string               `json:"last4,omitempty"`
	Attempt         int                  `json:"attempt"`
	ChargeID        string               `json:"charge_id,omitempty"`
	RefundID        string               `json:"refund_id,omitempty"`
	DeclineCode     string               `json:"decline_code,omitempty"`
	FailureCode     tierup.PaymentCode   `json:"failure_code,omitempty"`
	Message         string               `json:"message,omitempty"`
	NextAction      *nextAction          `json:"next_action,omitempty" doc:"While the status is requires_action: how the customer authenticates the payment with their bank (3-D Secure)."`
	ActionExpiresAt *time.Time           `json:"action_expires_at,omitempty" doc:"While the status is requires_action: when the payment is abandoned if not authenticated."`
}

// nextAction is Stripe's shape of it: redirect_to_url carries a URL to open
// (the sandbox's is relative to tierup's address), use_stripe_sdk a
// PaymentIntent client secret for Stripe.js or the mobile SDK.
type nextAction struct {
	Type         string `json:"type" enum:"redirect_to_url,use_stripe_sdk"`
	URL          string `json:"url,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

type node struct {
	Name      string `json:"name"`
	AccountID string `json:"account"`
	Pool      string `json:"pool" enum:"dedicated"`
	Ready     bool   `json:"ready"`
}

// workloadMigration embeds the workload's fields, as the domain type does,
// so that JSON and schema list them in the same order.
type workloadMigration struct {
	MovedWorkload
	State        tierup.WorkloadState `json:"state" enum:"pending,migrating,migrated,rolled_back,returned"`
	MinAvailable *int                 `json:"min_available,omitempty" doc:"Fewest available replicas seen while it moved."`
	Notes        []string             `json:"notes,omitempty"`
}

// MovedWorkload is exported only because huma flattens exported embedded
// structs alone.
type MovedWorkload struct {
	Kind     string   `json:"kind" enum:"Deployment,StatefulSet,CronJob,Function"`
	Name     string   `json:"name"`
	Replicas int      `json:"replicas" doc:"Desired replicas (1 for CronJobs and Functions)."`
	Node     string   `json:"node" doc:"Where it runs now: \"shared\" or the (first) dedicated node's name."`
	Nodes    []string `json:"nodes,omitempty" doc:"The dedicated nodes its replicas run on, spread over them; absent on the shared pool."`
}

type step struct {
	Name        tierup.StepName   `json:"name"`
	Status      tierup.StepStatus `json:"status" enum:"pending,running,retrying,failed,succeeded,skipped"`
	Attempts    int               `json:"attempts"`
	StartedAt   *time.Time        `json:"started_at,omitempty"`
	FinishedAt  *time.Time        `json:"finished_at,omitempty"`
	Error       *stepError        `json:"error,omitempty"`
	NextRetryAt *time.Time        `json:"next_retry_at,omitempty"`
	Worker      string            `json:"worker,omitempty" doc:"The tierup process that ran it last."`
}

type stepError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type termsAcceptance struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"accepted_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

// event is the data of one Server-Sent Event of an upgrade's stream.
type event struct {
	Seq       int64         `json:"seq" doc:"Increasing event number; the SSE event ID."`
	UpgradeID string        `json:"upgrade_id"`
	Actor     string        `json:"actor" doc:"system, the account ID, or admin."`
	Action    tierup.Action `json:"action" doc:"e.g. created, step_started, step_succeeded, step_retry_scheduled, payment_failed, paused, resumed, completed, admin_retry, canceled."`
	Message   string        `json:"message"`
	At        time.Time     `json:"at"`
	Upgrade   *upgrade      `json:"upgrade,omitempty"`
}

// snapshot is the sandbox cluster's view of an account, with the API's
// node type.
type snapshot struct {
	Workloads []tierup.Workload `json:"workloads"`
	Nodes     []node            `json:"nodes"`
	Features  string            `json:"features,omitempty"`
}

func upgradeOf(u *tierup.Upgrade) *upgrade {
	if u == nil {
		return nil
	}
	p := u.Payment
	out := &upgrade{ID: u.ID, AccountID: u.AccountID, QuoteID: u.QuoteID, FromPlan: u.FromPlan, ToPlan: u.ToPlan,
		Status: u.Status, PausedReason: u.PausedReason, CurrentStep: u.CurrentStep, Progress: u.Progress, NewPeriod: u.NewPeriod,
		Payment: payment{Status: p.Status, Amount: p.Amount, PaymentMethodID: p.PaymentMethodID, Brand: p.Brand, Last4: p.Last4,
			Attempt: p.Attempt, ChargeID: p.ChargeID, RefundID: p.RefundID, DeclineCode: p.DeclineCode, FailureCode: p.FailureCode, Message: p.Message,
			ActionExpiresAt: p.ActionExpiresAt},
		Terms:         termsAcceptance{Version: u.Terms.Version, AcceptedAt: u.Terms.AcceptedAt, IP: u.Terms.IP, UserAgent: u.Terms.UserAgent},
		SupportTicket: u.SupportTicket, CancelRequestedAt: u.CancelRequestedAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		CompletedAt: u.CompletedAt, Version: u.Version}
	if a := p.NextAction; a != nil {
		out.Payment.NextAction = &nextAction{Type: a.Type, URL: a.URL, ClientSecret: a.ClientSecret}
	}
	for _, n := range u.Nodes {
		out.Nodes = append(out.Nodes, nodeOf(n))
	}
	if len(out.Nodes) > 0 {
		out.Node = &out.Nodes[0]
	}
	if u.Workloads != nil { // nil stays null, as before
		out.Workloads = make([]workloadMigration, 0, len(u.Workloads))
		for _, w := range u.Workloads {
			out.Workloads = append(out.Workloads, workloadMigration{MovedWorkload: MovedWorkload{Kind: w.Kind, Name: w.Name, Replicas: w.Replicas, Node: w.Node, Nodes: w.Nodes},
				State: w.State, MinAvailable: w.MinAvailable, Notes: w.Notes})
		}
	}
	if u.Steps != nil {
		out.Steps = make([]step, 0, len(u.Steps))
		for _, s := range u.Steps {
			st := step{Name: s.Name, Status: s.Status, Attempts: s.Attempts, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt,
				NextRetryAt: s.NextRetryAt, Worker: s.Worker}
			if s.Error != nil {
				st.Error = &stepError{Code: s.Error.Code, Message: s.Error.Message}
			}
			out.Steps = append(out.Steps, st)
		}
	}
	return out
}

func upgradesOf(us []*tierup.Upgrade) []*upgrade {
	if us == nil {
		return nil
	}
	out := make([]*upgrade, 0, len(us))
	for _, u := range us {
		out = append(out, upgradeOf(u))
	}
	return out
}

func nodeOf(n tierup.Node) node {
	return node{Name: n.Name, AccountID: n.AccountID, Pool: n.Pool, Ready: n.Ready}
}

// eventOf is an event's SSE data.
func eventOf(e *tierup.UpgradeEvent) any {
	return event{Seq: e.Seq, UpgradeID: e.UpgradeID, Actor: e.Actor, Action: e.Action, Message: e.Message, At: e.At,
		Upgrade: upgradeOf(e.Upgrade)}
}

func snapshotOf(s *sim.Snapshot) *snapshot {
	if s == nil {
		return nil
	}
	out := &snapshot{Workloads: s.Workloads, Features: s.Features}
	if s.Nodes != nil {
		out.Nodes = make([]node, 0, len(s.Nodes))
		for _, n := range s.Nodes {
			out.Nodes = append(out.Nodes, nodeOf(n))
		}
	}
	return out
}

type paymentMethod struct {
	ID        string    `json:"id" doc:"pm_… ID to pass to POST /v1/upgrades."`
	Brand     string    `json:"brand" enum:"visa,mastercard,amex,discover,diners,jcb,unionpay"`
	Last4     string    `json:"last4"`
	ExpMonth  int       `json:"exp_month"`
	ExpYear   int       `json:"exp_year"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Default   bool      `json:"default" doc:"The card the dashboard preselects: the one most recently added or charged. A newly added card is the default."`
}

// paymentMethodOf shows a card without its fingerprint, gateway reference
// and customer. A card just added is the default (app.PaymentMethods).
func paymentMethodOf(pm *tierup.PaymentMethod) *paymentMethod {
	return &paymentMethod{ID: pm.ID, Brand: pm.Brand, Last4: pm.Last4, ExpMonth: pm.ExpMonth, ExpYear: pm.ExpYear, Name: pm.Name,
		CreatedAt: pm.CreatedAt.Truncate(time.Second), Default: true}
}
