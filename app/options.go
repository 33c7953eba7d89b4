package app

import (
	"context"
	"errors"

	"github.com/tierup/tierup"
)

// UpgradeOption is one plan of the catalog and whether the account may
// upgrade to it now.
type UpgradeOption struct {
	Plan    tierup.Plan
	Current bool // the account's plan
	Allowed bool
	// Reason says why not when !Allowed: a domain error such as
	// ErrSamePlan, ErrNotAnUpgrade, ErrPlanUnavailable,
	// ErrCurrencyMismatch or ErrRemainingExceedsNewPeriod.
	Reason error
	// Price is what the upgrade would cost and give now, when Allowed: the
	// quote it would get (unsigned, not stored), the account's credit
	// taken off.
	Price *tierup.Quote
}

// UpgradeOptions lists every plan of the catalog, retired ones included,
// in catalog order, each with whether the account may upgrade to it now
// and why not — the same rule as CreateQuote, without storing a quote or
// checking for an upgrade already running. Errors: CodeNotFound (account),
// and the store's.
func (a *App) UpgradeOptions(ctx context.Context, accountID string) ([]UpgradeOption, error) {
	acct, now, err := a.accountNow(ctx, accountID)
	if err != nil {
		return nil, err
	}
	from, err := a.catalog.Plan(acct.Subscription.PlanID)
	if err != nil {
		return nil, err
	}
	entries, err := a.store.CreditEntries(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	plans := a.catalog.Plans()
	out := make([]UpgradeOption, 0, len(plans))
	for _, p := range plans {
		q, err := a.catalog.PriceUpgrade(tierup.QuoteInput{Now: now, Location: acct.Location(), Current: acct.Subscription,
			From: from, To: &p, Policy: a.cfg.Policy, Credit: tierup.CreditBalance(entries, p.Price.Currency)})
		var refusal *tierup.Error
		if err != nil && (!errors.As(err, &refusal) || errors.Is(err, tierup.ErrInternal)) {
			return nil, err // arithmetic overflow and the like: not a reason to show
		}
		out = append(out, UpgradeOption{Plan: p, Current: p.ID == from.ID, Allowed: err == nil, Reason: err, Price: q})
	}
	return out, nil
}

// CanUpgrade reports whether any option is allowed.
func CanUpgrade(opts []UpgradeOption) bool {
	for _, o := range opts {
		if o.Allowed {
			return true
		}
	}
	return false
}

// SuggestedTier is the tier the dashboard offers the account next: the
// lowest tier above its plan's that it may upgrade to, else its own tier
// when only a longer period of it is allowed, else "".
func (a *App) SuggestedTier(opts []UpgradeOption) string {
	cur := -1
	for _, o := range opts {
		if o.Current {
			cur = a.catalog.TierRank(o.Plan.Tier)
		}
	}
	best, bestRank := "", -1
	for _, o := range opts {
		r := a.catalog.TierRank(o.Plan.Tier)
		if !o.Allowed || r < cur {
			continue
		}
		if best == "" || (r > cur && (bestRank == cur || r < bestRank)) {
			best, bestRank = o.Plan.Tier, r
		}
	}
	return best
}
