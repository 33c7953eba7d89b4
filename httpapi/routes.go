package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
)

type healthOutput struct {
	Body struct {
		Status string `json:"status" enum:"ok"`
	}
}

type readyOutput struct {
	Body struct {
		Status string            `json:"status" enum:"ok"`
		Checks map[string]string `json:"checks" doc:"Each check (database, migrations, queue) and its result."`
	}
}

type plansOutput struct {
	Body struct {
		Data []tierup.Plan `json:"data"`
	}
}

type accountOutput struct {
	Body *app.AccountView
}

type createAccountInput struct {
	Body struct {
		Email              string        `json:"email" maxLength:"254" doc:"Login email; unique, case-insensitive."`
		Name               string        `json:"name,omitempty" maxLength:"200"`
		TimeZone           string        `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone, e.g. Asia/Tokyo; UTC by default. Billing months follow its calendar."`
		Plan               string        `json:"plan,omitempty" maxLength:"64" doc:"Current plan; hobby by default."`
		CurrentPeriodStart *time.Time    `json:"current_period_start,omitempty" doc:"Backdates a paid plan's current period (sandbox and support)."`
		TestClock          string        `json:"test_clock,omitempty" maxLength:"64" doc:"Sandbox only: the test clock the account lives on."`
		Usage              *tierup.Usage `json:"usage,omitempty" doc:"Starting usage."`
	}
}

type createdAccount struct {
	*app.AccountView
	Token string `json:"token" doc:"The account's API token. Shown only in this response: store it."`
}

type createAccountOutput struct {
	Body createdAccount
}

