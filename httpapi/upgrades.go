package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/eventstream"
	"github.com/tierup/tierup/sandbox"
)

type clientInfoKey struct{}

type clientInfo struct{ ip, userAgent string }

type termsOutput struct {
	Body struct {
		Version string `json:"version"`
		Text    string `json:"text"`
	}
}

type cardInput struct {
	Number   string `json:"number" minLength:"12" maxLength:"23" doc:"Card number; spaces and dashes are ignored. Never stored."`
	ExpMonth int    `json:"exp_month" doc:"1-12"`
	ExpYear  int    `json:"exp_year" doc:"Four digits."`
	CVC      string `json:"cvc" minLength:"3" maxLength:"4" doc:"Security code. Never stored."`
	Name     string `json:"name,omitempty" maxLength:"200" doc:"Name on the card."`
}

type paymentMethodInput struct {
	Body struct {
		Card                *cardInput `json:"card,omitempty" doc:"A card, with the sandbox gateway."`
		StripePaymentMethod string     `json:"stripe_payment_method,omitempty" maxLength:"255" doc:"A pm_… made with Stripe.js or the mobile SDK, with the stripe gateway."`
	}
}

type paymentMethodOutput struct {
	Body *paymentMethod
}

type upgradeBody struct {
	Quote         string `json:"quote" maxLength:"64" doc:"The quote (quo_…) to carry out; it must be open and unused."`
	PaymentMethod string `json:"payment_method" maxLength:"64" doc:"The card (pm_…) to charge."`
	AcceptTerms   string `json:"accept_terms" maxLength:"32" doc:"The terms version the user accepted (GET /v1/terms)."`
}

type createUpgradeInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes retries safe: the same key and body return the first response; the same key with another body is refused."`
	Body           upgradeBody
}

type upgradeOutput struct {
	Body *upgrade
}

type upgradesOutput struct {
	Body struct {
		Data       []*upgrade `json:"data"`
		NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type listUpgradesInput struct {
	Status        string `query:"status" enum:"processing,payment_failed,payment_action_required,paused,needs_support,completed,canceled" doc:"Only upgrades in this status."`
	Account       string `query:"account" maxLength:"64" doc:"Only this account's upgrades (admin; an account token always lists its own)."`
	CreatedAfter  string `query:"created_after" maxLength:"64" doc:"RFC 3339; only upgrades created after it (exclusive)."`
	CreatedBefore string `query:"created_before" maxLength:"64" doc:"RFC 3339; only upgrades created before it (exclusive)."`
	// Paging, as in every listing. (Spelled out: huma binds no parameter
	// of an embedded struct of an unexported type.)
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Items per page."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page, sent with the same filters (another filter refuses it). Pages never skip or repeat an item, even while new ones are created."`
}

type listTicketsInput struct {
	Status  string `query:"status" enum:"open,resolved" doc:"Only tickets in this status."`
	Account string `query:"account" maxLength:"64" doc:"Only this account's tickets."`
	Upgrade string `query:"upgrade" maxLength:"64" doc:"Only this upgrade's tickets."`
	// Paging, as in every listing. (Spelled out: huma binds no parameter
	// of an embedded struct of an unexported type.)
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Items per page."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page, sent with the same filters (another filter refuses it). Pages never skip or repeat an item, even while new ones are created."`
}

type migrationPlanOutput struct {
	Body *app.MigrationPlan
}

type retryPaymentInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		PaymentMethod string `json:"payment_method" maxLength:"64" doc:"The corrected or new card (pm_…)."`
	}
}

type auditEntry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Message string    `json:"message"`
	Status  string    `json:"status,omitempty" doc:"The upgrade's status right after."`
}

type auditOutput struct {
	Body struct {
		Data []auditEntry `json:"data"`
	}
}

type notificationsOutput struct {
	Body struct {
		Data []*tierup.Notification `json:"data"`
	}
}

