// Package stripegw is the Stripe implementation of tierup.PaymentGateway.
//
// Cards never reach tierup's servers: clients tokenize them with Stripe.js
// or the mobile SDK and send the resulting pm_… ID, which tierup keeps as
// PaymentMethod.GatewayRef. A charge is a PaymentIntent created and
// confirmed in one call; a refund is a Refund of that PaymentIntent. Every
// failure Stripe reports comes back as a *tierup.PaymentError (see
// errors.go for the mapping), and webhooks are verified by ParseWebhook.
//
// The package keeps no global state: each Gateway owns its stripe.Client,
// so two gateways (live and test keys, or a test against stripe-mock) can
// run side by side.
package stripegw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/stripe/stripe-go/v84"
	"github.com/tierup/tierup"
)

// Config configures a Gateway.
type Config struct {
	// SecretKey is a Stripe secret (sk_…) or restricted (rk_…) key.
	SecretKey string
	// APIBase replaces Stripe's API URL, e.g. http://127.0.0.1:12111 for
	// stripe-mock. Empty means https://api.stripe.com.
	APIBase string
	// HTTPClient carries the API calls; nil means stripe-go's default
	// client (80 s timeout). Callers bound each call with its context.
	HTTPClient *http.Client
	// WebhookSecret is the endpoint's signing secret (whsec_…) used by
	// ParseWebhook. It may be empty when webhooks are not received.
	WebhookSecret string
	// Logger, when set, gets one line per failed Stripe call with Stripe's
	// request ID, status, type and codes — what Stripe support asks for.
	// It never gets card or billing details. nil logs nothing.
	Logger *slog.Logger
}

// Gateway charges and refunds through Stripe. It is safe for concurrent
// use.
type Gateway struct {
	client        *stripe.Client
	webhookSecret string
	log           *slog.Logger
}

var _ tierup.PaymentGateway = (*Gateway)(nil)

// New returns a Gateway for cfg.
func New(cfg Config) (*Gateway, error) {
	key := strings.TrimSpace(cfg.SecretKey)
	switch {
	case key == "":
		return nil, errors.New("stripegw: SecretKey is required")
	case strings.HasPrefix(key, "pk_"):
		// A publishable key cannot create charges; failing here beats a 401
		// on the first customer's upgrade.
		return nil, errors.New("stripegw: SecretKey is a publishable key (pk_…); use a secret (sk_…) or restricted (rk_…) key")
	}
	bc := &stripe.BackendConfig{
		HTTPClient: cfg.HTTPClient,
		// No network retries inside stripe-go: the upgrade workflow owns
		// retries (backoff, attempt limits, the same idempotency key) and
		// sees every failure. The library's default of 2 retries would sleep
		// inside our call, multiply attempts behind the workflow's back and
		// turn an unreachable gateway into a slow one.
		MaxNetworkRetries: stripe.Int64(0),
		// stripe-go logs failed requests to stderr by default; errors are
		// returned to the caller instead, and logged through cfg.Logger.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIBase != "" {
		u, err := url.Parse(cfg.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("stripegw: APIBase %q is not an http(s) URL", cfg.APIBase)
		}
		bc.URL = stripe.String(cfg.APIBase)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gateway{
		client:        stripe.NewClient(key, stripe.WithBackends(stripe.NewBackendsWithConfig(bc))),
		webhookSecret: cfg.WebhookSecret,
		log:           log,
	}, nil
}

// Name returns "stripe".
func (g *Gateway) Name() string { return "stripe" }

// TokenizeCard always fails with code "tokenization_unsupported": with
// Stripe, raw card numbers must go from the client straight to Stripe, so
// tierup stays out of PCI scope.
func (g *Gateway) TokenizeCard(context.Context, tierup.Card) (string, error) {
	return "", &tierup.PaymentError{
		Code:    CodeTokenizationUnsupported,
		Message: "Card details can't be sent to tierup directly: send a Stripe pm_… ID created with Stripe.js or the mobile SDK instead.",
	}
}

// Charge creates and confirms a card PaymentIntent for req.Amount. The
// returned Charge.ID is the PaymentIntent ID, which Refund takes back.
//
// A card whose bank asks for 3-D Secure leaves the PaymentIntent in
// requires_action: the Charge says so, with the next action for the
// customer's client — Stripe's redirect when Stripe gives one, otherwise
// use_stripe_sdk with the client secret, for Stripe.js
// (stripe.handleNextAction) or the mobile SDK. req.ReturnURL is where a
// redirect comes back to. Read the PaymentIntent again with LookupCharge.
// Input that can never succeed (no payment method, no idempotency key, an
// amount Stripe cannot represent) is a plain error, not a PaymentError,
// and nothing is sent.
func (g *Gateway) Charge(ctx context.Context, req tierup.ChargeRequest) (*tierup.Charge, error) {
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, err
	}
	if req.PaymentMethod == nil || req.PaymentMethod.GatewayRef == "" {
		return nil, errors.New("stripegw: charge needs a payment method with a Stripe pm_… reference")
	}
	amount, currency, err := stripeAmount(req.Amount)
	if err != nil {
		return nil, err
	}
	params := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(amount),
		Currency:           stripe.String(currency),
		PaymentMethod:      stripe.String(req.PaymentMethod.GatewayRef),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		Confirm:            stripe.Bool(true),
	}
	if req.ReturnURL != "" {
		params.ReturnURL = stripe.String(req.ReturnURL)
	}
	if req.Customer != "" {
		params.Customer = stripe.String(req.Customer)
	}
	if req.Description != "" {
		params.Description = stripe.String(req.Description)
	}
	if len(req.Metadata) > 0 {
		params.Metadata = make(map[string]string, len(req.Metadata))
		for k, v := range req.Metadata {
			params.Metadata[k] = v
		}
	}
	params.SetIdempotencyKey(req.IdempotencyKey)

	pi, err := g.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return nil, g.mapError(ctx, "charge", err)
	}
	if pi.Status == stripe.PaymentIntentStatusCanceled {
		return nil, intentError(pi) // nobody canceled it yet: it failed
	}
	return g.chargeOf(ctx, pi, req.Amount)
}

