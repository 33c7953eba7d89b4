package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

// The upgrade's document (upgrades.state, upgrade_events.state) has a shape
// of its own, versioned by "v", so that the API's JSON can change without
// changing what is stored. Decoding reads every version ever written.
const upgradeDocVersion = 1

type upgradeDoc struct {
	V            int        `json:"v"`
	ID           string     `json:"id"`
	AccountID    string     `json:"account_id"`
	QuoteID      string     `json:"quote_id"`
	FromPlan     string     `json:"from_plan"`
	ToPlan       string     `json:"to_plan"`
	Status       string     `json:"status"`
	PausedReason string     `json:"paused_reason,omitempty"`
	CurrentStep  string     `json:"current_step,omitempty"`
	Progress     int        `json:"progress"`
	NewPeriod    periodDoc  `json:"new_period"`
	Payment      paymentDoc `json:"payment"`
	// Node is the first of Nodes, also written for readers from before
	// there were several; a document with Node alone has that one.
	Node              *nodeDoc         `json:"node,omitempty"`
	Nodes             []nodeDoc        `json:"nodes,omitempty"`
	Zone              string           `json:"zone,omitempty"`
	Workloads         []workloadDoc    `json:"workloads"`
	Steps             []stepDoc        `json:"steps"`
	Terms             termsDoc         `json:"terms"`
	SupportTicket     string           `json:"support_ticket,omitempty"`
	Previous          *subscriptionDoc `json:"previous,omitempty"`
	CancelRequestedAt *time.Time       `json:"cancel_requested_at,omitempty"`
	CompensateRun     int              `json:"compensate_run,omitempty"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
	CompletedAt       *time.Time       `json:"completed_at,omitempty"`
	Version           int              `json:"version"`
}

// periodDoc, workloadDoc, stepDoc and termsDoc have the keys the version 0
// documents had, and decoding those uses them: changing their keys needs a
// frozen copy in upgradeDocV0 first (TestDecodeV0 fails otherwise).

type periodDoc struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type paymentDoc struct {
	Status          string `json:"status"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	PaymentMethodID string `json:"payment_method_id"`
	Brand           string `json:"brand,omitempty"`
	Last4           string `json:"last4,omitempty"`
	Attempt         int    `json:"attempt"`
	ChargeID        string `json:"charge_id,omitempty"`
	RefundID        string `json:"refund_id,omitempty"`
	DeclineCode     string `json:"decline_code,omitempty"`
	FailureCode     string `json:"failure_code,omitempty"`
	Message         string `json:"message,omitempty"`
	// 3-D Secure; absent in documents from before it.
	Intent          string         `json:"intent,omitempty"`
	NextAction      *nextActionDoc `json:"next_action,omitempty"`
	ActionExpiresAt *time.Time     `json:"action_expires_at,omitempty"`
	// Absent in documents from before it was recorded.
	Receipt *receiptRefDoc `json:"receipt,omitempty"`
}

type receiptRefDoc struct {
	ID     string `json:"id"`
	Number string `json:"number"`
}

type nextActionDoc struct {
	Type         string `json:"type"`
	URL          string `json:"url,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

type nodeDoc struct {
	Name      string `json:"name"`
	AccountID string `json:"account_id"`
	Pool      string `json:"pool"`
	Ready     bool   `json:"ready"`
}

type workloadDoc struct {
	Kind         string   `json:"kind"`
	Name         string   `json:"name"`
	Replicas     int      `json:"replicas"`
	Node         string   `json:"node"`
	Nodes        []string `json:"nodes,omitempty"` // absent before several dedicated nodes
	State        string   `json:"state"`
	MinAvailable *int     `json:"min_available,omitempty"`
	Notes        []string `json:"notes"`
}

type stepDoc struct {
	Name        string        `json:"name"`
	Status      string        `json:"status"`
	Attempts    int           `json:"attempts"`
	StartedAt   *time.Time    `json:"started_at,omitempty"`
	FinishedAt  *time.Time    `json:"finished_at,omitempty"`
	Error       *stepErrorDoc `json:"error,omitempty"`
	NextRetryAt *time.Time    `json:"next_retry_at,omitempty"`
	Worker      string        `json:"worker,omitempty"`
	Run         int           `json:"run"`
}

type stepErrorDoc struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type termsDoc struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"accepted_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

type subscriptionDoc struct {
	PlanID      string    `json:"plan_id"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Value       *moneyDoc `json:"value,omitempty"` // absent before the credit ledger
}

