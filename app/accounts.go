package app

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/tierup/tierup"
)

// NewAccount is what the admin gives to open an account.
type NewAccount struct {
	Email    string
	Name     string
	TimeZone string // IANA; UTC when empty
	Plan     string // the catalog's default plan when empty
	// CurrentPeriodStart backdates a paid plan's period (like Stripe's
	// backdate_start_date); the period starts now when nil.
	CurrentPeriodStart *time.Time
	TestClock          string        // sandbox only
	Usage              *tierup.Usage // optional starting usage
}

// CreateAccount opens an account and returns it with its API token, which
// is shown only this once. Admin only.
//
// Errors: CodeInvalid (each bad field listed), CodeUnknownPlan,
// CodePlanUnavailable, CodeEmailTaken, CodeSandboxDisabled.
func (a *App) CreateAccount(ctx context.Context, in NewAccount) (*AccountView, string, error) {
	var bad []tierup.FieldError
	field := func(loc, format string, args ...any) {
		bad = append(bad, tierup.FieldError{Location: "body." + loc, Message: fmt.Sprintf(format, args...)})
	}

	email := strings.ToLower(strings.TrimSpace(in.Email))
	if why := tierup.TextProblem(email); why != "" {
		field("email", "the email address %s", why)
	} else if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 {
		field("email", "%q is not an email address like dev@example.com", in.Email)
	}
	if len(in.Name) > 200 {
		field("name", "the name is longer than 200 characters")
	} else if why := tierup.TextProblem(in.Name); why != "" {
		field("name", "the name %s", why)
	}
	tz := in.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		field("timezone", "%q is not an IANA time zone such as Europe/Paris or UTC", in.TimeZone)
		loc = time.UTC
	}
	if in.Usage != nil && (in.Usage.Functions < 0 || in.Usage.CronJobs < 0 || in.Usage.StorageMB < 0) {
		field("usage", "usage cannot be negative")
	}

	planID := in.Plan
	if planID == "" {
		planID = a.catalog.DefaultPlan().ID
	}
	plan, err := a.catalog.Plan(planID)
	if err != nil {
		return nil, "", &tierup.Error{Code: tierup.CodeUnknownPlan, Message: err.Error(),
			Fields: []tierup.FieldError{{Location: "body.plan", Message: err.Error()}}}
	}
	if plan.Retired {
		return nil, "", tierup.Errorf(tierup.CodePlanUnavailable, "%s is no longer offered", plan.Name)
	}

	acct := &tierup.Account{ID: tierup.NewID("acct"), Email: email, Name: in.Name, TimeZone: tz,
		Subscription: tierup.Subscription{PlanID: plan.ID}}
	if in.Usage != nil {
		acct.Usage = *in.Usage
	}
	if in.TestClock != "" {
		if !a.cfg.Sandbox {
			return nil, "", tierup.Errorf(tierup.CodeSandboxDisabled, "test clocks are only available in sandbox mode")
		}
		if _, err := a.store.TestClock(ctx, in.TestClock); err != nil {
			if !errors.Is(err, tierup.ErrNotFound) {
				return nil, "", err
			}
			field("test_clock", "there is no test clock %q", in.TestClock)
		}
		acct.TestClockID = in.TestClock
	}
	if len(bad) > 0 {
		return nil, "", tierup.Invalid(bad...)
	}

	now, err := a.Now(ctx, acct)
	if err != nil {
		return nil, "", err
	}
	acct.CreatedAt = now
	switch {
	case plan.Free() && in.CurrentPeriodStart != nil:
		return nil, "", tierup.Invalid(tierup.FieldError{Location: "body.current_period_start", Message: plan.Name + " has no billing period"})
	case !plan.Free():
		start := now
		if in.CurrentPeriodStart != nil {
			start = in.CurrentPeriodStart.UTC().Truncate(time.Second)
			if why := tierup.TimeProblem(start); why != "" {
				return nil, "", tierup.Invalid(tierup.FieldError{Location: "body.current_period_start", Message: "the start " + why})
			}
			if start.After(now) {
				return nil, "", tierup.Invalid(tierup.FieldError{Location: "body.current_period_start",
					Message: fmt.Sprintf("the period cannot start in the future (now is %s)", now.Format(time.RFC3339))})
			}
		}
		acct.Subscription.PeriodStart = start
		acct.Subscription.PeriodEnd = tierup.AddMonths(start, plan.IntervalMonths, loc).UTC()
		acct.Subscription.Value = plan.Price // a plan opened by the admin is worth its price
	}

	token, hash := tierup.NewToken("tu_acct")
	if err := a.store.CreateAccount(ctx, acct, hash); err != nil {
		return nil, "", err
	}
	a.log.InfoContext(ctx, "account created", "account", acct.ID, "plan", plan.ID, "test_clock", acct.TestClockID)
	view, err := a.view(ctx, acct)
	return view, token, err
}

