package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tierup/tierup"
)

// TermsVersion is the version of the terms of service an upgrade must
// accept; the text is served by Terms.
const TermsVersion = "2026-11-01"

const termsText = `tierup Terms of Service, version 2026-11-01.

1. Paid plans are billed in advance for their whole period, at the price shown in your quote.
2. When you upgrade, what happens to the time left on your current plan is stated in your quote before you pay; it is applied exactly as quoted.
3. A dedicated node is provisioned for paid plans; your workloads are moved to it in phases, without downtime where the workload allows.
4. If an upgrade cannot be completed, our support team finishes it or cancels it and refunds the charge in full.
5. The uptime guarantee of your plan applies from the moment the upgrade completes.`

// maxFailedPaymentsPerHour stops card testing: declined attempts per
// account in the last hour.
const maxFailedPaymentsPerHour = 5

// Terms returns the current terms of service.
func (a *App) Terms() (version, text string) { return TermsVersion, termsText }

// CreatePaymentMethod validates a card, tokenizes it with the gateway and
// attaches it to the account's customer there (created with the first
// card), so it can be charged again. The number and CVC go no further than the gateway; tierup keeps brand,
// last 4, expiry and a keyed fingerprint. Errors: CodeInvalidCard with
// each bad field.
func (a *App) CreatePaymentMethod(ctx context.Context, accountID string, card tierup.Card) (*tierup.PaymentMethod, error) {
	acct, now, err := a.accountNow(ctx, accountID)
	if err != nil {
		return nil, err
	}
	brand, err := tierup.ValidateCard(card, now, acct.Location())
	if err != nil {
		return nil, err
	}
	ref, err := a.deps.Gateway.TokenizeCard(ctx, card)
	if err != nil {
		return nil, tokenizeProblem(err)
	}
	number := tierup.NormalizeCardNumber(card.Number)
	pm := &tierup.PaymentMethod{ID: tierup.NewID("pm"), AccountID: acct.ID, Brand: brand, Last4: tierup.Last4(number),
		ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, Name: card.Name, Fingerprint: tierup.CardFingerprint(a.deps.Keys.cardKey(), number),
		GatewayRef: ref, CreatedAt: cardTime(a.clock)}
	if err := a.saveCard(ctx, acct, pm); err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "payment method created", "account", acct.ID, "payment_method", pm.ID, "brand", pm.Brand, "last4", pm.Last4)
	return pm, nil
}

// RegisterPaymentMethod records a card the client tokenized with the
// gateway itself (a Stripe pm_… from Stripe.js or the mobile SDK) and
// attaches it to the account's customer there. Errors: CodeInvalidCard
// when the gateway does not know it or takes raw cards.
func (a *App) RegisterPaymentMethod(ctx context.Context, accountID, ref string) (*tierup.PaymentMethod, error) {
	acct, err := a.store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	d, ok := a.deps.Gateway.(tierup.CardDescriber)
	if !ok {
		return nil, tierup.Invalid(tierup.FieldError{Location: "body.stripe_payment_method",
			Message: "the " + a.deps.Gateway.Name() + " gateway takes the card itself: send \"card\" instead"})
	}
	desc, err := d.DescribeCard(ctx, ref)
	if err != nil {
		return nil, paymentProblem(err)
	}
	pm := &tierup.PaymentMethod{ID: tierup.NewID("pm"), AccountID: accountID, Brand: desc.Brand, Last4: desc.Last4,
		ExpMonth: desc.ExpMonth, ExpYear: desc.ExpYear, Name: desc.Name, Fingerprint: desc.Fingerprint, GatewayRef: ref,
		CreatedAt: cardTime(a.clock)}
	if err := a.saveCard(ctx, acct, pm); err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "payment method registered", "account", accountID, "payment_method", pm.ID, "brand", pm.Brand, "last4", pm.Last4)
	return pm, nil
}

// paymentProblem turns a gateway refusal into a domain error a client can
// act on. Only a refusal of the card itself is CodeInvalidCard (422): an
// unreachable gateway, and a transient failure that is no fault of the
// card (processing error, timeout, rate limit: Retryable), are
// CodeGatewayUnavailable (503), the closest code that says "try the same
// card again later". Other errors are returned as they are.
func paymentProblem(err error) error {
	var pe *tierup.PaymentError
	switch {
	case !errors.As(err, &pe):
		return err
	case pe.Unavailable || pe.Retryable:
		return tierup.Errorf(tierup.CodeGatewayUnavailable, "%s", pe.Message)
	}
	return tierup.Errorf(tierup.CodeInvalidCard, "%s", pe.Message)
}

