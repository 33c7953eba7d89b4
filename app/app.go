// Package app holds tierup's use cases — authenticate, open accounts,
// quote upgrades, start and steer them, sign in to the dashboard, drive
// sandbox test clocks — on top of the domain and its store. The HTTP API,
// the CLI and the dashboard all call this package, so each business rule
// has exactly one implementation. It imports no adapter: New takes every
// part it drives as an interface (Deps).
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tierup/tierup"
)

// Config is the behaviour an operator chooses.
type Config struct {
	Policy     tierup.Policy // proration policy for new quotes
	QuoteTTL   time.Duration // how long a quote can be accepted; 30 minutes when zero
	Sandbox    bool          // enables test clocks and the other sandbox features
	AdminToken string        // fixed admin token; when empty one is generated and only its hash kept

	LoginLinkTTL   time.Duration // how long an unused dashboard login link works; 24 hours when zero
	SessionTTL     time.Duration // how long a dashboard session lasts; 7 days when zero
	IdempotencyTTL time.Duration // how long an Idempotency-Key replays its first answer; 24 hours when zero (like Stripe)
	SweepEvery     time.Duration // how often RunSweeper deletes what expired; 1 minute when zero
	// StepAttempts is how many automatic attempts a failing step gets
	// (the workflow's), for "attempt 2 of 5"; tierup.DefaultStepAttempts
	// when zero.
	StepAttempts int
	// Retention is how long expired sessions, sign-in links, idempotency
	// keys and webhook event IDs are kept (tierup.DefaultRetention for
	// unset fields).
	Retention tierup.Retention
	// CredentialRefresh bounds how long a token replaced or a session
	// ended by another process is still accepted here: how often the
	// cache of credentials checks the store's AuthVersion. 1 second when
	// zero; negative turns the cache off. Changes made by this process
	// take effect at once.
	CredentialRefresh time.Duration
}

// DefaultConfig returns the defaults of Config's unset fields; the CLI
// shows them in its flags.
func DefaultConfig() Config {
	return Config{Policy: tierup.PolicyCarryover, QuoteTTL: 30 * time.Minute, LoginLinkTTL: 24 * time.Hour,
		SessionTTL: 7 * 24 * time.Hour, IdempotencyTTL: 24 * time.Hour, SweepEvery: time.Minute, CredentialRefresh: time.Second}
}

// withDefaults fills in the unset fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.QuoteTTL, &d.QuoteTTL}, {&c.LoginLinkTTL, &d.LoginLinkTTL}, {&c.SessionTTL, &d.SessionTTL},
		{&c.IdempotencyTTL, &d.IdempotencyTTL}, {&c.SweepEvery, &d.SweepEvery},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if c.Policy == "" {
		c.Policy = d.Policy
	}
	if c.StepAttempts <= 0 {
		c.StepAttempts = tierup.DefaultStepAttempts
	}
	if c.CredentialRefresh == 0 {
		c.CredentialRefresh = d.CredentialRefresh
	}
	c.Retention = c.Retention.WithDefaults()
	return c
}

// Engine is the upgrade workflow, as the use cases drive it
// (*workflow.Engine).
type Engine interface {
	// Create stores a new upgrade, its first event and its first job in tx;
	// q and pm are the upgrade's quote and card as the caller read them.
	Create(ctx context.Context, tx tierup.Store, u *tierup.Upgrade, q *tierup.Quote, pm *tierup.PaymentMethod, actor string) error
	// Retry resumes an upgrade that needs support.
	Retry(ctx context.Context, id, actor string) (*tierup.Upgrade, error)
	// Cancel compensates an active upgrade.
	Cancel(ctx context.Context, id, actor string) (*tierup.Upgrade, error)
	// CheckPayment makes a payment awaiting the customer's authentication
	// read its charge now.
	CheckPayment(ctx context.Context, id string) error
	// RetryPayment pays again with pm after a decline.
	RetryPayment(ctx context.Context, id string, pm *tierup.PaymentMethod, actor string) (*tierup.Upgrade, error)
	// Subscribe wakes the caller when this process changes the upgrade.
	Subscribe(upgradeID string) (<-chan struct{}, func())
	// Publish wakes the subscribers after a committed change.
	Publish(upgradeID string)
}

