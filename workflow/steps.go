package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tierup/tierup"
)

// stepCompensate is the cancel's compensation: refund, return workloads,
// release the node, restore the plan. It is not one of the forward steps.
const stepCompensate tierup.StepName = "compensate"

// result is what a step's action produced.
type result struct {
	done    []progress                                                          // parts done before the outcome, recorded first
	apply   func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error // records the outcome, in the commit transaction
	more    bool                                                                // the step is not done: run it again right away
	skipped bool                                                                // the step had nothing to do
	await   *tierup.Charge                                                      // the payment waits for the customer's authentication
	msg     string
	err     error
}

// current reports whether the job is the one that may act on the upgrade.
func current(u *tierup.Upgrade, j tierup.Job) bool {
	if j.Step == stepCompensate {
		return u.CancelRequestedAt != nil && u.Active() && u.CompensateRun == j.Run
	}
	// Only a running, paused or authenticating upgrade moves forward: a job
	// revived after the upgrade failed a payment or went to support is
	// stale.
	if !u.Status.Moves() || u.CurrentStep != j.Step {
		return false
	}
	st := u.Step(j.Step)
	return st != nil && st.Run == j.Run
}

// work executes one job: claim the step, act outside any transaction, then
// commit the outcome, the next job and the job's completion together. A
// crash anywhere repeats the job; every action is idempotent. When the
// commit claimed the next step for this worker (dispatch), work runs that
// too, and so on until a step waits or the upgrade ends.
func (e *Engine) work(ctx context.Context, d tierup.Delivery) error {
	j := d.Job()
	defer e.track(j.UpgradeID)()
	var before tierup.Step // the step as the claim found it, to hand it back
	u, err := e.change(ctx, j.UpgradeID, func(tx tierup.Store, u *tierup.Upgrade) (bool, error) {
		if st := u.Step(j.Step); st != nil {
			before = *st
		}
		return true, e.claim(ctx, tx, u, j)
	})
	if errors.Is(err, errStale) || errors.Is(err, tierup.ErrNotFound) {
		return nil // superseded: nothing to do
	}
	if err != nil {
		return err
	}
	if st := u.Step(j.Step); j.Step == tierup.StepPayment && j.Run == 1 && st.Attempts == 1 {
		e.Metrics.UpgradeStarted() // its first step's first run: committed, so counted once
	}
	next, err := e.run(ctx, d, u, before)
	for err == nil && next != nil {
		next, err = e.runHere(ctx, next)
	}
	return err
}

// run acts for the claimed step of u and commits the outcome. It returns
// the next step when the commit claimed it for this worker.
func (e *Engine) run(ctx context.Context, d tierup.Delivery, u *tierup.Upgrade, before tierup.Step) (*link, error) {
	j := d.Job()
	began := time.Now() // real time, not the (perhaps simulated) Clock
	// The queue times no step: a job may run several.
	tctx, cancel := context.WithTimeout(ctx, e.cfg.JobTimeout)
	defer cancel()
	actx, release := e.stepContext(tctx)
	defer release()
	if e.leaving.Err() != nil { // Stop came between the claim and now
		return nil, e.handBack(ctx, d, j, before, 0)
	}
	res := e.act(actx, u, j.Step)
	took := time.Since(began)
	if res.err != nil && errors.Is(context.Cause(actx), errHandBack) {
		// Cut short by the shutdown. What it did outside is done again by
		// the next run, idempotently (the same idempotency keys); a result
		// that came through despite the cancel is recorded below.
		return nil, e.handBack(ctx, d, j, before, took)
	}

	var after func()
	var ob observed
	var done *tierup.Upgrade
	committed, err := e.commit(ctx, d, u, func(ctx context.Context, tx tierup.Store, fresh *tierup.Upgrade) error {
		ob, done = observed{}, fresh // a retried transaction starts over
		var err error
		if j.Step == stepCompensate {
			err = e.finishCompensation(ctx, tx, fresh, res, &ob)
		} else {
			after, err = e.finish(ctx, tx, fresh, j.Step, res, &ob)
		}
		return err
	})
	if err != nil || !committed {
		return nil, err // an error: the queue retries the job; the action repeats idempotently
	}
	e.Publish(u.ID)
	e.report(j.Step, &ob, took)
	if after != nil {
		after()
	}
	if ob.next != nil {
		ob.next.upgrade = done
	}
	return ob.next, nil
}