type loginLinkOutput struct {
	Body struct {
		Path      string    `json:"path" doc:"Append to the server's base URL; works once."`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

type idPath struct {
	ID string `path:"id" maxLength:"64"`
}

type createQuoteInput struct {
	Body struct {
		Plan string `json:"plan" maxLength:"64" doc:"The plan to upgrade to, e.g. pro-3m."`
	}
}

type quoteOutput struct {
	Body *app.QuoteView
}

type clockInput struct {
	Body struct {
		FrozenTime time.Time `json:"frozen_time" doc:"RFC 3339 time the clock stands at."`
	}
}

type advanceClockInput struct {
	ID string `path:"id" maxLength:"64"`
	clockInput
}

type clockOutput struct {
	Body *tierup.TestClock
}

func (s *Server) routes() {
	register(s, huma.Operation{OperationID: "health", Method: http.MethodGet, Path: "/healthz", Summary: "Health check", Tags: []string{"Operations"}},
		authNone, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			if err := s.app.Ping(ctx); err != nil {
				s.log.ErrorContext(ctx, "health check failed", "err", err)
				return nil, newProblem(http.StatusServiceUnavailable, "unavailable", "the database is unreachable")
			}
			out := &healthOutput{}
			out.Body.Status = "ok"
			return out, nil
		})

	register(s, huma.Operation{OperationID: "ready", Method: http.MethodGet, Path: "/readyz", Summary: "Readiness check",
		Description: "200 when the process should get traffic: the database answers, its schema is at this binary's newest migration and the job queue runs. 503 not_ready otherwise, also while the process drains for a shutdown; checks says which failed.",
		Tags:        []string{"Operations"}},
		authNone, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
			r := s.app.Readiness(ctx)
			if !r.Ready {
				var failed []string
				for _, name := range []string{app.CheckDatabase, app.CheckMigrations, app.CheckQueue} {
					if v, ok := r.Checks[name]; ok && v != app.CheckOK {
						failed = append(failed, name+": "+v)
					}
				}
				p := newProblem(http.StatusServiceUnavailable, tierup.CodeNotReady, "not ready: "+strings.Join(failed, "; "))
				p.Checks = r.Checks
				return nil, p
			}
			out := &readyOutput{}
			out.Body.Status, out.Body.Checks = "ok", r.Checks
			return out, nil
		})

	register(s, huma.Operation{OperationID: "list-plans", Method: http.MethodGet, Path: "/v1/plans", Summary: "List the plan catalog",
		Description: "Every plan with its price, limits (null means unlimited), entitlements and feature lines.", Tags: []string{"Plans"}},
		authAny, func(ctx context.Context, _ *struct{}) (*plansOutput, error) {
			out := &plansOutput{}
			out.Body.Data = s.app.Catalog().Plans()
			return out, nil
		})

	register(s, huma.Operation{OperationID: "create-account", Method: http.MethodPost, Path: "/v1/accounts", Summary: "Open an account (admin)",
		DefaultStatus: http.StatusCreated, Tags: []string{"Accounts"}},
		authAdmin, func(ctx context.Context, in *createAccountInput) (*createAccountOutput, error) {
			b := in.Body
			view, token, err := s.app.CreateAccount(ctx, app.NewAccount{Email: b.Email, Name: b.Name, TimeZone: b.TimeZone, Plan: b.Plan,
				CurrentPeriodStart: b.CurrentPeriodStart, TestClock: b.TestClock, Usage: b.Usage})
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &createAccountOutput{Body: createdAccount{AccountView: view, Token: token}}, nil
		})

	register(s, huma.Operation{OperationID: "get-account", Method: http.MethodGet, Path: "/v1/accounts/{id}", Summary: "Read an account (admin)", Tags: []string{"Accounts"}},
		authAdmin, func(ctx context.Context, in *idPath) (*accountOutput, error) {
			view, err := s.app.Account(ctx, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &accountOutput{Body: view}, nil
		})

	register(s, huma.Operation{OperationID: "create-login-link", Method: http.MethodPost, Path: "/v1/accounts/{id}/login-links",
		Summary: "Make a one-time dashboard sign-in link for an account (admin)", DefaultStatus: http.StatusCreated, Tags: []string{"Accounts"}},
		authAdmin, func(ctx context.Context, in *idPath) (*loginLinkOutput, error) {
			token, expires, err := s.app.NewLoginLink(ctx, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &loginLinkOutput{}
			out.Body.Path, out.Body.ExpiresAt = "/login?token="+token, expires
			return out, nil
		})

	register(s, huma.Operation{OperationID: "get-own-account", Method: http.MethodGet, Path: "/v1/account", Summary: "Read the calling account",
		Description: "The subscription with its period and days remaining, usage, limits and entitlements.", Tags: []string{"Accounts"}},
		authAccount, func(ctx context.Context, _ *struct{}) (*accountOutput, error) {
			view, err := s.app.Account(ctx, principal(ctx).Account.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &accountOutput{Body: view}, nil
		})

	register(s, huma.Operation{OperationID: "create-quote", Method: http.MethodPost, Path: "/v1/quotes", Summary: "Quote an upgrade",
		Description:   "Prices the calling account's upgrade to a plan: what happens to the time left on the current plan, the new period, the amount due and a plain explanation. Quotes are signed, immutable and expire (30 minutes by default).",
		DefaultStatus: http.StatusCreated, Tags: []string{"Quotes"}},
		authAccount, func(ctx context.Context, in *createQuoteInput) (*quoteOutput, error) {
			q, err := s.app.CreateQuote(ctx, principal(ctx).Account.ID, in.Body.Plan)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &quoteOutput{Body: q}, nil
		})

	register(s, huma.Operation{OperationID: "get-quote", Method: http.MethodGet, Path: "/v1/quotes/{id}", Summary: "Read one of the calling account's quotes", Tags: []string{"Quotes"}},
		authAccount, func(ctx context.Context, in *idPath) (*quoteOutput, error) {
			q, err := s.app.Quote(ctx, principal(ctx).Account.ID, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &quoteOutput{Body: q}, nil
		})

	if !s.app.Sandbox() {
		return // production: test clocks do not exist (404)
	}
	register(s, huma.Operation{OperationID: "create-test-clock", Method: http.MethodPost, Path: "/v1/test-clocks", Summary: "Create a test clock (admin, sandbox)",
		DefaultStatus: http.StatusCreated, Tags: []string{"Sandbox"}},
		authAdmin, func(ctx context.Context, in *clockInput) (*clockOutput, error) {
			c, err := s.app.CreateTestClock(ctx, in.Body.FrozenTime)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &clockOutput{Body: c}, nil
		})
	register(s, huma.Operation{OperationID: "get-test-clock", Method: http.MethodGet, Path: "/v1/test-clocks/{id}", Summary: "Read a test clock (admin, sandbox)", Tags: []string{"Sandbox"}},
		authAdmin, func(ctx context.Context, in *idPath) (*clockOutput, error) {
			c, err := s.app.TestClock(ctx, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &clockOutput{Body: c}, nil
		})
	register(s, huma.Operation{OperationID: "advance-test-clock", Method: http.MethodPost, Path: "/v1/test-clocks/{id}/advance", Summary: "Move a test clock forward (admin, sandbox)", Tags: []string{"Sandbox"}},
		authAdmin, func(ctx context.Context, in *advanceClockInput) (*clockOutput, error) {
			c, err := s.app.AdvanceTestClock(ctx, in.ID, in.Body.FrozenTime)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &clockOutput{Body: c}, nil
		})
}
