package workflow

import (
	"context"

	"github.com/tierup/tierup"
)

// preflight checks, right before the payment, that the move to dedicated
// nodes can succeed: an unreachable cluster pauses the upgrade before any
// money moves, and problems stop it (tierup.PreflightError) with nothing
// charged.
func (e *Engine) preflight(ctx context.Context, u *tierup.Upgrade) (*tierup.Preflight, error) {
	plan, err := e.Catalog.Plan(u.ToPlan)
	if err != nil {
		return nil, err
	}
	pf, err := e.Cluster.Preflight(ctx, u.AccountID, plan)
	if err != nil {
		return nil, err
	}
	return pf, pf.Err()
}

// inZone records, with the payment's outcome, the zone the dedicated nodes
// must be in, for the provision step.
func inZone(res result, zone string) result {
	apply := res.apply
	res.apply = func(ctx context.Context, tx tierup.Store, u *tierup.Upgrade) error {
		u.Zone = zone
		if apply != nil {
			return apply(ctx, tx, u)
		}
		return nil
	}
	return res
}