// Deps are the parts the use cases drive. Store, Catalog, Clock, Log,
// Keys, Engine, Gateway and Cluster are required; the rest are optional.
type Deps struct {
	Store   tierup.Store
	Catalog *tierup.Catalog
	Clock   tierup.Clock
	Log     *slog.Logger
	Keys    *Keys // from LoadKeys
	Engine  Engine
	Gateway tierup.PaymentGateway
	Cluster tierup.Cluster // read for migration plans
	// Faults, Ledger and Sim are the sandbox's; without one its admin
	// routes answer sandbox_disabled.
	Faults tierup.FaultInjector
	Ledger tierup.Ledger
	Sim    tierup.ClusterInspector
	// Authenticator is the sandbox gateway's 3-D Secure challenge page.
	Authenticator tierup.Authenticator
	// Webhooks verifies the gateway's webhooks; without it they answer
	// not_found.
	Webhooks tierup.WebhookVerifier
	// Schema and Worker are what readiness checks besides the store:
	// without one, its check fails, so that a half-wired process never
	// reports ready.
	Schema Schema
	Worker Worker
}

func (d Deps) check() error {
	return tierup.MissingDeps("app", map[string]bool{"Store": d.Store != nil, "Catalog": d.Catalog != nil, "Clock": d.Clock != nil,
		"Log": d.Log != nil, "Keys": d.Keys != nil, "Engine": d.Engine != nil, "Gateway": d.Gateway != nil, "Cluster": d.Cluster != nil})
}

// App runs the use cases. It is safe for concurrent use.
type App struct {
	deps      Deps
	store     tierup.Store
	catalog   *tierup.Catalog
	clock     tierup.Clock
	log       *slog.Logger
	cfg       Config
	adminHash []byte
	creds     *credentials // nil when turned off
	// draining is set by Drain: the process is shutting down, and says so
	// to readiness probes before it stops taking requests.
	draining atomic.Bool
}

// Bootstrap reports what New created on an empty database.
type Bootstrap struct {
	// AdminToken is set only when New generated the admin token: it is
	// shown this once and never stored.
	AdminToken string
}

const (
	// secretLegacyQuoteKey is where the database kept the quote key before
	// the master secret; only read, to verify the quotes it signed.
	secretLegacyQuoteKey = "quote_signing_key"
	secretAdminHash      = "admin_token_sha256"
)

// Keys sign quotes and fingerprint cards, each with its own key derived
// from the master secret, which never enters the database.
type Keys struct {
	ring *tierup.Keyring
	// legacyQuote verifies the quotes signed before the master secret,
	// with the key the database kept then; nil on a database that never
	// had one. It signs nothing.
	legacyQuote []byte
}

// LoadKeys builds the keys from the master secret ring and the store's
// legacy quote key, if it has one. Errors: the store's.
func LoadKeys(ctx context.Context, store tierup.Store, ring *tierup.Keyring) (*Keys, error) {
	legacy, err := store.Secret(ctx, secretLegacyQuoteKey)
	if err != nil && !errors.Is(err, tierup.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", secretLegacyQuoteKey, err)
	}
	return &Keys{ring: ring, legacyQuote: legacy}, nil
}

// SigningKey implements tierup.QuoteKeys.
func (k *Keys) SigningKey() (string, []byte) {
	return k.ring.KeyID(), k.ring.Key(tierup.PurposeQuoteSignatures)
}

// VerifyingKey implements tierup.QuoteKeys.
func (k *Keys) VerifyingKey(id string) ([]byte, bool) {
	if id == "" {
		return k.legacyQuote, k.legacyQuote != nil
	}
	return k.ring.KeyByID(tierup.PurposeQuoteSignatures, id)
}

// VerifyQuote reports whether the quote's signature matches its content.
func (k *Keys) VerifyQuote(q *tierup.Quote) bool { return q.VerifyWith(k) }

func (k *Keys) cardKey() []byte { return k.ring.Key(tierup.PurposeCardFingerprints) }

// secretHashes are what a dashboard session ID or sign-in token is stored
// and looked up under: HMAC-SHA256 under the sessions key of each secret
// of the ring, the current one first. Keyed, so that someone who can write
// to the database but lacks the master secret cannot add a session that
// works; every secret of the ring, so that a rotation signs nobody out.
func (k *Keys) secretHashes(secret string) [][]byte {
	keys := k.ring.Keys(tierup.PurposeSessions)
	out := make([][]byte, len(keys))
	for i, key := range keys {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(secret))
		out[i] = m.Sum(nil)
	}
	return out
}

