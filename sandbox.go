package tierup

import (
	"context"
	"time"
)

// What the sandbox and the gateways' webhooks offer the use cases. Each
// is optional: without it the matching routes answer sandbox_disabled or
// not_found.

// Fault is one injected fault of the sandbox.
type Fault struct {
	Kind      string     `json:"kind"`
	Remaining int        `json:"remaining,omitempty" doc:"Calls left to fail (count faults)."`
	Until     *time.Time `json:"until,omitempty" doc:"The fault lasts until then (time faults; gateway_flaky when given seconds)."`
	// Rate and Modes are gateway_flaky's: the share of gateway calls that
	// fail, and the ways they fail.
	Rate  float64  `json:"rate,omitempty" doc:"gateway_flaky: the share of the gateway's calls that fail."`
	Modes []string `json:"modes,omitempty" doc:"gateway_flaky: how they fail."`
}

// FaultSpec is a fault to inject. Count-based kinds take Count, time-based
// kinds Duration; gateway_flaky takes Rate, Modes (every mode when empty)
// and an optional Duration (until cleared when zero).
type FaultSpec struct {
	Kind     string
	Count    int
	Duration time.Duration
	Rate     float64
	Modes    []string
}

// FaultInjector sets and lists the sandbox's faults.
type FaultInjector interface {
	// Inject sets a fault, replacing one of the same kind. Errors:
	// CodeInvalid for an unknown kind, or a count, duration, rate or mode
	// the kind does not take.
	Inject(ctx context.Context, spec FaultSpec) (*Fault, error)
	// Clear removes the fault of that kind, if any.
	Clear(ctx context.Context, kind string) error
	// List returns the faults in force.
	List(ctx context.Context) ([]Fault, error)
	// Kinds lists every kind of fault.
	Kinds() []string
}

// LedgerEntry is one line of the sandbox gateway's ledger.
type LedgerEntry struct {
	Kind           string            `json:"kind"` // charge or refund
	ID             string            `json:"id"`
	IdempotencyKey string            `json:"idempotency_key"`
	RequestHash    string            `json:"request_hash"`
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	Ref            string            `json:"ref,omitempty"`       // payment method charged
	ChargeID       string            `json:"charge_id,omitempty"` // refunded charge
	Code           string            `json:"code,omitempty"`      // empty when it succeeded
	DeclineCode    string            `json:"decline_code,omitempty"`
	Message        string            `json:"message,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	// Status is requires_action while a charge waits for the customer's
	// 3-D Secure authentication, canceled when it was abandoned, and empty
	// once it ended (Code says how).
	Status ChargeStatus `json:"status,omitempty"`
	// Secret is in the challenge page's URL, so that only the customer the
	// charge's next action was given to can authenticate it.
	Secret    string `json:"secret,omitempty"`
	ReturnURL string `json:"return_url,omitempty"`
}

// Money is the entry's amount.
func (e *LedgerEntry) Money() Money { return Money{Amount: e.Amount, Currency: Currency(e.Currency)} }

// Succeeded reports whether the entry moved money.
func (e *LedgerEntry) Succeeded() bool { return e.Code == "" && e.Status == "" }

// Ledger lists what a sandbox gateway charged and refunded.
type Ledger interface {
	Ledger(ctx context.Context) ([]*LedgerEntry, error)
}

// SandboxChallengePath is where the dashboard serves the sandbox's 3-D
// Secure challenge page: SandboxChallengePath + charge ID + "?secret=…".
const SandboxChallengePath = "/sandbox/authenticate/"

// PaymentChallenge is a charge awaiting the customer's 3-D Secure
// authentication on the sandbox's own challenge page.
type PaymentChallenge struct {
	ID        string
	Amount    Money
	Status    ChargeStatus // requires_action until the customer answered
	ReturnURL string       // where the customer goes back to
	UpgradeID string
}

// Authenticator is the sandbox gateway's test challenge page: what
// Stripe's test page does for its 3-D Secure test cards.
type Authenticator interface {
	// Challenge returns the charge that id and secret name.
	// Errors: ErrNotFound, also for a wrong secret.
	Challenge(ctx context.Context, id, secret string) (*PaymentChallenge, error)
	// Authenticate records the customer's answer: completed (ok) or
	// failed. Answering a charge that already ended changes nothing.
	// Errors: as Challenge.
	Authenticate(ctx context.Context, id, secret string, ok bool) (*PaymentChallenge, error)
}

// ClusterSnapshot is an account's slice of the simulated cluster.
type ClusterSnapshot struct {
	Workloads []Workload `json:"workloads"`
	Nodes     []Node     `json:"nodes"`
	Features  string     `json:"features,omitempty"`
}

// ClusterInspector shows the simulated cluster.
type ClusterInspector interface {
	// Snapshot returns the account's state without changing it.
	Snapshot(ctx context.Context, accountID string) (*ClusterSnapshot, error)
}

// GatewayEvent is what tierup needs from a payment gateway's webhook
// event.
type GatewayEvent struct {
	ID   string // evt_…
	Type string // e.g. payment_intent.succeeded, charge.refunded
	// PaymentIntentID is the charge the event is about (Charge.ID), for
	// payment and refund events; empty for other types.
	PaymentIntentID string
	// Status is the charge's status as the gateway words it (succeeded,
	// processing, refunded, …).
	Status string
	// Metadata is the ChargeRequest.Metadata, so that an event can be traced
	// to its upgrade even when Charge never returned an ID.
	Metadata map[string]string
}

// WebhookVerifier checks a gateway's signed webhook and reads its event.
type WebhookVerifier interface {
	// Gateway names the gateway, as PaymentGateway.Name.
	Name() string
	// ParseWebhook verifies payload against the signature header at now.
	// Errors: a bad or expired signature.
	ParseWebhook(payload []byte, signature string, now time.Time) (GatewayEvent, error)
}
