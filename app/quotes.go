package app

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// QuoteView is a stored quote with its state at the account's now.
type QuoteView struct {
	*tierup.Quote
	Status tierup.QuoteStatus `json:"status" enum:"open,expired" doc:"open until expires_at, then expired: ask for a new quote."`
	// Preflight is the cluster's answer now, for an open quote: whether
	// the move to dedicated nodes can succeed. It is not part of the
	// signed terms; the upgrade checks again, and before charging.
	Preflight *tierup.Preflight `json:"preflight,omitempty" doc:"Whether the workloads can move to dedicated nodes, checked now; absent for an expired quote."`
}

// CreateQuote prices the account's upgrade to planID under the configured
// policy, signs the quote and stores it.
//
// Errors: CodeInvalid (no plan named), CodeUnknownPlan,
// CodePlanUnavailable, CodeSamePlan, CodeNotAnUpgrade,
// CodeCurrencyMismatch, CodeRemainingExceedsNewPeriod,
// CodeUpgradeInProgress, and ErrNotFound for an account that is gone.
func (a *App) CreateQuote(ctx context.Context, accountID, planID string) (*QuoteView, error) {
	if planID == "" {
		return nil, tierup.Invalid(tierup.FieldError{Location: "body.plan", Message: "name the plan to upgrade to, e.g. pro-1m"})
	}
	to, err := a.catalog.Plan(planID)
	if err != nil {
		return nil, err
	}
	// The balance is read again when the credit is taken: another quote
	// may count on it too.
	basis, err := a.store.QuoteBasis(ctx, accountID, to.Price.Currency)
	if err != nil {
		return nil, err
	}
	acct := basis.Account
	from, err := a.catalog.Plan(acct.Subscription.PlanID)
	if err != nil {
		return nil, err
	}
	if basis.ActiveUpgrade != "" {
		return nil, upgradeInProgress(basis.ActiveUpgrade, basis.ActiveStatus)
	}
	now, err := a.Now(ctx, acct)
	if err != nil {
		return nil, err
	}
	q, err := a.catalog.PriceUpgrade(tierup.QuoteInput{Now: now, Location: acct.Location(), Current: acct.Subscription,
		From: from, To: to, Policy: a.cfg.Policy, Credit: basis.Credit})
	if err != nil {
		a.log.InfoContext(ctx, "quote refused", "account", acct.ID, "from", from.ID, "to", planID, "code", tierup.ErrorCode(err))
		return nil, err
	}
	q.SealWith(tierup.NewID("quo"), acct.ID, now.Add(a.cfg.QuoteTTL), a.deps.Keys)
	if err := a.store.CreateQuote(ctx, q); err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "quote created", "account", acct.ID, "quote", q.ID, "from", q.FromPlan, "to", q.ToPlan,
		"policy", q.Policy, "adjustment", q.Adjustment.Kind, "adjustment_seconds", q.Adjustment.Seconds,
		"amount_due", q.AmountDue.Amount, "currency", q.AmountDue.Currency)
	pf, err := a.Preflight(ctx, acct.ID, to)
	if err != nil {
		return nil, err
	}
	return &QuoteView{Quote: q, Status: tierup.QuoteOpen, Preflight: pf}, nil
}