// tokenizeProblem is paymentProblem for a card the gateway refused to
// tokenize: a refusal of the number itself (the sandbox's, of a number that
// is not a test card) names body.card.number, like ValidateCard's errors,
// so that a form shows it at the field to change.
func tokenizeProblem(err error) error {
	var pe *tierup.PaymentError
	if errors.As(err, &pe) && pe.Code == tierup.PayCodeTestCardsOnly {
		return &tierup.Error{Code: tierup.CodeInvalidCard, Message: pe.Message,
			Fields: []tierup.FieldError{{Location: "body.card.number", Message: pe.Message}}}
	}
	return paymentProblem(err)
}

// NewUpgrade is a request to run an upgrade.
type NewUpgrade struct {
	Quote          string
	PaymentMethod  string
	AcceptTerms    string
	IP, UserAgent  string
	IdempotencyKey string // optional; the same key and body give the first answer
	BodyHash       string // what the idempotency key is bound to
}

// CreateUpgrade checks the quote, the card and the terms and starts the
// workflow. The account's single upgrade slot and the quote's single use
// are enforced by the database, so concurrent requests start one upgrade.
//
// Errors: CodeNotFound (quote), CodeQuoteInvalid, CodeQuoteExpired,
// CodeQuoteUsed, CodeUpgradeInProgress, CodeTermsNotAccepted,
// CodeInvalid (payment method), CodeTooManyPaymentAttempts,
// CodeIdempotencyKeyReused.
func (a *App) CreateUpgrade(ctx context.Context, accountID string, in NewUpgrade) (*tierup.Upgrade, error) {
	if in.IdempotencyKey != "" {
		if u, err := a.replay(ctx, accountID, in); u != nil || err != nil {
			return u, err
		}
	}
	acct, now, err := a.accountNow(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if in.AcceptTerms != TermsVersion {
		return nil, &tierup.Error{Code: tierup.CodeTermsNotAccepted,
			Message: fmt.Sprintf("accept the terms of service, version %s (GET /v1/terms), by sending \"accept_terms\": %q", TermsVersion, TermsVersion),
			Fields:  []tierup.FieldError{{Location: "body.accept_terms", Message: "must be the current terms version " + TermsVersion}}}
	}
	if err := a.checkPaymentRate(ctx, accountID); err != nil {
		return nil, err
	}
	q, err := a.store.Quote(ctx, in.Quote)
	if err != nil && !errors.Is(err, tierup.ErrNotFound) {
		return nil, err // the store failed: not the client's fault
	}
	if err != nil || q.AccountID != accountID {
		return nil, tierup.Errorf(tierup.CodeNotFound, "quote %s not found", in.Quote)
	}
	switch {
	case !a.VerifyQuote(q):
		return nil, tierup.Errorf(tierup.CodeQuoteInvalid, "quote %s does not carry a valid signature; ask for a new quote", q.ID)
	case q.Expired(now):
		return nil, tierup.Errorf(tierup.CodeQuoteExpired, "quote %s expired at %s; ask for a new quote (POST /v1/quotes) to see today's figures", q.ID, q.ExpiresAt.Format(time.RFC3339))
	case acct.Subscription.PlanID != q.FromPlan || !periodMatches(q, acct.Subscription):
		return nil, tierup.Errorf(tierup.CodeQuoteInvalid, "your subscription changed since quote %s; ask for a new quote", q.ID)
	}
	if err := a.creditStillThere(ctx, q); err != nil {
		return nil, err
	}
	to, err := a.catalog.Plan(q.ToPlan)
	if err != nil {
		return nil, err
	}
	pf, err := a.Preflight(ctx, accountID, to)
	if err != nil {
		return nil, err
	}
	if err := pf.Err(); err != nil {
		return nil, err // nothing is charged for a move that cannot succeed
	}
	pm, err := a.ownPaymentMethod(ctx, accountID, in.PaymentMethod)
	if err != nil {
		return nil, err
	}
	u := tierup.NewUpgrade(tierup.NewID("upg"), q, pm, tierup.TermsAcceptance{Version: in.AcceptTerms, AcceptedAt: now, IP: in.IP, UserAgent: in.UserAgent},
		a.clock.Now().UTC().Truncate(time.Second))
	err = a.store.InTx(ctx, func(tx tierup.Store) error {
		if err := a.deps.Engine.Create(ctx, tx, u, q, pm, accountID); err != nil {
			return err
		}
		if in.IdempotencyKey == "" {
			return nil
		}
		created := a.clock.Now().UTC()
		return tx.CreateIdempotencyKey(ctx, &tierup.IdempotencyKey{AccountID: accountID, Key: in.IdempotencyKey, BodyHash: in.BodyHash,
			UpgradeID: u.ID, Upgrade: u, CreatedAt: created, ExpiresAt: created.Add(a.cfg.IdempotencyTTL)})
	})
	if err != nil && in.IdempotencyKey != "" {
		// A concurrent request with the same key may have won the account's
		// slot or the quote: answer as it was answered.
		if u, rerr := a.replay(ctx, accountID, in); u != nil || rerr != nil {
			return u, rerr
		}
	}
	if err != nil {
		return nil, err
	}
	a.deps.Engine.Publish(u.ID)
	return u, nil
}

// replay answers a repeated Idempotency-Key with the first response, for
// Config.IdempotencyTTL after it. Errors: CodeIdempotencyKeyReused.
func (a *App) replay(ctx context.Context, accountID string, in NewUpgrade) (*tierup.Upgrade, error) {
	k, err := a.store.IdempotencyKey(ctx, accountID, in.IdempotencyKey, a.clock.Now().UTC())
	if errors.Is(err, tierup.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if k.BodyHash != in.BodyHash {
		return nil, tierup.Errorf(tierup.CodeIdempotencyKeyReused, "the Idempotency-Key %q was already used with a different request body", in.IdempotencyKey)
	}
	return k.Upgrade, nil
}

// HashBody fingerprints a request body for idempotency keys.
func HashBody(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func periodMatches(q *tierup.Quote, s tierup.Subscription) bool {
	if q.CurrentPeriod == nil {
		return !s.Paid() || q.RemainingSeconds == 0
	}
	return q.CurrentPeriod.End.Equal(s.PeriodEnd)
}

func (a *App) ownPaymentMethod(ctx context.Context, accountID, id string) (*tierup.PaymentMethod, error) {
	pm, err := a.store.PaymentMethod(ctx, id)
	if err != nil && !errors.Is(err, tierup.ErrNotFound) {
		return nil, err
	}
	if err != nil || pm.AccountID != accountID || pm.DeletedAt != nil {
		return nil, tierup.Invalid(tierup.FieldError{Location: "body.payment_method",
			Message: fmt.Sprintf("there is no payment method %q on this account; create one with POST /v1/payment-methods", id)})
	}
	return pm, nil
}

func (a *App) checkPaymentRate(ctx context.Context, accountID string) error {
	n, err := a.store.CountEvents(ctx, accountID, tierup.ActionPaymentFailed, a.clock.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	if n >= maxFailedPaymentsPerHour {
		return tierup.Errorf(tierup.CodeTooManyPaymentAttempts, "%d payments failed in the last hour; to protect your account, try again later", n)
	}
	return nil
}

// RetryPayment continues an upgrade whose payment failed with another card.
func (a *App) RetryPayment(ctx context.Context, accountID, upgradeID, paymentMethod string) (*tierup.Upgrade, error) {
	if _, err := a.Upgrade(ctx, Principal{Account: &tierup.Account{ID: accountID}}, upgradeID); err != nil {
		return nil, err
	}
	if err := a.checkPaymentRate(ctx, accountID); err != nil {
		return nil, err
	}
	pm, err := a.ownPaymentMethod(ctx, accountID, paymentMethod)
	if err != nil {
		return nil, err
	}
	return a.deps.Engine.RetryPayment(ctx, upgradeID, pm, accountID)
}

// Upgrade returns an upgrade its account or the admin may see.
func (a *App) Upgrade(ctx context.Context, p Principal, id string) (*tierup.Upgrade, error) {
	u, err := a.store.Upgrade(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.sees(u.AccountID) {
		return nil, tierup.Errorf(tierup.CodeNotFound, "upgrade %s not found", id)
	}
	return u, nil
}

// MigrationPlan is the dry run of an upgrade's workload migration: the
// workloads that would move to the dedicated node now, in migration order,
// and what would change on each.
type MigrationPlan struct {
	UpgradeID string               `json:"upgrade"`
	AccountID string               `json:"account"`
	Status    tierup.UpgradeStatus `json:"status" enum:"processing,payment_action_required,payment_failed,paused,needs_support,completed,canceled" doc:"The upgrade's status when the plan was made."`
	Moves     []tierup.PlannedMove `json:"moves" doc:"In migration order; empty when every workload already runs on a dedicated node."`
	Preflight *tierup.Preflight    `json:"preflight" doc:"Whether the moves can succeed now, and the zone the dedicated nodes must be in."`
	// DedicatedNodes is how many nodes the upgrade's plan provisions, and
	// Nodes those it has, once all are ready.
	DedicatedNodes int      `json:"dedicated_nodes" doc:"How many dedicated nodes the upgrade's plan provisions; the workloads are spread over them."`
	Nodes          []string `json:"nodes" doc:"The upgrade's dedicated nodes, by name, once all are ready; empty before."`
	Warnings       []string `json:"warnings,omitempty" doc:"What the cluster cannot do for the upgrade, e.g. keep workloads deployed after the move on the dedicated node (Kubernetes before 1.36)."`
}

// MigrationPlan returns what the migration of an upgrade's workloads would
// do if it ran now, changing nothing. The same principals as for Upgrade
// may ask, with the same errors: another account's upgrade is not found.
// The plan reflects the cluster as it is now, not the upgrade's history:
// for an upgrade whose migration already ran, the workloads already on the
// dedicated node are not listed (a completed upgrade's plan is empty), and
// a workload a cancel returned to the shared pool is listed again.
// Errors: CodeNotFound, CodeClusterUnreachable.
func (a *App) MigrationPlan(ctx context.Context, p Principal, upgradeID string) (*MigrationPlan, error) {
	u, err := a.Upgrade(ctx, p, upgradeID)
	if err != nil {
		return nil, err
	}
	moves, err := a.planMigration(ctx, u.AccountID)
	if err != nil {
		return nil, err
	}
	warnings, err := a.ClusterWarnings(ctx)
	if err != nil {
		return nil, err
	}
	plan, _ := a.Catalog().Plan(u.ToPlan) // gone from the catalog: the nodes it has, and no pre-flight
	var pf *tierup.Preflight
	if plan != nil {
		if pf, err = a.Preflight(ctx, u.AccountID, plan); err != nil {
			return nil, err
		}
	}
	return &MigrationPlan{UpgradeID: u.ID, AccountID: u.AccountID, Status: u.Status, Moves: moves, Preflight: pf,
		DedicatedNodes: u.NodeCount(plan), Nodes: u.NodeNames(), Warnings: warnings}, nil
}

// ClusterWarnings says what the cluster cannot do for an upgrade; none for
// a cluster without limits (the simulated one).
// Errors: CodeClusterUnreachable.
func (a *App) ClusterWarnings(ctx context.Context) ([]string, error) {
	if w, ok := a.deps.Cluster.(tierup.ClusterWarnings); ok {
		return w.Warnings(ctx)
	}
	return nil, nil
}

// AccountMigrationPlan returns, in migration order, the account's
// workloads that a migration would move to a dedicated node now and the
// changes each would get. It changes nothing (operators and the CLI).
// Errors: CodeNotFound (account), CodeClusterUnreachable.
func (a *App) AccountMigrationPlan(ctx context.Context, accountID string) ([]tierup.PlannedMove, error) {
	if _, err := a.store.Account(ctx, accountID); err != nil {
		return nil, err
	}
	return a.planMigration(ctx, accountID)
}

// AccountPreflight is the pre-flight of an account's move to dedicated
// nodes now, for operators and the CLI: changing nothing.
// Errors: CodeNotFound (account), CodeClusterUnreachable.
func (a *App) AccountPreflight(ctx context.Context, accountID string) (*tierup.Preflight, error) {
	if _, err := a.store.Account(ctx, accountID); err != nil {
		return nil, err
	}
	return a.deps.Cluster.Preflight(ctx, accountID, nil)
}

// planMigration asks the cluster for the plan; the list is never nil.
func (a *App) planMigration(ctx context.Context, accountID string) ([]tierup.PlannedMove, error) {
	moves, err := a.deps.Cluster.PlanMigration(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if moves == nil {
		moves = []tierup.PlannedMove{}
	}
	return moves, nil
}

// Upgrades lists an account's upgrades, newest first.
func (a *App) Upgrades(ctx context.Context, accountID string) ([]*tierup.Upgrade, error) {
	us, err := a.store.Upgrades(ctx, accountID)
	if us == nil {
		us = []*tierup.Upgrade{}
	}
	return us, err
}

// Events returns an upgrade's events after seq (the audit log, and the
// feed of the live progress stream).
func (a *App) Events(ctx context.Context, p Principal, id string, after int64, limit int) ([]*tierup.UpgradeEvent, error) {
	if _, err := a.Upgrade(ctx, p, id); err != nil {
		return nil, err
	}
	return a.store.Events(ctx, id, after, limit)
}

// Subscribe wakes the caller when this process changes the upgrade.
func (a *App) Subscribe(id string) (<-chan struct{}, func()) { return a.deps.Engine.Subscribe(id) }

// RetryUpgrade is the admin's retry of an upgrade that needs support.
func (a *App) RetryUpgrade(ctx context.Context, id string) (*tierup.Upgrade, error) {
	return a.deps.Engine.Retry(ctx, id, "admin")
}

// CancelUpgrade is the admin's cancel: refund and restore.
func (a *App) CancelUpgrade(ctx context.Context, id string) (*tierup.Upgrade, error) {
	return a.deps.Engine.Cancel(ctx, id, "admin")
}

// Notifications lists the account's in-app notifications.
func (a *App) Notifications(ctx context.Context, accountID string) ([]*tierup.Notification, error) {
	ns, err := a.store.Notifications(ctx, accountID)
	if ns == nil {
		ns = []*tierup.Notification{}
	}
	return ns, err
}

// SupportTickets lists the support tickets (admin).
func (a *App) SupportTickets(ctx context.Context) ([]*tierup.SupportTicket, error) {
	ts, err := a.store.SupportTickets(ctx)
	if ts == nil {
		ts = []*tierup.SupportTicket{}
	}
	return ts, err
}

// InjectFault sets a sandbox fault (admin, sandbox). Errors:
// CodeSandboxDisabled, and the FaultInjector's.
func (a *App) InjectFault(ctx context.Context, spec tierup.FaultSpec) (*tierup.Fault, error) {
	if err := a.requireFaults(); err != nil {
		return nil, err
	}
	return a.deps.Faults.Inject(ctx, spec)
}

// ClearFaults removes every sandbox fault (admin, sandbox).
func (a *App) ClearFaults(ctx context.Context) error {
	if err := a.requireFaults(); err != nil {
		return err
	}
	for _, k := range a.deps.Faults.Kinds() {
		if err := a.deps.Faults.Clear(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Faults lists the sandbox faults in force (admin, sandbox).
func (a *App) Faults(ctx context.Context) ([]tierup.Fault, error) {
	if err := a.requireFaults(); err != nil {
		return nil, err
	}
	return a.deps.Faults.List(ctx)
}

// requireFaults refuses fault injection outside the sandbox.
func (a *App) requireFaults() error {
	if err := a.requireSandbox(); err != nil {
		return err
	}
	if a.deps.Faults == nil {
		return tierup.Errorf(tierup.CodeSandboxDisabled, "fault injection is not available in this configuration")
	}
	return nil
}

// Ledger lists the sandbox gateway's charges and refunds (admin, sandbox).
func (a *App) Ledger(ctx context.Context) ([]*tierup.LedgerEntry, error) {
	if err := a.requireSandbox(); err != nil || a.deps.Ledger == nil {
		return nil, tierup.Errorf(tierup.CodeSandboxDisabled, "the sandbox ledger exists only with the sandbox gateway in sandbox mode")
	}
	return a.deps.Ledger.Ledger(ctx)
}

// ClusterSnapshot shows an account's slice of the simulated cluster (admin,
// sandbox).
func (a *App) ClusterSnapshot(ctx context.Context, accountID string) (*tierup.ClusterSnapshot, error) {
	if err := a.requireSandbox(); err != nil || a.deps.Sim == nil {
		return nil, tierup.Errorf(tierup.CodeSandboxDisabled, "the simulated cluster exists only with --cluster sim in sandbox mode")
	}
	if _, err := a.store.Account(ctx, accountID); err != nil {
		return nil, err
	}
	return a.deps.Sim.Snapshot(ctx, accountID)
}

// StripeWebhook verifies a Stripe event and records it in the audit log
// of the upgrade it concerns. A payment_intent.* event makes a payment
// that waits for 3-D Secure read its PaymentIntent now (CheckPayment):
// the PaymentIntent as Stripe has it then decides, never the event, so
// events arriving late or out of order cannot move an upgrade backwards.
// Each event is processed once: its ID is remembered in the transaction
// that writes the audit entry, so a retry or a signed request replayed
// within the signature's tolerance is acknowledged and changes nothing.
// Errors: CodeNotFound without the stripe gateway; CodeInvalid for a bad
// signature.
func (a *App) StripeWebhook(ctx context.Context, payload []byte, signature string) error {
	if a.deps.Webhooks == nil || a.deps.Webhooks.Name() != "stripe" {
		return tierup.Errorf(tierup.CodeNotFound, "Stripe webhooks are only accepted with --payment-gateway stripe")
	}
	ev, err := a.deps.Webhooks.ParseWebhook(payload, signature, a.clock.Now())
	if err != nil {
		return tierup.Invalid(tierup.FieldError{Location: "header.Stripe-Signature", Message: err.Error()})
	}
	a.log.InfoContext(ctx, "stripe webhook", "event", ev.ID, "type", ev.Type, "payment_intent", ev.PaymentIntentID, "status", ev.Status)
	id := ev.Metadata["upgrade"]
	if id == "" {
		return nil // nothing to act on, so nothing to remember either
	}
	first := false
	err = a.store.InTx(ctx, func(tx tierup.Store) error {
		now := a.clock.Now().UTC()
		var err error
		if first, err = tx.RecordWebhookEvent(ctx, a.deps.Webhooks.Name(), ev.ID, now); err != nil {
			return err
		}
		if !first {
			a.log.InfoContext(ctx, "stripe webhook already processed: ignored", "event", ev.ID)
			return nil
		}
		u, err := tx.Upgrade(ctx, id)
		if errors.Is(err, tierup.ErrNotFound) {
			return nil // not ours, or gone: nothing to reconcile
		}
		if err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &tierup.UpgradeEvent{UpgradeID: id, Actor: "stripe", Action: tierup.GatewayAction("stripe", ev.Type),
			Message: fmt.Sprintf("Stripe reported %s for %s (%s)", ev.Type, ev.PaymentIntentID, ev.Status), At: now, Upgrade: u})
	})
	if err != nil || !first || !strings.HasPrefix(ev.Type, "payment_intent.") {
		return err
	}
	// After the commit: the event is acknowledged even if this fails, and
	// the step's own periodic check reads the PaymentIntent anyway.
	if err := a.deps.Engine.CheckPayment(ctx, id); err != nil && !errors.Is(err, tierup.ErrNotFound) {
		a.log.WarnContext(ctx, "stripe webhook: payment check not scheduled", "upgrade", id, "event", ev.ID, "err", err)
	}
	return nil
}

// PaymentChallenge returns the sandbox's 3-D Secure challenge of a charge.
// Errors: CodeNotFound (also outside the sandbox and for a wrong secret).
func (a *App) PaymentChallenge(ctx context.Context, id, secret string) (*tierup.PaymentChallenge, error) {
	if a.deps.Authenticator == nil {
		return nil, tierup.Errorf(tierup.CodeNotFound, "the test authentication page exists only with the sandbox gateway")
	}
	return a.deps.Authenticator.Challenge(ctx, id, secret)
}

// AnswerPaymentChallenge records the customer's answer on the sandbox's
// challenge page and makes the waiting payment read its charge at once.
// Errors: as PaymentChallenge.
func (a *App) AnswerPaymentChallenge(ctx context.Context, id, secret string, ok bool) (*tierup.PaymentChallenge, error) {
	if a.deps.Authenticator == nil {
		return nil, tierup.Errorf(tierup.CodeNotFound, "the test authentication page exists only with the sandbox gateway")
	}
	c, err := a.deps.Authenticator.Authenticate(ctx, id, secret, ok)
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(ctx, "sandbox 3-D Secure answered", "charge", id, "upgrade", c.UpgradeID, "completed", ok)
	if c.UpgradeID != "" {
		if err := a.deps.Engine.CheckPayment(ctx, c.UpgradeID); err != nil && !errors.Is(err, tierup.ErrNotFound) {
			return nil, err
		}
	}
	return c, nil
}

// creditStillThere refuses a quote whose account credit another upgrade
// spent since it was made, before any upgrade starts; the workflow checks
// again when it takes the credit.
func (a *App) creditStillThere(ctx context.Context, q *tierup.Quote) error {
	if q.CreditApplied == nil {
		return nil
	}
	entries, err := a.store.CreditEntries(ctx, q.AccountID)
	if err != nil {
		return err
	}
	return tierup.CheckCredit(entries, q, "")
}
