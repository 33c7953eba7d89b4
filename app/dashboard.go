package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tierup/tierup"
)

// The dashboard's view of an upgrade: every figure and sentence the pages
// show that is more than a field, worked out here so that the templates
// only lay it out.

// UpgradeView is an upgrade as its owner reads it.
type UpgradeView struct {
	*tierup.Upgrade
	From, To *tierup.Plan
	Change   string // "Hobby → Pro (3 months)"
	// Order is what was bought: nil only when the store no longer has
	// the quote.
	Order *OrderView
	Card  string // "Visa •••• 4242"
	// Checkout is true while the payment has not gone through: the page
	// stays the checkout (the order and the card), not the tracker.
	Checkout bool
	Steps    []StepView
	// Workloads with their state in words; MovingIndex is the index of
	// the one being moved (-1 when none is).
	Workloads   []WorkloadView
	MovingIndex int
	// Money says whether the customer has been charged and what happens
	// to the money if the upgrade cannot complete.
	Money string
	// Refund is set once the payment was refunded.
	Refund *RefundView
	// NotReady lists, in words, what the new plan does not have yet while
	// the upgrade is active.
	NotReady []string
	// Receipt is the charge's receipt, once issued.
	Receipt *tierup.Receipt
	// Retry is the current step's scheduled retry, in words ("attempt 2
	// of 5"), while it waits for it.
	Retry   *StepView
	Zone    *time.Location
	Payment string // who processes the payment, in one line
}

// OrderView is a quote as the checkout and the comparison say it.
type OrderView struct {
	Quote     *tierup.Quote
	From, To  string // the plans' names
	Change    string // "Hobby → Pro (3 months)"
	PriceLine string // "$81.00 today — Pro (3 months) until 1 Mar 2027"
	Outcome   string // what the new plan gets and why
	NoRenewal string // what happens at the end of the period
}

// Order puts a quote in words, its dates in loc.
func (a *App) Order(q *tierup.Quote, loc *time.Location) OrderView {
	from, to := a.PlanName(q.FromPlan), a.PlanName(q.ToPlan)
	return OrderView{Quote: q, From: from, To: to, Change: from + " → " + to, PriceLine: q.PriceLine(to, loc),
		Outcome: q.Outcome(from, to, loc), NoRenewal: tierup.NoRenewal(q.NewPeriod.End, loc)}
}

// StepView is one step with its words.
type StepView struct {
	tierup.Step
	Title   string // "Dedicated node"
	State   string // "done", "in progress", "will try again", "failed", "not started", "skipped"
	Attempt string // "attempt 2 of 5", when there was more than one
	Took    string // how long it took, once finished: "3 seconds"
}

// WorkloadView is one workload's move with its state in words: "moved",
// "moving (2 of 6)", "waiting", "rolled back: will try again", "moved back".
type WorkloadView struct {
	tierup.WorkloadMigration
	State  string
	Moving bool
	// OnNodes says which of several dedicated nodes its replicas run on:
	// "nodes 1, 2 and 3".
	OnNodes string
	// Since is when its move began, At when it ended (moved), and Took
	// how long it took: from the audit log, whose entries carry the
	// upgrade as it was.
	Since, At *time.Time
	Took      string
}

// RefundView is a refund as the customer is told it.
type RefundView struct {
	Amount tierup.Money
	Card   string
	On     time.Time // when it was issued
	Note   string    // "… within 5–10 business days"
}

// refundArrival is what card networks take to show a refund.
const refundArrival = "Card refunds usually appear on your statement within 5–10 business days."

// Processor says who processes the dashboard's payments.
func (a *App) Processor() string {
	if a.deps.Gateway.Name() == "stripe" {
		return "Payments are processed securely by Stripe; tierup never stores your card number."
	}
	return "Test mode: payments go to tierup's sandbox gateway, which stands in for Stripe; no real card is charged."
}

// PlanName is the catalog's name of a plan, or its ID when the catalog no
// longer has it.
func (a *App) PlanName(id string) string {
	if p, err := a.catalog.Plan(id); err == nil {
		return p.Name
	}
	return id
}

