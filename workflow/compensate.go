package workflow

import (
	"context"
	"fmt"

	"github.com/tierup/tierup"
)

// compensate undoes what the upgrade did, one part per job so that each
// stays short and its progress is committed: the refund, then each
// workload that moved (or was rolled back), then the rest: workloads that
// never moved (one may have been interrupted mid-move), the cluster's
// features, the node, the plan. Each part is idempotent.
func (e *Engine) compensate(ctx context.Context, u *tierup.Upgrade) result {
	if u.Payment.Status == tierup.PaymentSucceeded {
		return e.returningCredit(ctx, u, e.refund(ctx, u))
	}
	if i := movedWorkload(u); i >= 0 {
		return e.returnWorkload(ctx, u, i)
	}
	if err := e.undoRest(ctx, u); err != nil {
		return result{err: err}
	}
	return e.returningCredit(ctx, u, e.restorePlan(ctx, u))
}

func (e *Engine) refund(ctx context.Context, u *tierup.Upgrade) result {
	refund, err := e.Gateway.Refund(ctx, tierup.RefundRequest{IdempotencyKey: u.ID + ":refund", ChargeID: u.Payment.ChargeID,
		Amount: u.Payment.Amount, Reason: "upgrade canceled"})
	if err != nil {
		return result{err: err}
	}
	return e.withCreditNote(result{more: true, msg: fmt.Sprintf("refunded %s to the card ending in %s", refund.Amount, u.Payment.Last4),
		apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error { return u.Refunded(refund.ID) }})
}

// movedWorkload returns the index of a workload that is (or may be) on the
// dedicated node, or -1.
func movedWorkload(u *tierup.Upgrade) int {
	for i, w := range u.Workloads {
		switch w.State {
		case tierup.WorkloadMigrated, tierup.WorkloadMigrating, tierup.WorkloadRolledBack:
			return i
		}
	}
	return -1
}

func (e *Engine) returnWorkload(ctx context.Context, u *tierup.Upgrade, i int) result {
	w := u.Workloads[i]
	if err := e.Cluster.ReturnWorkload(ctx, u.AccountID, w.Workload); err != nil {
		return result{err: err}
	}
	return result{more: true, msg: fmt.Sprintf("%s %s is back where it was", w.Kind, w.Name),
		apply: func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error {
			u.Workloads[i].State, u.Workloads[i].Node = tierup.WorkloadReturned, "shared"
			return nil
		}}
}

// undoRest returns the workloads that never moved, sets the cluster's
// features back and releases the node.
func (e *Engine) undoRest(ctx context.Context, u *tierup.Upgrade) error {
	// Returning a workload that never moved changes nothing, but one that a
	// crash or an exhausted retry left half-moved is put back too.
	for _, w := range u.Workloads {
		if w.State == tierup.WorkloadPending {
			if err := e.Cluster.ReturnWorkload(ctx, u.AccountID, w.Workload); err != nil {
				return err
			}
		}
	}
	// The cluster's features go back to the previous plan's, if the new
	// plan's were (perhaps partly) turned on.
	if u.Step(tierup.StepEnableFeatures).Attempts > 0 {
		prevID := u.FromPlan
		if u.Previous != nil {
			prevID = u.Previous.PlanID
		}
		prev, err := e.Catalog.Plan(prevID)
		if err != nil {
			return err
		}
		if err := e.Cluster.EnableFeatures(ctx, u.AccountID, prev); err != nil {
			return err
		}
	}
	// Every node is released, those that never became ready (a shortage)
	// too: as many as the plan has, or the upgrade got if more.
	if len(u.Nodes) > 0 || u.Step(tierup.StepProvisionNode).Attempts > 0 {
		plan, _ := e.Catalog.Plan(u.ToPlan) // a plan gone from the catalog: the nodes the upgrade has
		for _, req := range nodeRequests(u, plan) {
			if err := e.Cluster.ReleaseNode(ctx, req); err != nil {
				return fmt.Errorf("releasing dedicated node %d: %w", req.Index+1, err)
			}
		}
	}
	return nil
}

// restorePlan tells the user and, in the commit, puts the previous plan
// back: the last part.
func (e *Engine) restorePlan(ctx context.Context, u *tierup.Upgrade) result {
	acct, err := e.Store.Account(ctx, u.AccountID)
	if err != nil {
		return result{err: err}
	}
	to, from := u.ToPlan, u.FromPlan
	if p, err := e.Catalog.Plan(to); err == nil {
		to = p.Name
	}
	if p, err := e.Catalog.Plan(from); err == nil {
		from = p.Name
	}
	text := "Your upgrade to " + to + " was canceled and " + from + " is back."
	if u.Payment.Status == tierup.PaymentRefunded {
		text += fmt.Sprintf(" We refunded %s to your %s card ending in %s; card refunds usually appear on your statement within 5–10 business days.",
			u.Payment.Amount, tierup.BrandName(u.Payment.Brand), u.Payment.Last4)
	}
	if err := e.Mailer.Send(ctx, tierup.Email{To: acct.Email, Subject: "Your upgrade was canceled", Text: text}); err != nil {
		e.Log.WarnContext(ctx, "cancel email not sent", "upgrade", u.ID, "err", err)
	}
	return result{msg: text, apply: func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
		if u.Previous != nil {
			if err := tx.SetSubscription(ctx, u.AccountID, *u.Previous); err != nil {
				return err
			}
			if err := tx.SetEntitlementsPlan(ctx, u.AccountID, u.Previous.PlanID); err != nil {
				return err
			}
		}
		return tx.CreateNotification(ctx, &tierup.Notification{ID: tierup.NewID("ntf"), AccountID: u.AccountID, Kind: "upgrade_canceled",
			Title: "Your upgrade was canceled", Body: text, CreatedAt: e.Clock.Now().UTC()})
	}}
}