// commit records a job's outcome in one transaction: record changes the
// upgrade as read afresh, and the job completes, unless the job went stale
// meanwhile (committed is false then). It is committed even when the job's
// time ran out during the action: otherwise a slow step could never record
// its failure.
//
// known, when not nil, is the upgrade as this process last stored it (the
// claim's, or the commit's before a linked step): record changes it without
// reading it again, since the version-checked write refuses it if anything
// changed it since, and only then is it read afresh. The stored document
// round-trips every field (sqlstore's TestUpgradeDocRoundTrip), so the two
// are the same upgrade.
func (e *Engine) commit(ctx context.Context, d tierup.Delivery, known *tierup.Upgrade, record func(ctx context.Context, tx tierup.Store, fresh *tierup.Upgrade) error) (committed bool, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	j := d.Job()
	in := func(known *tierup.Upgrade) func(tx tierup.Store) error {
		return func(tx tierup.Store) error {
			fresh := known
			known = nil // a transaction tried again reads it
			if fresh == nil {
				var err error
				if fresh, err = tx.Upgrade(ctx, j.UpgradeID); err != nil {
					return err
				}
			}
			if !current(fresh, j) {
				return errStale
			}
			if err := record(ctx, tx, fresh); err != nil {
				return err
			}
			return d.Complete(ctx, tx)
		}
	}
	err = e.Store.InTx(ctx, in(known))
	if known != nil && errors.Is(err, tierup.ErrConflict) {
		err = e.Store.InTx(ctx, in(nil)) // changed meanwhile: decide on the upgrade as it is
	}
	if errors.Is(err, errStale) {
		return false, nil
	}
	return err == nil, err
}

// claim makes the job's step run in this process, in tx. It returns
// errStale when the job may not act.
func (e *Engine) claim(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, j tierup.Job) error {
	changed, ev, err := e.start(u, j)
	switch {
	case err != nil || !changed:
		return err
	case ev == nil:
		return e.saveQuiet(ctx, tx, u)
	}
	return e.saveEvents(ctx, tx, u, ev)
}

// start changes u for the job's step to run in this process. changed says
// whether u is to be stored, and ev is the event to store with it (nil for
// a paused upgrade's probe, whose pause and resume are the events). It
// returns errStale when the job may not act.
func (e *Engine) start(u *tierup.Upgrade, j tierup.Job) (changed bool, ev *tierup.UpgradeEvent, err error) {
	if !current(u, j) {
		return false, nil, errStale
	}
	if j.Step == stepCompensate {
		return false, nil, nil
	}
	st := u.Step(j.Step)
	switch {
	case st.Status == tierup.StepRunning && st.Worker == e.process:
		return false, nil, nil // a continuation
	case st.Status == tierup.StepRunning:
		if err := u.TakeOverStep(j.Step, e.process); err != nil {
			return false, nil, err
		}
		return true, e.newEvent(u, "system", tierup.ActionStepTakenOver, fmt.Sprintf("%s continues in process %s", j.Step, e.process)), nil
	}
	if err := u.StartStep(j.Step, e.process, e.Clock.Now().UTC()); err != nil {
		return false, nil, errStale // e.g. a repeated job of a step a cancel concluded
	}
	if u.Status == tierup.UpgradePaused {
		return true, nil, nil
	}
	return true, e.newEvent(u, "system", tierup.ActionStepStarted, fmt.Sprintf("%s started (attempt %d)", j.Step, st.Attempts)), nil
}

// act performs the step's outside work.
func (e *Engine) act(ctx context.Context, u *tierup.Upgrade, step tierup.StepName) result {
	switch step {
	case tierup.StepPayment:
		// A charge already awaiting the customer's authentication is read,
		// not made: the checks before charging are behind it.
		if u.Payment.Status == tierup.PaymentRequiresAction {
			return e.pay(ctx, u)
		}
		// Never charge for credit that is gone, nor for a move that cannot
		// succeed (the cluster may have changed since the quote).
		if _, err := e.checkedQuote(ctx, u); err != nil {
			return result{err: err}
		}
		pf, err := e.preflight(ctx, u)
		if err != nil {
			return result{err: err}
		}
		return inZone(e.pay(ctx, u), pf.Zone)
	case tierup.StepActivatePlan:
		return e.activate(ctx, u)
	case tierup.StepProvisionNode:
		return e.provision(ctx, u)
	case tierup.StepMigrateWorkloads:
		return e.migrate(ctx, u)
	case tierup.StepEnableFeatures:
		return e.enableFeatures(ctx, u)
	case tierup.StepNotify:
		return e.notify(ctx, u)
	case stepCompensate:
		return e.compensate(ctx, u)
	}
	return result{err: fmt.Errorf("unknown step %q", step)}
}