// Change is an upgrade's change of plan in words: "Hobby → Pro (3 months)".
func (a *App) Change(from, to string) string { return a.PlanName(from) + " → " + a.PlanName(to) }

// StepAttempts is how many automatic attempts a failing step gets.
func (a *App) StepAttempts() int { return a.cfg.StepAttempts }

// UpgradeView returns the upgrade as the dashboard shows it to p.
// Errors: those of Upgrade.
func (a *App) UpgradeView(ctx context.Context, p Principal, id string) (*UpgradeView, error) {
	u, err := a.Upgrade(ctx, p, id)
	if err != nil {
		return nil, err
	}
	acct, err := a.store.Account(ctx, u.AccountID)
	if err != nil {
		return nil, err
	}
	loc := acct.Location()
	v := &UpgradeView{Upgrade: u, Change: a.Change(u.FromPlan, u.ToPlan), Zone: loc, MovingIndex: -1,
		Card: tierup.CardWords(u.Payment.Brand, u.Payment.Last4), Payment: a.Processor()}
	v.From, _ = a.catalog.Plan(u.FromPlan)
	v.To, _ = a.catalog.Plan(u.ToPlan)
	q, err := a.store.Quote(ctx, u.QuoteID)
	if err != nil && !errors.Is(err, tierup.ErrNotFound) {
		return nil, err
	}
	if q != nil {
		o := a.Order(q, loc)
		v.Order = &o
	}
	pay := u.Step(tierup.StepPayment)
	v.Checkout = u.Active() && pay != nil && !pay.Status.Done() && u.CancelRequestedAt == nil && u.Status != tierup.UpgradeNeedsSupport
	nodes := u.NodeCount(v.To)
	for _, st := range u.Steps {
		sv := a.stepView(st, nodes)
		v.Steps = append(v.Steps, sv)
		if st.Name == u.CurrentStep && st.Status == tierup.StepRetrying && st.NextRetryAt != nil && u.Status == tierup.UpgradeProcessing {
			r := sv
			v.Retry = &r
		}
	}
	v.MovingIndex = u.MovingWorkload()
	evs, err := a.store.Events(ctx, u.ID, 0, 1000)
	if err != nil {
		return nil, err
	}
	since, moved := moveTimes(evs, len(u.Workloads))
	for i, w := range u.Workloads {
		wv := workloadView(w, i, v.MovingIndex, len(u.Workloads))
		if len(u.Nodes) > 1 {
			wv.OnNodes = nodeNumbers(u.Nodes, w.Nodes)
		}
		if t, ok := moved[i]; ok && w.State == tierup.WorkloadMigrated {
			wv.At, wv.Took = &t, tookWords(since[i], t)
		} else if wv.Moving && !since[i].IsZero() {
			t := since[i]
			wv.Since = &t
		}
		v.Workloads = append(v.Workloads, wv)
	}
	receipts, err := a.store.UpgradeReceipts(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range receipts {
		switch r.Kind {
		case tierup.KindReceipt:
			v.Receipt = r
		case tierup.KindCreditNote:
			v.Refund = &RefundView{Amount: r.Total, Card: tierup.CardWords(r.Card.Brand, r.Card.Last4), On: r.IssuedAt, Note: refundArrival}
		}
	}
	if v.Refund == nil && u.Payment.Status == tierup.PaymentRefunded {
		v.Refund = &RefundView{Amount: u.Payment.Amount, Card: v.Card, On: u.UpdatedAt, Note: refundArrival}
	}
	v.Money = moneyWords(u, v.Card)
	if u.Active() && !v.Checkout {
		v.NotReady = notReady(u, nodes)
	}
	return v, nil
}

func (a *App) stepView(st tierup.Step, nodes int) StepView {
	sv := StepView{Step: st, Title: tierup.StepTitle(st.Name, nodes)}
	switch st.Status {
	case tierup.StepSucceeded:
		sv.State = "done"
	case tierup.StepSkipped:
		sv.State = "skipped"
	case tierup.StepRunning:
		sv.State = "in progress"
	case tierup.StepRetrying:
		sv.State = "will try again"
	case tierup.StepFailed:
		sv.State = "failed"
	default:
		sv.State = "not started"
	}
	if limit := a.cfg.StepAttempts; st.Attempts > 1 || st.Status == tierup.StepRetrying {
		n := st.Attempts
		if st.Status == tierup.StepRetrying {
			n++ // the one it waits for
		}
		sv.Attempt = fmt.Sprintf("attempt %d of %d", min(n, limit), limit)
		if st.Name == tierup.StepPayment {
			sv.Attempt = fmt.Sprintf("attempt %d", n) // a card refused waits for the customer, not a count
		}
	}
	if st.StartedAt != nil && st.FinishedAt != nil && st.Status.Done() {
		sv.Took = tookWords(*st.StartedAt, *st.FinishedAt)
	}
	return sv
}

func workloadView(w tierup.WorkloadMigration, i, moving, total int) WorkloadView {
	v := WorkloadView{WorkloadMigration: w}
	switch {
	case i == moving:
		v.State, v.Moving = fmt.Sprintf("moving (%d of %d)", i+1, total), true
	case w.State == tierup.WorkloadMigrated:
		v.State = "moved"
	case w.State == tierup.WorkloadRolledBack:
		v.State = "rolled back: will try again"
	case w.State == tierup.WorkloadReturned:
		v.State = "moved back"
	default:
		v.State = "waiting"
	}
	return v
}

// moveTimes reads from the audit log when each of n workloads started and
// finished moving: a move ends at the first entry whose upgrade shows the
// workload moved, and starts at the entry before it (the previous move's
// end, or the listing of the workloads); the one moving now started at the
// last entry.
func moveTimes(evs []*tierup.UpgradeEvent, n int) (since, moved map[int]time.Time) {
	since, moved = map[int]time.Time{}, map[int]time.Time{}
	var prev time.Time
	for _, e := range evs {
		if e.Upgrade == nil {
			continue
		}
		for i, w := range e.Upgrade.Workloads {
			if _, done := moved[i]; i < n && !done && w.State == tierup.WorkloadMigrated {
				moved[i], since[i] = e.At, prev
			}
		}
		prev = e.At
	}
	for i := range n {
		if _, done := moved[i]; !done {
			since[i] = prev
		}
	}
	return since, moved
}

// tookWords says how long from start to end took: "3 seconds", "under a
// second".
func tookWords(start, end time.Time) string {
	if start.IsZero() || end.Sub(start) < time.Second {
		return "under a second"
	}
	return tierup.HumanDuration(int64(end.Sub(start) / time.Second))
}

// nodeNumbers names the dedicated nodes of names by their number among
// nodes: "node 2", "nodes 1, 2 and 3".
func nodeNumbers(nodes []tierup.Node, names []string) string {
	var nums []string
	for i, n := range nodes {
		if slices.Contains(names, n.Name) {
			nums = append(nums, strconv.Itoa(i+1))
		}
	}
	switch len(nums) {
	case 0:
		return ""
	case 1:
		return "node " + nums[0]
	}
	return "nodes " + strings.Join(nums[:len(nums)-1], ", ") + " and " + nums[len(nums)-1]
}

// moneyWords says whether the customer paid, and what becomes of the
// money if the upgrade cannot complete.
func moneyWords(u *tierup.Upgrade, card string) string {
	switch u.Payment.Status {
	case tierup.PaymentSucceeded:
		if !u.Active() {
			return fmt.Sprintf("You paid %s with %s.", u.Payment.Amount, card)
		}
		return fmt.Sprintf("You have been charged %s on %s. If the upgrade cannot be completed, it is canceled and the whole amount refunded to that card.", u.Payment.Amount, card)
	case tierup.PaymentRefunded:
		return fmt.Sprintf("The %s you paid has been refunded to %s.", u.Payment.Amount, card)
	case tierup.PaymentSkipped:
		return "Nothing was due: you have not been charged."
	case tierup.PaymentRequiresAction:
		return "You have not been charged yet: your bank asks you to confirm the payment first."
	case tierup.PaymentPending:
		if u.Active() { // the charge may be under way: "not charged" could be untrue a moment later
			return "You are charged once, when the payment goes through; if it does not, you are not charged."
		}
	}
	return "You have not been charged."
}

// notReady lists what an active upgrade has not given the account yet.
func notReady(u *tierup.Upgrade, nodes int) []string {
	var out []string
	for _, st := range u.Steps {
		if st.Status.Done() {
			continue
		}
		switch st.Name {
		case tierup.StepActivatePlan:
			out = append(out, "the new plan's period")
		case tierup.StepProvisionNode:
			if nodes > 1 {
				out = append(out, fmt.Sprintf("your %d dedicated nodes", nodes))
			} else {
				out = append(out, "your dedicated node")
			}
		case tierup.StepMigrateWorkloads:
			out = append(out, "your workloads moved there")
		case tierup.StepEnableFeatures:
			out = append(out, "the new limits and features")
		}
	}
	return out
}

// EventView is one audit entry as the customer reads it.
type EventView struct {
	At   time.Time
	Who  string // "you", "tierup", "support", "Stripe"
	What string
}

// Who names an event's actor for the account accountID: "you", "tierup",
// "support" or the payment gateway.
func Who(actor, accountID string) string {
	switch actor {
	case accountID:
		return "you"
	case "system":
		return "tierup"
	case "admin":
		return "support"
	case "stripe":
		return "Stripe"
	case "sandbox":
		return "the sandbox gateway"
	}
	return "tierup"
}

// EventWords says what an audit event recorded, in the customer's words,
// from the upgrade as it was right after it.
func (a *App) EventWords(e *tierup.UpgradeEvent, loc *time.Location) string {
	u := e.Upgrade
	if u == nil {
		return string(e.Action)
	}
	plan, _ := a.catalog.Plan(u.ToPlan)
	nodes := u.NodeCount(plan)
	cur := u.Step(u.CurrentStep)
	title := tierup.StepTitle(u.CurrentStep, nodes)
	card := tierup.CardWords(u.Payment.Brand, u.Payment.Last4)
	switch e.Action {
	case tierup.ActionCreated:
		return "Upgrade started: " + a.Change(u.FromPlan, u.ToPlan)
	case tierup.ActionStepStarted, tierup.ActionStepTakenOver, tierup.ActionResumedAfterCrash:
		if cur != nil && cur.Attempts > 1 {
			return fmt.Sprintf("%s: started again (%s)", title, a.stepView(*cur, nodes).Attempt)
		}
		return title + ": started"
	case tierup.ActionStepProgress:
		if u.CurrentStep == tierup.StepMigrateWorkloads {
			done := 0
			for _, w := range u.Workloads {
				if w.State == tierup.WorkloadMigrated {
					done++
				}
			}
			return fmt.Sprintf("Moving your workloads: %d of %d moved", done, len(u.Workloads))
		}
		return title + ": in progress"
	case tierup.ActionStepSucceeded:
		// The step that succeeded is the one before the current.
		for i := len(u.Steps) - 1; i >= 0; i-- {
			if st := u.Steps[i]; st.Status.Done() && st.FinishedAt != nil && !st.FinishedAt.After(e.At) {
				if st.Name == tierup.StepPayment && u.Payment.ChargeID != "" {
					return fmt.Sprintf("Payment: %s charged to %s", u.Payment.Amount, card)
				}
				return tierup.StepTitle(st.Name, nodes) + ": done"
			}
		}
		return "Step done"
	case tierup.ActionStepRetryScheduled:
		s := title + ": failed"
		if cur != nil && cur.Error != nil {
			s += " (" + cur.Error.Message + ")"
		}
		if cur != nil && cur.NextRetryAt != nil {
			s += fmt.Sprintf("; %s at %s", a.stepView(*cur, nodes).Attempt, cur.NextRetryAt.In(loc).Format("15:04:05 MST"))
		}
		return s
	case tierup.ActionPaymentFailed:
		return fmt.Sprintf("Payment with %s did not go through: %s Nothing was charged.", card, u.Payment.Message)
	case tierup.ActionPaymentActionRequired:
		return "Your bank asked you to confirm the payment"
	case tierup.ActionPaymentRetry:
		return "Paying again with " + card
	case tierup.ActionPaused:
		return "Paused: " + u.PausedReason + "; it resumes by itself"
	case tierup.ActionResumed:
		return "Resumed"
	case tierup.ActionNeedsSupport:
		return fmt.Sprintf("%s could not finish: handed to support (ticket %s)", title, u.SupportTicket)
	case tierup.ActionAdminRetry:
		return "Support started it again"
	case tierup.ActionCompleted:
		return "Upgrade complete: you are on " + a.PlanName(u.ToPlan)
	case tierup.ActionCancelRequested:
		return "Cancel requested: undoing the upgrade"
	case tierup.ActionStepConcludedForCancel, tierup.ActionCancelProgress, tierup.ActionCancelRetryScheduled:
		return "Undoing the upgrade"
	case tierup.ActionCanceled:
		if u.Payment.Status == tierup.PaymentRefunded {
			return fmt.Sprintf("Canceled: %s refunded to %s; %s is back", u.Payment.Amount, card, a.PlanName(u.FromPlan))
		}
		return "Canceled: " + a.PlanName(u.FromPlan) + " is back"
	}
	return "Payment update from " + Who(e.Actor, u.AccountID)
}

// BillingEntry is one line of the account's billing history: an upgrade,
// what it cost, its documents and its audit log.
type BillingEntry struct {
	Upgrade  *tierup.Upgrade
	Date     time.Time
	Change   string
	Amount   tierup.Money
	Status   string // in words: "paid", "refunded", "in progress", "payment failed", …
	Receipts []*tierup.Receipt
	Events   []EventView
}

// BillingHistory lists the account's upgrades, newest first, each with
// its receipts and credit notes and its audit log in words.
func (a *App) BillingHistory(ctx context.Context, accountID string) ([]BillingEntry, error) {
	acct, err := a.store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	loc := acct.Location()
	ups, err := a.store.Upgrades(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]BillingEntry, 0, len(ups))
	for _, u := range ups {
		rs, err := a.store.UpgradeReceipts(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		evs, err := a.store.Events(ctx, u.ID, 0, 500)
		if err != nil {
			return nil, err
		}
		b := BillingEntry{Upgrade: u, Date: u.CreatedAt, Change: a.Change(u.FromPlan, u.ToPlan), Amount: u.Payment.Amount,
			Status: billingStatus(u), Receipts: rs}
		for _, e := range evs {
			b.Events = append(b.Events, EventView{At: e.At, Who: Who(e.Actor, accountID), What: a.EventWords(e, loc)})
		}
		out = append(out, b)
	}
	return out, nil
}

func billingStatus(u *tierup.Upgrade) string {
	switch {
	case u.Status == tierup.UpgradeCanceled && u.Payment.Status == tierup.PaymentRefunded:
		return "refunded"
	case u.Status == tierup.UpgradeCanceled:
		return "canceled"
	case u.Status == tierup.UpgradeCompleted && u.Payment.Status == tierup.PaymentSkipped:
		return "nothing due"
	case u.Status == tierup.UpgradeCompleted:
		return "paid"
	case u.Status == tierup.UpgradePaymentFailed:
		return "payment failed"
	case u.Status == tierup.UpgradePaymentActionRequired:
		return "awaiting your bank"
	case u.Status == tierup.UpgradeNeedsSupport:
		return "with support"
	}
	return "in progress"
}

// PaymentMethod returns one of the account's saved cards, for a form that
// shows again what it can of the card a payment failed with. Errors:
// CodeInvalid when the account has no such card.
func (a *App) PaymentMethod(ctx context.Context, accountID, id string) (*tierup.PaymentMethod, error) {
	return a.ownPaymentMethod(ctx, accountID, id)
}