// Quote returns one of the account's quotes. Another account's quote is
// reported as not found, never as forbidden.
func (a *App) Quote(ctx context.Context, accountID, quoteID string) (*QuoteView, error) {
	q, err := a.store.Quote(ctx, quoteID)
	if err != nil {
		return nil, err
	}
	if q.AccountID != accountID {
		return nil, tierup.Errorf(tierup.CodeNotFound, "quote %s not found", quoteID)
	}
	_, now, err := a.accountNow(ctx, accountID)
	if err != nil {
		return nil, err
	}
	v := &QuoteView{Quote: q, Status: q.Status(now)}
	if v.Status == tierup.QuoteOpen {
		to, err := a.catalog.Plan(q.ToPlan)
		if err != nil {
			return nil, err
		}
		if v.Preflight, err = a.Preflight(ctx, accountID, to); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Preflight checks whether the account's workloads can move to the plan's
// dedicated nodes now. A cluster that does not answer, or fails to look,
// is no error here: the result says it was not checked, and the upgrade's
// payment step checks again before it charges (pausing while the cluster
// is unreachable). Errors: only the context's.
func (a *App) Preflight(ctx context.Context, accountID string, plan *tierup.Plan) (*tierup.Preflight, error) {
	pf, err := a.deps.Cluster.Preflight(ctx, accountID, plan)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.log.WarnContext(ctx, "pre-flight not checked", "account", accountID, "code", tierup.ErrorCode(err), "err", err)
		return &tierup.Preflight{Problems: []tierup.PreflightProblem{}}, nil
	}
	if len(pf.Problems) > 0 {
		a.log.InfoContext(ctx, "pre-flight found problems", "account", accountID, "plan", plan.ID, "problems", len(pf.Problems))
	}
	return pf, nil
}

// VerifyQuote reports whether a quote carries this server's signature over
// its content.
func (a *App) VerifyQuote(q *tierup.Quote) bool { return a.deps.Keys.VerifyQuote(q) }

// CreateTestClock makes a sandbox test clock frozen at t.
// Errors: CodeInvalid, CodeSandboxDisabled.
func (a *App) CreateTestClock(ctx context.Context, t time.Time) (*tierup.TestClock, error) {
	if err := a.requireSandbox(); err != nil {
		return nil, err
	}
	if err := frozenTime(t); err != nil {
		return nil, err
	}
	c := &tierup.TestClock{ID: tierup.NewID("clock"), FrozenTime: t.UTC().Truncate(time.Second), CreatedAt: a.clock.Now().UTC().Truncate(time.Second)}
	if err := a.store.CreateTestClock(ctx, c); err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "test clock created", "test_clock", c.ID, "frozen_time", c.FrozenTime)
	return c, nil
}

// TestClock returns a test clock. Errors: CodeNotFound, CodeSandboxDisabled.
func (a *App) TestClock(ctx context.Context, id string) (*tierup.TestClock, error) {
	if err := a.requireSandbox(); err != nil {
		return nil, err
	}
	return a.store.TestClock(ctx, id)
}

// AdvanceTestClock moves a test clock forward to t.
// Errors: CodeInvalid, CodeNotFound, CodeClockNotForward, CodeSandboxDisabled.
func (a *App) AdvanceTestClock(ctx context.Context, id string, t time.Time) (*tierup.TestClock, error) {
	if err := a.requireSandbox(); err != nil {
		return nil, err
	}
	if err := frozenTime(t); err != nil {
		return nil, err
	}
	c, err := a.store.AdvanceTestClock(ctx, id, t.UTC().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "test clock advanced", "test_clock", c.ID, "frozen_time", c.FrozenTime)
	return c, nil
}

// frozenTime refuses a test clock's time outside tierup.TimeProblem's range.
func frozenTime(t time.Time) error {
	if why := tierup.TimeProblem(t); why != "" {
		return tierup.Invalid(tierup.FieldError{Location: "body.frozen_time", Message: "the time " + why})
	}
	return nil
}

func (a *App) requireSandbox() error {
	if !a.cfg.Sandbox {
		return tierup.Errorf(tierup.CodeSandboxDisabled, "test clocks are only available in sandbox mode")
	}
	return nil
}

// upgradeInProgress refuses a quote while an upgrade (id) is under way: its
// figures would be stale the moment that upgrade switches the plan.
func upgradeInProgress(id string, status tierup.UpgradeStatus) error {
	return tierup.Errorf(tierup.CodeUpgradeInProgress, "upgrade %s is still %s; quote again once it is finished", id, status)
}