func (e *Engine) pay(ctx context.Context, u *tierup.Upgrade) result {
	if u.Payment.Amount.Amount == 0 {
		return result{msg: "nothing is due: no charge", skipped: true, apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
			return u.PaymentNotDue()
		}}
	}
	if u.Payment.Status == tierup.PaymentRequiresAction {
		// Charging again with the same key would replay the first answer:
		// read the charge the customer was asked to authenticate.
		charge, err := e.Gateway.LookupCharge(ctx, u.Payment.Intent)
		if err != nil {
			return result{err: err}
		}
		return e.chargeOutcome(ctx, u, charge)
	}
	q, err := e.quote(ctx, u.QuoteID)
	if err != nil {
		return result{err: err}
	}
	if !e.QuoteValid(q) || q.AmountDue != u.Payment.Amount {
		return result{err: tierup.Errorf(tierup.CodeQuoteInvalid, "the quote's signature does not match its content; nothing was charged")}
	}
	pm, err := e.paymentMethod(ctx, u.Payment.PaymentMethodID)
	if err != nil {
		return result{err: err}
	}
	charge, err := e.Gateway.Charge(ctx, tierup.ChargeRequest{
		IdempotencyKey: fmt.Sprintf("%s:payment:%d", u.ID, u.Payment.Attempt),
		Amount:         q.AmountDue,
		PaymentMethod:  pm,
		Customer:       pm.Customer,
		Description:    fmt.Sprintf("Upgrade to %s", u.ToPlan),
		Metadata:       map[string]string{"upgrade": u.ID, "quote": q.ID, "account": u.AccountID},
		ReturnURL:      e.cfg.Receipts.BaseURL + "/upgrades/" + u.ID,
	})
	if err != nil {
		return result{err: err}
	}
	return e.chargeOutcome(ctx, u, charge)
}

// activate switches the subscription exactly as the quote said, and moves
// its account credit; it is all database work, done in the commit
// transaction.
func (e *Engine) activate(ctx context.Context, u *tierup.Upgrade) result {
	q, err := e.checkedQuote(ctx, u)
	if err != nil {
		return result{err: err}
	}
	return result{msg: fmt.Sprintf("plan is now %s until %s%s", u.ToPlan, u.NewPeriod.End.Format(time.RFC3339), creditNote(q)),
		apply: func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
			acct, err := tx.Account(ctx, u.AccountID)
			if err != nil {
				return err
			}
			if u.Previous == nil { // keep the very first one across repeats
				prev := acct.Subscription
				u.Previous = &prev
			}
			// The features stay the old plan's until enable_features, also
			// for an account whose entitlements never had a plan of their
			// own (they follow the subscription then).
			if err := tx.SetEntitlementsPlan(ctx, u.AccountID, acct.EntitlementsPlan); err != nil {
				return err
			}
			return e.switchPlan(ctx, tx, u, q)
		}}
}

// provision asks for each of the plan's dedicated nodes at once and
// succeeds when all are ready. Each request's key and index name its node,
// so a retry after a shortage on one finds the others instead of making
// more. The step's job timeout bounds the whole.
func (e *Engine) provision(ctx context.Context, u *tierup.Upgrade) result {
	plan, err := e.Catalog.Plan(u.ToPlan)
	if err != nil {
		return result{err: err}
	}
	reqs := nodeRequests(u, plan)
	nodes := make([]tierup.Node, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			n, err := e.Cluster.ProvisionNode(ctx, req)
			if err != nil {
				errs[i] = err
				return
			}
			nodes[i] = *n
		})
	}
	wg.Wait()
	if err := nodesError(errs); err != nil {
		return result{err: err}
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	msg := "dedicated node " + names[0] + " is ready"
	if len(names) > 1 {
		msg = fmt.Sprintf("%d dedicated nodes are ready: %s", len(names), strings.Join(names, ", "))
	}
	// The workloads to move are listed now and committed with the nodes:
	// the list is then stored before the first move, which a cancel after a
	// crash needs, without a commit of its own. When the cluster cannot
	// list them now, the migration does.
	var ws []tierup.Workload
	if len(u.Workloads) == 0 {
		if listed, err := e.Cluster.Workloads(ctx, u.AccountID); err == nil && len(listed) > 0 {
			ws = listed
			msg += fmt.Sprintf("; %d workloads to move", len(ws))
		}
	}
	return result{msg: msg, apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
		u.Nodes = nodes
		if len(u.Workloads) == 0 {
			u.Workloads = toMove(ws, u.NodeNames())
		}
		return nil
	}}
}