// LookupCharge reads the PaymentIntent id again: after the customer's
// authentication, or when a webhook says it changed (the event is only a
// hint; the PaymentIntent as it is now decides).
func (g *Gateway) LookupCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	pi, err := g.client.V1PaymentIntents.Retrieve(ctx, id, nil)
	if err != nil {
		return nil, g.mapError(ctx, "lookup", err)
	}
	return g.chargeOf(ctx, pi, tierup.Money{})
}

// CancelCharge cancels the PaymentIntent id, which waits for the
// customer's authentication. When it can no longer be canceled (the
// customer authenticated meanwhile, or it was canceled already), it is
// read again and returned as it is.
func (g *Gateway) CancelCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	params := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(string(stripe.PaymentIntentCancellationReasonAbandoned))}
	params.SetIdempotencyKey("tierup:cancel:" + id)
	pi, err := g.client.V1PaymentIntents.Cancel(ctx, id, params)
	var se *stripe.Error
	if errors.As(err, &se) && se.Code == stripe.ErrorCodePaymentIntentUnexpectedState {
		return g.LookupCharge(ctx, id)
	}
	if err != nil {
		return nil, g.mapError(ctx, "cancel", err)
	}
	return g.chargeOf(ctx, pi, tierup.Money{})
}

// chargeOf maps a PaymentIntent to a Charge or a *PaymentError. amount is
// what was asked for, or zero to take the PaymentIntent's own.
func (g *Gateway) chargeOf(ctx context.Context, pi *stripe.PaymentIntent, amount tierup.Money) (*tierup.Charge, error) {
	if amount.Currency == "" {
		amount = fromStripeAmount(pi.Amount, pi.Currency)
	}
	c := &tierup.Charge{ID: pi.ID, Amount: amount}
	switch pi.Status {
	case stripe.PaymentIntentStatusRequiresAction:
		c.Status, c.NextAction = tierup.ChargeRequiresAction, nextAction(pi)
		return c, nil
	case stripe.PaymentIntentStatusCanceled:
		c.Status = tierup.ChargeCanceled
		return c, nil
	}
	if perr := intentError(pi); perr != nil {
		g.log.WarnContext(ctx, "stripe charge not completed",
			"payment_intent", pi.ID, "status", string(pi.Status), "code", perr.Code, "decline_code", perr.DeclineCode)
		return nil, perr
	}
	c.Status = tierup.ChargeSucceeded
	return c, nil
}

// nextAction is what the customer's client does to authenticate.
func nextAction(pi *stripe.PaymentIntent) *tierup.NextAction {
	if na := pi.NextAction; na != nil && na.RedirectToURL != nil && na.RedirectToURL.URL != "" {
		return &tierup.NextAction{Type: tierup.NextActionRedirect, URL: na.RedirectToURL.URL}
	}
	return &tierup.NextAction{Type: tierup.NextActionStripeSDK, ClientSecret: pi.ClientSecret}
}

