package tierup

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Card is raw card data as a client sends it. It exists only in memory on
// its way to the gateway: never store it, log it or put it in an error.
type Card struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
	Name     string
}

// String keeps card data out of logs and messages even when a Card is
// printed by mistake.
func (c Card) String() string { return "card(redacted)" }

// GoString does the same for %#v.
func (c Card) GoString() string { return "card(redacted)" }

// LogValue does the same for log/slog.
func (c Card) LogValue() slog.Value { return slog.StringValue("card(redacted)") }

// MarshalJSON does the same for JSON.
func (c Card) MarshalJSON() ([]byte, error) { return []byte(`"card(redacted)"`), nil }

// PaymentMethod is a card as tierup keeps it: brand, last 4 digits, expiry
// and a keyed fingerprint — never the number or the CVC.
type PaymentMethod struct {
	ID          string
	AccountID   string
	Brand       string
	Last4       string
	ExpMonth    int
	ExpYear     int
	Name        string
	Fingerprint string // HMAC-SHA256 of the number under a server key: spots the same card twice
	GatewayRef  string // what the gateway charges: its own payment-method or token ID
	CreatedAt   time.Time

	// Customer is the gateway customer the card is attached to, so it can
	// be charged again; empty for cards saved before customers existed,
	// which the gateway may charge only once.
	Customer string
	// DeletedAt is set once the owner removed the card: it is detached at
	// the gateway and never charged again, but past upgrades still show it.
	DeletedAt *time.Time
}

// ChargeRequest asks a gateway to take money once.
type ChargeRequest struct {
	// IdempotencyKey is derived from stable IDs (upgrade and attempt): a
	// retry with the same key and parameters returns the first result and
	// never charges twice; the same key with other parameters fails with
	// PaymentError code "idempotency_key_reused".
	IdempotencyKey string
	Amount         Money
	PaymentMethod  *PaymentMethod
	Description    string
	Metadata       map[string]string // upgrade and quote IDs
	// ReturnURL is where the customer's browser comes back to after
	// authenticating the payment with their bank (3-D Secure).
	ReturnURL string

	// Customer is the gateway customer PaymentMethod is attached to
	// (PaymentMethod.Customer); empty for a card that has none.
	Customer string
}

// ChargeStatus is where a charge stands.
type ChargeStatus string

// Charge statuses. A charge the card refused is a *PaymentError, not a
// status.
const (
	ChargeSucceeded ChargeStatus = "succeeded"
	// ChargeRequiresAction: the customer must authenticate with their bank
	// (3-D Secure) before the money moves; Charge.NextAction says how.
	ChargeRequiresAction ChargeStatus = "requires_action"
	// ChargeCanceled: abandoned before the customer authenticated; no
	// money moved.
	ChargeCanceled ChargeStatus = "canceled"
)

// Next action types, as Stripe names them.
const (
	// NextActionRedirect: send the customer's browser to NextAction.URL,
	// the bank's (or the sandbox's) authentication page.
	NextActionRedirect = "redirect_to_url"
	// NextActionStripeSDK: Stripe.js (stripe.handleNextAction) or the
	// mobile SDK authenticates with NextAction.ClientSecret.
	NextActionStripeSDK = "use_stripe_sdk"
)

// NextAction is how the customer's client completes a charge that
// requires action.
type NextAction struct {
	Type         string
	URL          string // for redirect_to_url
	ClientSecret string // for use_stripe_sdk: the PaymentIntent's client secret
}

// Charge is a charge the gateway accepted: succeeded, or awaiting the
// customer's authentication (requires_action) under ID.
type Charge struct {
	ID         string       `json:"id"`
	Amount     Money        `json:"amount"`
	Status     ChargeStatus `json:"status"`
	NextAction *NextAction  `json:"-"`
}

// RefundRequest gives a charge's money back. IdempotencyKey works as for
// charges.
type RefundRequest struct {
	IdempotencyKey string
	ChargeID       string
	Amount         Money
	Reason         string
}

// Refund is a completed refund.
type Refund struct {
	ID       string `json:"id"`
	ChargeID string `json:"charge_id"`
	Amount   Money  `json:"amount"`
}