// toMove is the migration's list of workloads: each to move, but one put
// on the dedicated nodes by hand, which the migration plan leaves too.
func toMove(ws []tierup.Workload, nodes []string) []tierup.WorkloadMigration {
	var out []tierup.WorkloadMigration
	for _, w := range ws {
		state := tierup.WorkloadPending
		if slices.Contains(nodes, w.Node) {
			state = tierup.WorkloadMigrated
		}
		out = append(out, tierup.WorkloadMigration{Workload: w, State: state})
	}
	return out
}

// nodesError is the step's error when some nodes failed: an unreachable
// cluster pauses the upgrade whatever the others said, otherwise the first
// failure (a shortage, say) decides, and the message counts them.
func nodesError(errs []error) error {
	var first error
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if len(errs) > 1 { // a plan with one node has no "node 1 of 1"
			err = fmt.Errorf("node %d of %d: %w", i+1, len(errs), err)
		}
		if first == nil || errors.Is(err, tierup.ErrClusterUnreachable) && !errors.Is(first, tierup.ErrClusterUnreachable) {
			first = err
		}
	}
	if failed > 1 {
		return fmt.Errorf("%d of %d dedicated nodes are not ready; %w", failed, len(errs), first)
	}
	return first
}

// nodeRequests asks for the upgrade's dedicated nodes: the plan's count,
// and never fewer than the upgrade already has (a cancel releases every
// one). Their key, derived from the upgrade, and their index make a
// retried, resumed or compensated step find the same nodes.
func nodeRequests(u *tierup.Upgrade, plan *tierup.Plan) []tierup.NodeRequest {
	reqs := make([]tierup.NodeRequest, u.NodeCount(plan))
	for i := range reqs {
		reqs[i] = tierup.NodeRequest{Key: u.ID + ":node", Index: i, AccountID: u.AccountID, Plan: plan, Zone: u.Zone}
	}
	return reqs
}

// progress is a part of a step that one run did before its outcome: a
// workload moved before the next. Each is recorded with an event of its
// own, at the time it was done, showing the upgrade as it left it.
type progress struct {
	at    time.Time
	msg   string
	apply func(u *tierup.Upgrade)
}

// migrate lists the workloads, unless the provisioning did, and commits the
// list before it moves any, so that a cancel after a crash returns each;
// then it moves them one after another until none is left, a move fails,
// or ProgressEvery has passed, and commits what it did, each move with its
// event; a continuation moves the rest. So a cluster that moves workloads
// quickly does not commit each move, and with a slow one each is committed
// as it ends.
func (e *Engine) migrate(ctx context.Context, u *tierup.Upgrade) result {
	if len(u.Workloads) == 0 {
		ws, err := e.Cluster.Workloads(ctx, u.AccountID)
		if err != nil {
			return result{err: err}
		}
		if len(ws) == 0 {
			return result{msg: "no workloads to move"}
		}
		return result{more: true, msg: fmt.Sprintf("%d workloads to move, one at a time", len(ws)),
			apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
				u.Workloads = append(u.Workloads, toMove(ws, u.NodeNames())...)
				return nil
			}}
	}
	began := time.Now() // real time: this bounds how long the run goes uncommitted
	var parts []progress
	moves := &tierup.Upgrade{Workloads: slices.Clone(u.Workloads)} // the run's own view of what is moved
	for i := moves.NextToMove(-1); i >= 0; i = moves.NextToMove(i) {
		if len(parts) > 0 && (time.Since(began) >= e.cfg.ProgressEvery || ctx.Err() != nil) {
			break // commit what is done; a continuation moves the rest
		}
		w := moves.Workloads[i]
		report, err := e.Cluster.MigrateWorkload(ctx, u.AccountID, w.Workload, u.Nodes)
		if err != nil && ctx.Err() != nil && len(parts) > 0 {
			break // cut short (a shutdown, the job's time): keep the moves made; this one is made again
		}
		if err != nil {
			res := result{done: parts, err: err}
			if errors.Is(err, tierup.ErrMigrationFailed) {
				res.apply = func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
					u.Workloads[i].State = tierup.WorkloadRolledBack
					u.Workloads[i].Notes = append(u.Workloads[i].Notes, err.Error())
					return nil
				}
			}
			return res
		}
		to := report.Workload.Nodes
		if len(to) == 0 {
			to = u.NodeNames()
		}
		moves.Workloads[i].State = tierup.WorkloadMigrated
		parts = append(parts, progress{at: e.Clock.Now().UTC(), msg: fmt.Sprintf("%s %s moved to %s", w.Kind, w.Name, strings.Join(to, ", ")),
			apply: func(u *tierup.Upgrade) {
				minAvail := report.MinAvailable
				u.Workloads[i].Workload = report.Workload
				u.Workloads[i].State, u.Workloads[i].MinAvailable = tierup.WorkloadMigrated, &minAvail
				u.Workloads[i].Notes = append(u.Workloads[i].Notes, report.Notes...)
			}})
	}
	if len(parts) == 0 {
		return result{msg: "every workload runs on the dedicated node"}
	}
	// The last move is the run's outcome, recorded with the commit's event.
	last := parts[len(parts)-1]
	return result{done: parts[:len(parts)-1], more: moves.NextToMove(-1) >= 0, msg: last.msg,
		apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
			last.apply(u)
			return nil
		}}
}