// Refund refunds req.Amount of the PaymentIntent req.ChargeID. A refund
// Stripe reports as pending counts as done: Stripe has accepted it and
// card refunds complete on their own; only failed or canceled refunds are
// errors.
func (g *Gateway) Refund(ctx context.Context, req tierup.RefundRequest) (*tierup.Refund, error) {
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return nil, err
	}
	if req.ChargeID == "" {
		return nil, errors.New("stripegw: refund needs the charge's PaymentIntent ID")
	}
	// An explicit amount, always: Stripe refunds everything when it is
	// missing, which must never happen by accident.
	amount, _, err := stripeAmount(req.Amount)
	if err != nil {
		return nil, err
	}
	params := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(req.ChargeID),
		Amount:        stripe.Int64(amount),
	}
	if req.Reason != "" {
		switch r := stripe.RefundReason(req.Reason); r {
		case stripe.RefundReasonDuplicate, stripe.RefundReasonFraudulent, stripe.RefundReasonRequestedByCustomer:
			params.Reason = stripe.String(string(r))
		}
		// Stripe's reason is a short enum; the full text goes to metadata
		// (values are limited to 500 characters).
		params.Metadata = map[string]string{"reason": truncate(req.Reason, 500)}
	}
	params.SetIdempotencyKey(req.IdempotencyKey)

	re, err := g.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return nil, g.mapError(ctx, "refund", err)
	}
	switch re.Status {
	case stripe.RefundStatusSucceeded, stripe.RefundStatusPending:
	default:
		g.log.WarnContext(ctx, "stripe refund not completed",
			"refund", re.ID, "status", string(re.Status), "failure_reason", string(re.FailureReason))
		return nil, &tierup.PaymentError{
			Code:    CodeRefundFailed,
			Message: "The refund couldn't be completed. Contact support so we can return the money another way.",
		}
	}
	return &tierup.Refund{ID: re.ID, ChargeID: req.ChargeID, Amount: req.Amount}, nil
}

// checkIdempotencyKey refuses requests without a usable key: stripe-go
// would silently generate a random one, and a retry would then charge
// twice.
func checkIdempotencyKey(key string) error {
	switch k := strings.TrimSpace(key); {
	case k == "":
		return errors.New("stripegw: an idempotency key is required")
	case len(k) > 255:
		return errors.New("stripegw: idempotency key longer than Stripe's 255 characters")
	}
	return nil
}

// stripeAmount converts m to Stripe's amount and lower-case currency code.
//
// Stripe mostly uses ISO 4217 minor units like tierup, with exceptions that
// would otherwise charge the wrong amount: ISK is zero-decimal in ISO 4217
// but Stripe still takes it with two decimals (100 = 1 króna), and Stripe
// accepts three-decimal amounts only for BHD, JOD, KWD, OMR and TND, and
// only when they end in 0. Currencies tierup gives an exponent Stripe may
// not share are refused rather than guessed; money is never rounded here.
func stripeAmount(m tierup.Money) (int64, string, error) {
	if m.Amount <= 0 {
		return 0, "", fmt.Errorf("stripegw: amount must be positive, got %s", m)
	}
	exp, ok := m.Currency.Exponent()
	if !ok {
		return 0, "", fmt.Errorf("stripegw: unknown currency %q", m.Currency)
	}
	cur := strings.ToLower(string(m.Currency))
	switch {
	case m.Currency == "ISK":
		if m.Amount > math.MaxInt64/100 {
			return 0, "", fmt.Errorf("stripegw: %s is out of range", m)
		}
		return m.Amount * 100, cur, nil
	case exp == 3:
		switch m.Currency {
		case "BHD", "JOD", "KWD", "OMR", "TND":
		default:
			return 0, "", fmt.Errorf("stripegw: Stripe does not take %s amounts with three decimals", m.Currency)
		}
		if m.Amount%10 != 0 {
			return 0, "", fmt.Errorf("stripegw: Stripe takes %s amounts in whole hundredths only (last digit 0), got %s", m.Currency, m)
		}
	case exp > 3:
		return 0, "", fmt.Errorf("stripegw: Stripe does not take %s amounts with %d decimals", m.Currency, exp)
	}
	return m.Amount, cur, nil
}

// fromStripeAmount is the inverse of stripeAmount, for amounts Stripe
// reports.
func fromStripeAmount(amount int64, currency stripe.Currency) tierup.Money {
	m := tierup.Money{Amount: amount, Currency: tierup.Currency(strings.ToUpper(string(currency)))}
	if m.Currency == "ISK" {
		m.Amount /= 100
	}
	return m
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