// PaymentGateway takes and returns money.
//
// Charge and Refund return a *PaymentError for every failure the gateway
// reports: declines (not Retryable), transient processing errors and
// timeouts (Retryable: retry with the same key), and an unreachable gateway
// (Unavailable: the upgrade pauses until it is back).
type PaymentGateway interface {
	// Name is "sandbox" or "stripe".
	Name() string
	// TokenizeCard hands a validated card to the gateway and returns the
	// reference to charge later. Gateways whose clients tokenize cards
	// themselves (Stripe.js) return a PaymentError with code
	// "tokenization_unsupported".
	TokenizeCard(ctx context.Context, card Card) (ref string, err error)
	// Charge takes req.Amount once per idempotency key. A card that needs
	// the customer's authentication returns a Charge with status
	// requires_action: read it again with LookupCharge once the customer
	// acted (a new Charge with the same key replays the first answer).
	Charge(ctx context.Context, req ChargeRequest) (*Charge, error)
	// LookupCharge reads a charge again: succeeded, still requires_action,
	// or the *PaymentError of a card refused after authentication (or of a
	// failed authentication, code PayCodeAuthenticationFailed).
	// Errors: a *PaymentError with PayCodeResourceMissing for an unknown ID.
	LookupCharge(ctx context.Context, id string) (*Charge, error)
	// CancelCharge abandons a charge awaiting authentication, so that a
	// late authentication cannot take the money, and returns it as it
	// ended: canceled, or succeeded when the customer authenticated first.
	// Canceling again returns the same. Errors as LookupCharge.
	CancelCharge(ctx context.Context, id string) (*Charge, error)
	// Refund returns a charge's money once per idempotency key.
	Refund(ctx context.Context, req RefundRequest) (*Refund, error)

	// EnsureCustomer returns the gateway's customer for req.AccountID,
	// creating it the first time: a second call with the same
	// IdempotencyKey returns the same customer, so two concurrent card
	// additions make one. Errors: *PaymentError as for Charge.
	EnsureCustomer(ctx context.Context, req CustomerRequest) (ref string, err error)
	// AttachPaymentMethod attaches the card ref (from TokenizeCard or the
	// client) to customer so that it can be charged more than once. A card
	// already attached to this customer is no error. Errors: *PaymentError
	// with code "resource_missing" for an unknown card or customer,
	// "invalid_request" for a card attached to another customer, else as
	// for Charge.
	AttachPaymentMethod(ctx context.Context, ref, customer string) error
	// DetachPaymentMethod detaches the card ref from its customer: it can
	// never be charged again. A card that is already detached or unknown is
	// no error, so a retried delete succeeds. Errors: *PaymentError as for
	// Charge.
	DetachPaymentMethod(ctx context.Context, ref string) error
}

// CustomerRequest asks a gateway for the customer of one account.
type CustomerRequest struct {
	// IdempotencyKey is CustomerKey(AccountID): the gateway answers every
	// request with it with the customer the first one created.
	IdempotencyKey string
	AccountID      string
	Email          string
	Name           string
}

// CustomerKey is the idempotency key of an account's gateway customer,
// derived from the account ID alone so that every process asks for the
// same one.
func CustomerKey(accountID string) string { return "tierup:customer:" + accountID }

// PaymentCode is a gateway's machine-readable reason for a failed payment.
// Gateways set one of the constants below; the Stripe gateway passes
// Stripe's own card and request codes through as they are, so readers
// switch on the constants they handle and treat the rest by
// PaymentError's Retryable and Unavailable.
type PaymentCode string

// Payment failure codes the gateways produce.
const (
	// Card refusals, with a DeclineCode for card_declined.
	PayCodeCardDeclined           PaymentCode = "card_declined"
	PayCodeExpiredCard            PaymentCode = "expired_card"
	PayCodeIncorrectCVC           PaymentCode = "incorrect_cvc"
	PayCodeAuthenticationRequired PaymentCode = "authentication_required"               // 3-D Secure, which a server-side charge cannot do
	PayCodeAuthenticationFailed   PaymentCode = "payment_intent_authentication_failure" // the customer failed or refused 3-D Secure
	PayCodeAuthenticationExpired  PaymentCode = "authentication_expired"                // not authenticated in time: abandoned, nothing charged
	PayCodePaymentFailed          PaymentCode = "payment_failed"                        // ended unpaid without a card error to explain it
	// Transient failures: Retryable with the same idempotency key.
	PayCodeProcessingError     PaymentCode = "processing_error"
	PayCodeTimeout             PaymentCode = "timeout"
	PayCodeRateLimited         PaymentCode = "rate_limited"
	PayCodeIdempotencyKeyInUse PaymentCode = "idempotency_key_in_use"
	PayCodePaymentPending      PaymentCode = "payment_pending"
	// The gateway cannot be used: Unavailable (and Retryable).
	PayCodeGatewayUnavailable   PaymentCode = "gateway_unavailable"
	PayCodeGatewayMisconfigured PaymentCode = "gateway_misconfigured"
	// Requests retrying cannot help.
	PayCodeIdempotencyKeyReused     PaymentCode = "idempotency_key_reused"
	PayCodeInvalidRequest           PaymentCode = "invalid_request"
	PayCodeResourceMissing          PaymentCode = "resource_missing"
	PayCodeInvalidRefund            PaymentCode = "invalid_refund"
	PayCodeRefundFailed             PaymentCode = "refund_failed"
	PayCodeTokenizationUnsupported  PaymentCode = "tokenization_unsupported"
	PayCodeUnsupportedCard          PaymentCode = "unsupported_card"
	PayCodeUnsupportedPaymentMethod PaymentCode = "unsupported_payment_method"
	// The sandbox refuses a number that is not one of its test cards, as
	// Stripe's test mode refuses real cards.
	PayCodeTestCardsOnly PaymentCode = "test_cards_only"
)

// PaymentError is a failure reported by a payment gateway.
type PaymentError struct {
	Code        PaymentCode
	DeclineCode string // for card_declined: generic_decline, insufficient_funds, …
	Message     string // for the card holder, in plain words
	Retryable   bool   // try again with the same idempotency key
	Unavailable bool   // the gateway could not be reached
	// OutcomeUnknown: the request may have been carried out although no
	// answer says so (a time-out, a 5xx, a dropped connection): money may
	// have moved. Only asking again with the same idempotency key tells, so
	// such a payment is never given up as unpaid.
	OutcomeUnknown bool
}

func (e *PaymentError) Error() string {
	if e.DeclineCode != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.DeclineCode, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// CardDescriber is a gateway whose clients tokenize cards themselves (with
// Stripe.js or a mobile SDK): it reads back the brand, last 4, expiry and
// fingerprint of a reference the client sends.
type CardDescriber interface {
	DescribeCard(ctx context.Context, ref string) (*PaymentMethod, error)
}