func (e *Engine) enableFeatures(ctx context.Context, u *tierup.Upgrade) result {
	plan, err := e.Catalog.Plan(u.ToPlan)
	if err != nil {
		return result{err: err}
	}
	if err := e.Cluster.EnableFeatures(ctx, u.AccountID, plan); err != nil {
		return result{err: err}
	}
	return result{msg: "features of " + plan.Name + " are on: " + strings.Join(plan.Features, ", "),
		apply: func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
			return tx.SetEntitlementsPlan(ctx, u.AccountID, u.ToPlan)
		}}
}

func (e *Engine) notify(ctx context.Context, u *tierup.Upgrade) result {
	acct, err := e.Store.Account(ctx, u.AccountID)
	if err != nil {
		return result{err: err}
	}
	plan, err := e.Catalog.Plan(u.ToPlan)
	if err != nil {
		return result{err: err}
	}
	title := "Your upgrade to " + plan.Name + " is complete"
	receipt, err := e.completionReceipt(ctx, u)
	if err != nil {
		return result{err: err}
	}
	body := completionText(acct, plan, u, true)
	// The dashboard's copy names no cluster object and no bare path: the
	// node names are folded away on the Plan page, the receipt linked from
	// the billing history.
	note := completionText(acct, plan, u, false)
	if receipt != nil {
		body += fmt.Sprintf("Your receipt %s: %s\n", receipt.Number, e.cfg.Receipts.PDFURL(receipt.ID))
		note += fmt.Sprintf("Your receipt %s is in your billing history.\n", receipt.Number)
	}
	msg := "in-app notification and email sent"
	if err := e.Mailer.Send(ctx, tierup.Email{To: acct.Email, Subject: title, Text: body}); err != nil {
		if st := u.Step(tierup.StepNotify); st.Attempts < e.cfg.MaxAttempts {
			return result{err: fmt.Errorf("sending the completion email: %w", err)}
		}
		msg = "in-app notification sent; the email could not be sent: " + err.Error()
	}
	return result{msg: msg, apply: func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
		return tx.CreateNotification(ctx, &tierup.Notification{ID: tierup.NewID("ntf"), AccountID: u.AccountID, Kind: "upgrade_completed",
			Title: title, Body: note, CreatedAt: e.Clock.Now().UTC()})
	}}
}

// completionText is the completion message; withNames adds the dedicated
// nodes' names in the cluster, for the email (what kubectl shows).
func completionText(acct *tierup.Account, plan *tierup.Plan, u *tierup.Upgrade, withNames bool) string {
	loc := acct.Location()
	var b strings.Builder
	fmt.Fprintf(&b, "Your account is now on %s, from %s to %s.\n\n", plan.Name,
		tierup.DateWords(u.NewPeriod.Start, loc), tierup.DateWords(u.NewPeriod.End, loc))
	names := u.NodeNames()
	switch {
	case len(names) == 0:
	case len(names) == 1 && withNames:
		fmt.Fprintf(&b, "Your workloads now run on your dedicated node %s.\n\n", names[0])
	case len(names) == 1:
		b.WriteString("Your workloads now run on your dedicated node.\n\n")
	case withNames:
		fmt.Fprintf(&b, "Your workloads now run on your %d dedicated nodes, their replicas spread over them: %s.\n\n",
			len(names), strings.Join(names, ", "))
	default:
		fmt.Fprintf(&b, "Your workloads now run on your %d dedicated nodes, their replicas spread over them.\n\n", len(names))
	}
	b.WriteString("What changed:\n")
	for _, f := range plan.Features {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	if u.Payment.Status == tierup.PaymentSucceeded {
		fmt.Fprintf(&b, "\nWe charged %s to your %s card ending in %s, once: tierup does not renew plans and will not charge you again.\n",
			u.Payment.Amount, tierup.BrandName(u.Payment.Brand), u.Payment.Last4)
	}
	return b.String()
}