type moneyDoc struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

func toSubscriptionDoc(s tierup.Subscription) subscriptionDoc {
	d := subscriptionDoc{PlanID: s.PlanID, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd}
	if s.Value.Currency != "" {
		d.Value = &moneyDoc{Amount: s.Value.Amount, Currency: string(s.Value.Currency)}
	}
	return d
}

func (d subscriptionDoc) subscription() tierup.Subscription {
	s := tierup.Subscription{PlanID: d.PlanID, PeriodStart: d.PeriodStart, PeriodEnd: d.PeriodEnd}
	if d.Value != nil {
		s.Value = tierup.Money{Amount: d.Value.Amount, Currency: tierup.Currency(d.Value.Currency)}
	}
	return s
}

// mapSlice converts a slice, keeping nil and empty apart.
func mapSlice[S, T any](in []S, f func(S) T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func mapPtr[S, T any](in *S, f func(S) T) *T {
	if in == nil {
		return nil
	}
	out := f(*in)
	return &out
}

func toUpgradeDoc(u *tierup.Upgrade) upgradeDoc {
	p := u.Payment
	d := upgradeDoc{
		V: upgradeDocVersion, ID: u.ID, AccountID: u.AccountID, QuoteID: u.QuoteID, FromPlan: u.FromPlan, ToPlan: u.ToPlan,
		Status: string(u.Status), PausedReason: u.PausedReason, CurrentStep: string(u.CurrentStep), Progress: u.Progress,
		NewPeriod: periodDoc{Start: u.NewPeriod.Start, End: u.NewPeriod.End},
		Payment: paymentDoc{Status: string(p.Status), Amount: p.Amount.Amount, Currency: string(p.Amount.Currency),
			PaymentMethodID: p.PaymentMethodID, Brand: p.Brand, Last4: p.Last4, Attempt: p.Attempt, ChargeID: p.ChargeID,
			RefundID: p.RefundID, DeclineCode: p.DeclineCode, FailureCode: string(p.FailureCode), Message: p.Message,
			Intent: p.Intent, ActionExpiresAt: p.ActionExpiresAt, NextAction: mapPtr(p.NextAction, func(a tierup.NextAction) nextActionDoc {
				return nextActionDoc{Type: a.Type, URL: a.URL, ClientSecret: a.ClientSecret}
			}), Receipt: mapPtr(p.Receipt, func(r tierup.ReceiptRef) receiptRefDoc { return receiptRefDoc(r) })},
		Nodes: mapSlice(u.Nodes, func(n tierup.Node) nodeDoc {
			return nodeDoc{Name: n.Name, AccountID: n.AccountID, Pool: n.Pool, Ready: n.Ready}
		}),
		Workloads: mapSlice(u.Workloads, func(w tierup.WorkloadMigration) workloadDoc {
			return workloadDoc{Kind: w.Kind, Name: w.Name, Replicas: w.Replicas, Node: w.Node, Nodes: w.Nodes, State: string(w.State),
				MinAvailable: w.MinAvailable, Notes: w.Notes}
		}),
		Steps: mapSlice(u.Steps, func(s tierup.Step) stepDoc {
			return stepDoc{Name: string(s.Name), Status: string(s.Status), Attempts: s.Attempts, StartedAt: s.StartedAt,
				FinishedAt: s.FinishedAt, NextRetryAt: s.NextRetryAt, Worker: s.Worker, Run: s.Run,
				Error: mapPtr(s.Error, func(e tierup.StepError) stepErrorDoc { return stepErrorDoc{Code: e.Code, Message: e.Message} })}
		}),
		Terms:         termsDoc{Version: u.Terms.Version, AcceptedAt: u.Terms.AcceptedAt, IP: u.Terms.IP, UserAgent: u.Terms.UserAgent},
		SupportTicket: u.SupportTicket, Zone: u.Zone,
		Previous:          mapPtr(u.Previous, toSubscriptionDoc),
		CancelRequestedAt: u.CancelRequestedAt, CompensateRun: u.CompensateRun,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, CompletedAt: u.CompletedAt, Version: u.Version,
	}
	if len(d.Nodes) > 0 {
		d.Node = &d.Nodes[0]
	}
	return d
}

func (d upgradeDoc) upgrade() *tierup.Upgrade {
	p := d.Payment
	nodes := d.Nodes
	if nodes == nil && d.Node != nil {
		nodes = []nodeDoc{*d.Node} // written when an upgrade had one node
	}
	return &tierup.Upgrade{
		ID: d.ID, AccountID: d.AccountID, QuoteID: d.QuoteID, FromPlan: d.FromPlan, ToPlan: d.ToPlan,
		Status: tierup.UpgradeStatus(d.Status), PausedReason: d.PausedReason, CurrentStep: tierup.StepName(d.CurrentStep),
		Progress: d.Progress, NewPeriod: tierup.Period{Start: d.NewPeriod.Start, End: d.NewPeriod.End},
		Payment: tierup.Payment{Status: tierup.PaymentStatus(p.Status), Amount: tierup.Money{Amount: p.Amount, Currency: tierup.Currency(p.Currency)},
			PaymentMethodID: p.PaymentMethodID, Brand: p.Brand, Last4: p.Last4, Attempt: p.Attempt, ChargeID: p.ChargeID,
			RefundID: p.RefundID, DeclineCode: p.DeclineCode, FailureCode: tierup.PaymentCode(p.FailureCode), Message: p.Message,
			Intent: p.Intent, ActionExpiresAt: p.ActionExpiresAt, NextAction: mapPtr(p.NextAction, func(a nextActionDoc) tierup.NextAction {
				return tierup.NextAction{Type: a.Type, URL: a.URL, ClientSecret: a.ClientSecret}
			}), Receipt: mapPtr(p.Receipt, func(r receiptRefDoc) tierup.ReceiptRef { return tierup.ReceiptRef(r) })},
		Nodes: mapSlice(nodes, func(n nodeDoc) tierup.Node {
			return tierup.Node{Name: n.Name, AccountID: n.AccountID, Pool: n.Pool, Ready: n.Ready}
		}),
		Workloads: mapSlice(d.Workloads, func(w workloadDoc) tierup.WorkloadMigration {
			return tierup.WorkloadMigration{Workload: tierup.Workload{Kind: w.Kind, Name: w.Name, Replicas: w.Replicas, Node: w.Node, Nodes: w.Nodes},
				State: tierup.WorkloadState(w.State), MinAvailable: w.MinAvailable, Notes: w.Notes}
		}),
		Steps: mapSlice(d.Steps, func(s stepDoc) tierup.Step {
			return tierup.Step{Name: tierup.StepName(s.Name), Status: tierup.StepStatus(s.Status), Attempts: s.Attempts,
				StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, NextRetryAt: s.NextRetryAt, Worker: s.Worker, Run: s.Run,
				Error: mapPtr(s.Error, func(e stepErrorDoc) tierup.StepError { return tierup.StepError{Code: e.Code, Message: e.Message} })}
		}),
		Terms:         tierup.TermsAcceptance{Version: d.Terms.Version, AcceptedAt: d.Terms.AcceptedAt, IP: d.Terms.IP, UserAgent: d.Terms.UserAgent},
		SupportTicket: d.SupportTicket, Zone: d.Zone,
		Previous:          mapPtr(d.Previous, subscriptionDoc.subscription),
		CancelRequestedAt: d.CancelRequestedAt, CompensateRun: d.CompensateRun,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, CompletedAt: d.CompletedAt, Version: d.Version,
	}
}

func encodeUpgrade(u *tierup.Upgrade) (string, error) {
	b, err := json.Marshal(toUpgradeDoc(u))
	return string(b), err
}

func decodeUpgrade(state string) (*tierup.Upgrade, error) {
	var v struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal([]byte(state), &v); err != nil {
		return nil, fmt.Errorf("stored upgrade: %w", err)
	}
	var d upgradeDoc
	switch v.V {
	case 0:
		var old upgradeDocV0
		if err := json.Unmarshal([]byte(state), &old); err != nil {
			return nil, fmt.Errorf("stored upgrade (v0): %w", err)
		}
		if old.Upgrade == nil {
			return nil, errors.New("stored upgrade: neither a version nor an upgrade")
		}
		d = old.doc()
	case upgradeDocVersion:
		if err := json.Unmarshal([]byte(state), &d); err != nil {
			return nil, fmt.Errorf("stored upgrade: %w", err)
		}
	default:
		return nil, fmt.Errorf("stored upgrade: unknown document version %d", v.V)
	}
	return d.upgrade(), nil
}

// derived is what the store keeps in columns beside the document, computed
// by the domain's methods so that each rule is written once.
type derived struct {
	active, moving bool
	runningWorker  any       // NULL when no step runs
	dueAt          time.Time // by the writer's clock (backfills only)
	// dueIn is how long after this write the upgrade is due, as
	// secondsArg: the store keeps due_at by its own clock (laterSQL), so
	// that staleness never compares two hosts' clocks.
	dueIn string
}

func derive(u *tierup.Upgrade) derived {
	d := derived{active: u.Active(), moving: u.Moving(), dueAt: u.DueAt(), dueIn: secondsArg(u.DueAt().Sub(u.UpdatedAt))}
	if w := u.RunningWorker(); w != "" {
		d.runningWorker = w
	}
	return d
}

// upgradeDocV0 is the document written before the store had a shape of its
// own: the API's JSON of the upgrade as it was then, beside what the API
// hides. Frozen here: decoding it must not follow the API.
type upgradeDocV0 struct {
	Upgrade *struct {
		ID           string       `json:"id"`
		AccountID    string       `json:"account"`
		QuoteID      string       `json:"quote"`
		FromPlan     string       `json:"from_plan"`
		ToPlan       string       `json:"to_plan"`
		Status       string       `json:"status"`
		PausedReason string       `json:"paused_reason"`
		CurrentStep  string       `json:"current_step"`
		Progress     int          `json:"progress"`
		NewPeriod    periodDoc    `json:"new_period"` // same keys then
		Payment      paymentDocV0 `json:"payment"`
		Node         *struct {
			Name      string `json:"name"`
			AccountID string `json:"account"`
			Pool      string `json:"pool"`
			Ready     bool   `json:"ready"`
		} `json:"node"`
		Workloads         []workloadDoc `json:"workloads"` // same keys then
		Steps             []stepDoc     `json:"steps"`     // same keys then; runs beside
		Terms             termsDoc      `json:"terms"`     // same keys then
		SupportTicket     string        `json:"support_ticket"`
		CancelRequestedAt *time.Time    `json:"cancel_requested_at"`
		CreatedAt         time.Time     `json:"created_at"`
		UpdatedAt         time.Time     `json:"updated_at"`
		CompletedAt       *time.Time    `json:"completed_at"`
		Version           int           `json:"version"`
	} `json:"upgrade"`
	// tierup.Subscription had no JSON tags: its Go field names.
	Previous *struct {
		PlanID      string
		PeriodStart time.Time
		PeriodEnd   time.Time
	} `json:"previous"`
	Runs          map[string]int `json:"runs"`
	CompensateRun int            `json:"compensate_run"`
}

type paymentDocV0 struct {
	Status string `json:"status"`
	Amount struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	} `json:"amount"`
	PaymentMethodID string `json:"payment_method"`
	Brand           string `json:"brand"`
	Last4           string `json:"last4"`
	Attempt         int    `json:"attempt"`
	ChargeID        string `json:"charge_id"`
	RefundID        string `json:"refund_id"`
	DeclineCode     string `json:"decline_code"`
	FailureCode     string `json:"failure_code"`
	Message         string `json:"message"`
}