// secretHash is the hash a new session or sign-in token is stored under.
func (k *Keys) secretHash(secret string) []byte { return k.secretHashes(secret)[0] }

// New returns the App. Errors: a missing required dependency.
func New(d Deps, cfg Config) (*App, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &App{deps: d, store: d.Store, catalog: d.Catalog, clock: d.Clock, log: d.Log, cfg: cfg,
		creds: newCredentials(d.Store.AuthVersion, cfg.CredentialRefresh)}, nil
}

// EnsureAdminToken readies admin authentication for a server: the
// configured token, or else the stored one, or else — on the very first
// start — a new one, returned (only then) so it can be shown once. Only
// its hash is stored.
func (a *App) EnsureAdminToken(ctx context.Context) (Bootstrap, error) {
	if a.cfg.AdminToken != "" {
		a.adminHash = tierup.HashToken(a.cfg.AdminToken)
		return Bootstrap{}, nil
	}
	token, hash := tierup.NewToken("tu_admin")
	stored, created, err := a.store.PutSecretIfAbsent(ctx, secretAdminHash, hash)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("admin token: %w", err)
	}
	a.adminHash = stored
	if !created {
		token = ""
	}
	return Bootstrap{AdminToken: token}, nil
}

// Store returns the store.
func (a *App) Store() tierup.Store { return a.store }

// Catalog returns the plan catalog.
func (a *App) Catalog() *tierup.Catalog { return a.catalog }

// QuoteTTL is how long a new quote can be accepted.
func (a *App) QuoteTTL() time.Duration { return a.cfg.QuoteTTL }

// Sandbox reports whether sandbox features are enabled.
func (a *App) Sandbox() bool { return a.cfg.Sandbox }

// Principal is who is calling: the admin, or one account.
type Principal struct {
	Admin bool
	// Account is the calling account by its ID alone: a use case reads
	// the rest when it needs it, current then.
	Account *tierup.Account
}

// sees reports whether the principal may read an object of the account:
// the admin reads any, an account only its own.
func (p Principal) sees(accountID string) bool {
	return p.Admin || (p.Account != nil && p.Account.ID == accountID)
}

// Authenticate resolves an API token. Errors: CodeUnauthenticated.
func (a *App) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, tierup.Errorf(tierup.CodeUnauthenticated, "send an API token as \"Authorization: Bearer <token>\"")
	}
	h := tierup.HashToken(token)
	if subtle.ConstantTimeCompare(h, a.adminHash) == 1 {
		return Principal{Admin: true}, nil
	}
	if id, ok := a.creds.account(ctx, key(h)); ok {
		return Principal{Account: &tierup.Account{ID: id}}, nil
	}
	gen := a.creds.generation()
	acct, err := a.store.AccountByTokenHash(ctx, h)
	if errors.Is(err, tierup.ErrNotFound) {
		return Principal{}, tierup.Errorf(tierup.CodeUnauthenticated, "the API token is not valid")
	}
	if err != nil {
		return Principal{}, err
	}
	a.creds.putAccount(gen, key(h), acct.ID)
	return Principal{Account: &tierup.Account{ID: acct.ID}}, nil
}

// Now returns the account's "now": its test clock's time when it has one,
// else the server clock's, truncated to the second.
func (a *App) Now(ctx context.Context, acct *tierup.Account) (time.Time, error) {
	if acct.TestClockID != "" {
		c, err := a.store.TestClock(ctx, acct.TestClockID)
		if err != nil {
			return time.Time{}, fmt.Errorf("account %s test clock: %w", acct.ID, err)
		}
		return c.FrozenTime, nil
	}
	return a.clock.Now().UTC().Truncate(time.Second), nil
}

// Ping checks that the store answers.
func (a *App) Ping(ctx context.Context) error {
	_, err := a.store.CountAccounts(ctx)
	return err
}

// accountNow loads an account with its current time.
func (a *App) accountNow(ctx context.Context, id string) (*tierup.Account, time.Time, error) {
	acct, err := a.store.Account(ctx, id)
	if err != nil {
		return nil, time.Time{}, err
	}
	now, err := a.Now(ctx, acct)
	return acct, now, err
}