type ticketsOutput struct {
	Body struct {
		Data       []*tierup.SupportTicket `json:"data"`
		NextCursor string                  `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type faultInput struct {
	Body struct {
		Kind    string   `json:"kind" enum:"resource_shortage,cluster_unreachable,gateway_unreachable,gateway_timeout,migration_failure,migration_blocked,gateway_flaky"`
		Count   int      `json:"count,omitempty" minimum:"0" maximum:"1000" doc:"For resource_shortage, gateway_timeout, migration_failure: how many calls fail."`
		Seconds int      `json:"seconds,omitempty" minimum:"0" maximum:"86400" doc:"For cluster_unreachable, gateway_unreachable, migration_blocked: how long it lasts; for gateway_flaky, optional (until cleared)."`
		Rate    float64  `json:"rate,omitempty" minimum:"0" maximum:"1" doc:"For gateway_flaky: the share of the gateway's payment calls (charges, refunds, reads and cancels of a charge) that fail, e.g. 0.2."`
		Modes   []string `json:"modes,omitempty" maxItems:"3" enum:"timeout,server_error,lost_response" doc:"For gateway_flaky: how a call fails, drawn at random among these (all three when absent): timeout (not carried out, no answer), server_error (not carried out, a 500), lost_response (carried out, the answer lost)."`
	}
}

type faultOutput struct {
	Body *sandbox.Fault
}

type faultsOutput struct {
	Body struct {
		Data []sandbox.Fault `json:"data"`
	}
}

type ledgerOutput struct {
	Body struct {
		Data []*sandbox.Entry `json:"data"`
	}
}

type clusterInput struct {
	Account string `query:"account" required:"true" maxLength:"64"`
}

type clusterOutput struct {
	Body *snapshot
}

func (s *Server) upgradeRoutes() {
	tags := []string{"Upgrades"}
	register(s, huma.Operation{OperationID: "get-terms", Method: http.MethodGet, Path: "/v1/terms", Summary: "The current terms of service", Tags: tags},
		authAny, func(ctx context.Context, _ *struct{}) (*termsOutput, error) {
			out := &termsOutput{}
			out.Body.Version, out.Body.Text = s.app.Terms()
			return out, nil
		})

	register(s, huma.Operation{OperationID: "create-payment-method", Method: http.MethodPost, Path: "/v1/payment-methods",
		Summary:       "Add a card",
		Description:   "Validates the card (number, brand, expiry by the account's clock, security code; each bad field is named) and tokenizes it with the payment gateway. The number and security code are never stored or logged. With the stripe gateway, clients create pm_… IDs with Stripe.js or the mobile SDK instead.",
		DefaultStatus: http.StatusCreated, Tags: tags},
		authAccount, func(ctx context.Context, in *paymentMethodInput) (*paymentMethodOutput, error) {
			var pm *tierup.PaymentMethod
			var err error
			account := principal(ctx).Account.ID
			switch c := in.Body.Card; {
			case (c == nil) == (in.Body.StripePaymentMethod == ""):
				err = tierup.Invalid(tierup.FieldError{Location: "body", Message: "send either \"card\" or \"stripe_payment_method\""})
			case c != nil:
				pm, err = s.app.CreatePaymentMethod(ctx, account, tierup.Card{Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, CVC: c.CVC, Name: c.Name})
			default:
				pm, err = s.app.RegisterPaymentMethod(ctx, account, in.Body.StripePaymentMethod)
			}
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &paymentMethodOutput{Body: paymentMethodOf(pm)}, nil
		})

	register(s, huma.Operation{OperationID: "create-upgrade", Method: http.MethodPost, Path: "/v1/upgrades", Summary: "Start an upgrade",
		Description:   "Carries out a quote: charges exactly its amount once, switches the plan, provisions the dedicated node, moves the workloads, turns the features on and notifies. Answers at once; follow the progress with GET /v1/upgrades/{id} or the event stream /v1/upgrades/{id}/events.",
		DefaultStatus: http.StatusAccepted, Tags: tags},
		authAccount, func(ctx context.Context, in *createUpgradeInput) (*upgradeOutput, error) {
			ci, _ := ctx.Value(clientInfoKey{}).(clientInfo)
			body, _ := json.Marshal(in.Body)
			u, err := s.app.CreateUpgrade(ctx, principal(ctx).Account.ID, app.NewUpgrade{Quote: in.Body.Quote, PaymentMethod: in.Body.PaymentMethod,
				AcceptTerms: in.Body.AcceptTerms, IP: ci.ip, UserAgent: ci.userAgent, IdempotencyKey: in.IdempotencyKey, BodyHash: app.HashBody(body)})
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &upgradeOutput{Body: upgradeOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "list-upgrades", Method: http.MethodGet, Path: "/v1/upgrades", Summary: "List upgrades, newest first",
		Description: "The admin lists every account's upgrades; an account token lists its own. Filter by status, account and creation time; page with limit and cursor.",
		Tags:        tags},
		authAny, func(ctx context.Context, in *listUpgradesInput) (*upgradesOutput, error) {
			var bad []tierup.FieldError
			after, bad := queryTime("created_after", in.CreatedAfter, bad)
			before, bad := queryTime("created_before", in.CreatedBefore, bad)
			if len(bad) > 0 {
				return nil, s.fail(ctx, tierup.Invalid(bad...))
			}
			page, err := s.app.ListUpgrades(ctx, principal(ctx), app.UpgradeQuery{Account: in.Account, Status: in.Status,
				CreatedAfter: after, CreatedBefore: before, Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &upgradesOutput{}
			out.Body.Data, out.Body.NextCursor = upgradesOf(page.Data), page.NextCursor
			return out, nil
		})

	register(s, huma.Operation{OperationID: "get-upgrade", Method: http.MethodGet, Path: "/v1/upgrades/{id}", Summary: "An upgrade with its steps, payment, node and workloads", Tags: tags},
		authAny, func(ctx context.Context, in *idPath) (*upgradeOutput, error) {
			u, err := s.app.Upgrade(ctx, principal(ctx), in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &upgradeOutput{Body: upgradeOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "get-migration-plan", Method: http.MethodGet, Path: "/v1/upgrades/{id}/migration-plan",
		Summary:     "Dry run of an upgrade's workload migration",
		Description: "Lists, in migration order, the account's workloads that would move to the dedicated node if the migration ran now, with what would be changed on each (node selector, toleration, rollout). Nothing is changed. The plan reflects the cluster now: once the migration ran, workloads already on the dedicated node are not listed, so a completed upgrade's plan is empty. The account that owns the upgrade and the admin may read it.",
		Tags:        tags},
		authAny, func(ctx context.Context, in *idPath) (*migrationPlanOutput, error) {
			plan, err := s.app.MigrationPlan(ctx, principal(ctx), in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &migrationPlanOutput{Body: plan}, nil
		})

	register(s, huma.Operation{OperationID: "retry-payment", Method: http.MethodPost, Path: "/v1/upgrades/{id}/payment",
		Summary: "Pay again with a corrected card after a failed payment", DefaultStatus: http.StatusAccepted, Tags: tags},
		authAccount, func(ctx context.Context, in *retryPaymentInput) (*upgradeOutput, error) {
			u, err := s.app.RetryPayment(ctx, principal(ctx).Account.ID, in.ID, in.Body.PaymentMethod)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &upgradeOutput{Body: upgradeOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "retry-upgrade", Method: http.MethodPost, Path: "/v1/upgrades/{id}/retry",
		Summary: "Resume an upgrade that needs support from its failed step (admin)", DefaultStatus: http.StatusAccepted, Tags: tags},
		authAdmin, func(ctx context.Context, in *idPath) (*upgradeOutput, error) {
			u, err := s.app.RetryUpgrade(ctx, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &upgradeOutput{Body: upgradeOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "cancel-upgrade", Method: http.MethodPost, Path: "/v1/upgrades/{id}/cancel",
		Summary: "Cancel an upgrade: refund, restore the previous plan, notify (admin)", DefaultStatus: http.StatusAccepted, Tags: tags},
		authAdmin, func(ctx context.Context, in *idPath) (*upgradeOutput, error) {
			u, err := s.app.CancelUpgrade(ctx, in.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &upgradeOutput{Body: upgradeOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "upgrade-audit", Method: http.MethodGet, Path: "/v1/upgrades/{id}/audit",
		Summary: "Every transition, attempt, retry, pause, resume and admin action of an upgrade", Tags: tags},
		authAny, func(ctx context.Context, in *idPath) (*auditOutput, error) {
			evs, err := s.app.Events(ctx, principal(ctx), in.ID, 0, 10000)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &auditOutput{}
			out.Body.Data = []auditEntry{}
			for _, e := range evs {
				a := auditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: string(e.Action), Message: e.Message}
				if e.Upgrade != nil {
					a.Status = string(e.Upgrade.Status)
				}
				out.Body.Data = append(out.Body.Data, a)
			}
			return out, nil
		})

	register(s, huma.Operation{OperationID: "list-notifications", Method: http.MethodGet, Path: "/v1/notifications", Summary: "The calling account's in-app notifications", Tags: []string{"Accounts"}},
		authAccount, func(ctx context.Context, _ *struct{}) (*notificationsOutput, error) {
			ns, err := s.app.Notifications(ctx, principal(ctx).Account.ID)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &notificationsOutput{}
			out.Body.Data = ns
			return out, nil
		})

	register(s, huma.Operation{OperationID: "list-support-tickets", Method: http.MethodGet, Path: "/v1/support-tickets", Summary: "Upgrades handed to support, newest first (admin)",
		Description: "Filter by status, account and upgrade; page with limit and cursor.", Tags: []string{"Operations"}},
		authAdmin, func(ctx context.Context, in *listTicketsInput) (*ticketsOutput, error) {
			page, err := s.app.ListSupportTickets(ctx, app.TicketQuery{Account: in.Account, Upgrade: in.Upgrade, Status: in.Status,
				Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &ticketsOutput{}
			out.Body.Data, out.Body.NextCursor = page.Data, page.NextCursor
			return out, nil
		})

	s.mux.HandleFunc("GET /v1/upgrades/{id}/events", s.events)
	s.mux.HandleFunc("POST /v1/webhooks/stripe", s.stripeWebhook)

	if !s.app.Sandbox() {
		return
	}
	sb := []string{"Sandbox"}
	register(s, huma.Operation{OperationID: "inject-fault", Method: http.MethodPost, Path: "/v1/sandbox/faults", Summary: "Inject a fault (admin, sandbox)",
		Description:   "resource_shortage {count}: the next node provisionings fail. cluster_unreachable / gateway_unreachable {seconds}: cut the cluster or the payment gateway off. gateway_timeout {count}: charges go through but their answer is lost. migration_failure {count}: workload moves fail and are rolled back. migration_blocked {seconds}: the pre-flight finds a workload that cannot move. gateway_flaky {rate, modes?, seconds?}: that share of payment calls fail by timing out, answering 500, or being carried out with the answer lost.",
		DefaultStatus: http.StatusCreated, Tags: sb},
		authAdmin, func(ctx context.Context, in *faultInput) (*faultOutput, error) {
			f, err := s.app.InjectFault(ctx, tierup.FaultSpec{Kind: in.Body.Kind, Count: in.Body.Count,
				Duration: time.Duration(in.Body.Seconds) * time.Second, Rate: in.Body.Rate, Modes: in.Body.Modes})
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &faultOutput{Body: f}, nil
		})
	register(s, huma.Operation{OperationID: "list-faults", Method: http.MethodGet, Path: "/v1/sandbox/faults", Summary: "Faults in force (admin, sandbox)", Tags: sb},
		authAdmin, func(ctx context.Context, _ *struct{}) (*faultsOutput, error) {
			fs, err := s.app.Faults(ctx)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &faultsOutput{}
			out.Body.Data = fs
			return out, nil
		})
	register(s, huma.Operation{OperationID: "clear-faults", Method: http.MethodDelete, Path: "/v1/sandbox/faults", Summary: "Clear every fault: connections and capacity are back (admin, sandbox)",
		DefaultStatus: http.StatusNoContent, Tags: sb},
		authAdmin, func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			return nil, s.failIf(ctx, s.app.ClearFaults(ctx))
		})
	register(s, huma.Operation{OperationID: "sandbox-ledger", Method: http.MethodGet, Path: "/v1/sandbox/ledger", Summary: "The sandbox gateway's charges and refunds (admin, sandbox)", Tags: sb},
		authAdmin, func(ctx context.Context, _ *struct{}) (*ledgerOutput, error) {
			l, err := s.app.Ledger(ctx)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out := &ledgerOutput{}
			out.Body.Data = l
			return out, nil
		})
	register(s, huma.Operation{OperationID: "sandbox-cluster", Method: http.MethodGet, Path: "/v1/sandbox/cluster", Summary: "An account's nodes and workloads in the simulated cluster (admin, sandbox)", Tags: sb},
		authAdmin, func(ctx context.Context, in *clusterInput) (*clusterOutput, error) {
			c, err := s.app.ClusterSnapshot(ctx, in.Account)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &clusterOutput{Body: snapshotOf(c)}, nil
		})
}

// queryTime parses an optional RFC 3339 query parameter, adding a field
// error to bad when it is not one.
func queryTime(name, v string, bad []tierup.FieldError) (time.Time, []tierup.FieldError) {
	if v == "" {
		return time.Time{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, append(bad, tierup.FieldError{Location: "query." + name, Message: name + " must be an RFC 3339 time such as 2026-03-01T00:00:00Z"})
	}
	return t, bad
}

func (s *Server) failIf(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	return s.fail(ctx, err)
}

// events streams an upgrade's changes to an API client.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		token = r.URL.Query().Get("access_token") // EventSource cannot send headers
	}
	p, err := s.app.Authenticate(r.Context(), token)
	if err != nil {
		writeProblem(w, problemOf(err))
		return
	}
	streamEvents(w, r, s.app, p, r.PathValue("id"), s.log)
}

// streamEvents streams an upgrade's changes as Server-Sent Events (see
// package eventstream), each event's data the event as the API shows it.
func streamEvents(w http.ResponseWriter, r *http.Request, a *app.App, p app.Principal, id string, log *slog.Logger) {
	ctx := r.Context()
	if _, err := a.Upgrade(ctx, p, id); err != nil {
		writeProblem(w, problemOf(err))
		return
	}
	after, err := eventstream.LastEventID(r)
	if err != nil {
		writeProblem(w, newProblem(http.StatusBadRequest, "bad_request", err.Error()))
		return
	}
	stream := eventstream.Upgrade(a, p, id, log)
	stream.Payload = eventOf
	stream.Serve(w, r, after)
}

// stripeWebhook accepts Stripe's signed events. It is authenticated by the
// signature, not a token.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeProblem(w, newProblem(http.StatusRequestEntityTooLarge, "request_too_large", "the event is larger than 64 KiB"))
		return
	}
	if err := s.app.StripeWebhook(r.Context(), body, r.Header.Get("Stripe-Signature")); err != nil {
		p := problemOf(err)
		if errors.Is(err, tierup.ErrInvalid) {
			p.Status, p.Title, p.Code = http.StatusBadRequest, http.StatusText(http.StatusBadRequest), "bad_signature"
		}
		if p.Status == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "stripe webhook", "err", err)
		}
		writeProblem(w, p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"received":true}` + "\n"))
}