// Account returns an account's view. Admin only; accounts read their own
// through the principal. Errors: CodeNotFound.
func (a *App) Account(ctx context.Context, id string) (*AccountView, error) {
	acct, err := a.store.Account(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.view(ctx, acct)
}

// IssueToken replaces an account's API token and returns the new one; the
// old one stops working. For operators who lost a token.
func (a *App) IssueToken(ctx context.Context, accountID string) (string, error) {
	token, hash := tierup.NewToken("tu_acct")
	if err := a.store.SetAccountTokenHash(ctx, accountID, hash); err != nil {
		return "", err
	}
	a.creds.forget()
	a.log.InfoContext(ctx, "account token reissued", "account", accountID)
	return token, nil
}

// SeedDemo opens the demo account, on the default plan with some usage, when the
// database has no account yet. It returns the account and its token, or
// nil when there was nothing to do.
func (a *App) SeedDemo(ctx context.Context) (*AccountView, string, error) {
	n, err := a.store.CountAccounts(ctx)
	if err != nil || n > 0 {
		return nil, "", err
	}
	return a.CreateAccount(ctx, NewAccount{Email: "demo@tierup.dev", Name: "Demo Developer",
		Usage: &tierup.Usage{Functions: 3, CronJobs: 7, StorageMB: 6200}})
}

// AccountView is an account as its owner and the admin see it, with the
// figures derived from its clock.
type AccountView struct {
	ID           string              `json:"id"`
	Email        string              `json:"email"`
	Name         string              `json:"name,omitempty"`
	TimeZone     string              `json:"timezone"`
	TestClock    string              `json:"test_clock,omitempty"`
	CreatedAt    time.Time           `json:"created_at"`
	Now          time.Time           `json:"now" doc:"The account's current time (its test clock's in the sandbox)."`
	Subscription SubscriptionView    `json:"subscription"`
	Usage        tierup.Usage        `json:"usage"`
	Limits       tierup.Limits       `json:"limits"`
	Entitlements tierup.Entitlements `json:"entitlements"`
	Credit       CreditView          `json:"credit"`
}

// CreditView is the account's credit: the balance and the ledger it sums.
type CreditView struct {
	Balance tierup.Money         `json:"balance" doc:"Credit taken off the next quote's amount due, in the current plan's currency."`
	Entries []tierup.CreditEntry `json:"entries" doc:"The ledger, newest first; the balance is the sum of its entries in that currency."`
}

// SubscriptionView is the current plan with its period and time left.
type SubscriptionView struct {
	Plan               string        `json:"plan"`
	PlanName           string        `json:"plan_name"`
	Status             string        `json:"status" enum:"active,expired"`
	CurrentPeriodStart *time.Time    `json:"current_period_start" nullable:"true"`
	CurrentPeriodEnd   *time.Time    `json:"current_period_end" nullable:"true"`
	RemainingSeconds   int64         `json:"remaining_seconds"`
	RemainingDays      int64         `json:"remaining_days" doc:"Whole days left, rounded down."`
	PeriodValue        *tierup.Money `json:"period_value,omitempty" doc:"What the current period cost (money, credit and the previous plan's value it took over); an upgrade credits the unused part of it."`
}

func (a *App) view(ctx context.Context, acct *tierup.Account) (*AccountView, error) {
	now, err := a.Now(ctx, acct)
	if err != nil {
		return nil, err
	}
	plan, err := a.catalog.Plan(acct.Subscription.PlanID)
	if err != nil {
		return nil, fmt.Errorf("account %s is on a plan the catalog lacks: %w", acct.ID, err)
	}
	// Limits and features follow the plan whose features were turned on,
	// which trails the subscription while an upgrade runs.
	features, err := a.catalog.Plan(acct.EntitlementsPlan)
	if err != nil {
		features = plan
	}
	s := acct.Subscription
	rem := int64(s.Remaining(now) / time.Second)
	v := &AccountView{ID: acct.ID, Email: acct.Email, Name: acct.Name, TimeZone: acct.TimeZone, TestClock: acct.TestClockID,
		CreatedAt: acct.CreatedAt, Now: now, Usage: acct.Usage, Limits: features.Limits, Entitlements: features.Entitlements,
		Subscription: SubscriptionView{Plan: plan.ID, PlanName: plan.Name, Status: s.Status(now),
			RemainingSeconds: rem, RemainingDays: rem / 86400}}
	if s.Paid() {
		start, end := s.PeriodStart, s.PeriodEnd
		v.Subscription.CurrentPeriodStart, v.Subscription.CurrentPeriodEnd = &start, &end
		value := s.ValueOn(plan)
		v.Subscription.PeriodValue = &value
	}
	entries, err := a.store.CreditEntries(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	v.Credit = CreditView{Balance: tierup.CreditBalance(entries, plan.Price.Currency), Entries: entries}
	if v.Credit.Entries == nil {
		v.Credit.Entries = []tierup.CreditEntry{}
	}
	return v, nil
}