func (o upgradeDocV0) doc() upgradeDoc {
	u := o.Upgrade
	p := u.Payment
	d := upgradeDoc{
		V: upgradeDocVersion, ID: u.ID, AccountID: u.AccountID, QuoteID: u.QuoteID, FromPlan: u.FromPlan, ToPlan: u.ToPlan,
		Status: u.Status, PausedReason: u.PausedReason, CurrentStep: u.CurrentStep, Progress: u.Progress, NewPeriod: u.NewPeriod,
		Payment: paymentDoc{Status: p.Status, Amount: p.Amount.Amount, Currency: p.Amount.Currency, PaymentMethodID: p.PaymentMethodID,
			Brand: p.Brand, Last4: p.Last4, Attempt: p.Attempt, ChargeID: p.ChargeID, RefundID: p.RefundID,
			DeclineCode: p.DeclineCode, FailureCode: p.FailureCode, Message: p.Message},
		Workloads: u.Workloads, Steps: u.Steps, Terms: u.Terms, SupportTicket: u.SupportTicket,
		CancelRequestedAt: u.CancelRequestedAt, CompensateRun: o.CompensateRun,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, CompletedAt: u.CompletedAt, Version: u.Version,
	}
	if n := u.Node; n != nil {
		d.Node = &nodeDoc{Name: n.Name, AccountID: n.AccountID, Pool: n.Pool, Ready: n.Ready}
	}
	if s := o.Previous; s != nil {
		d.Previous = &subscriptionDoc{PlanID: s.PlanID, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd}
	}
	for i := range d.Steps {
		d.Steps[i].Run = o.Runs[d.Steps[i].Name]
	}
	return d
}
