// Package app holds tierup's use cases — authenticate, open accounts,
// quote upgrades, drive sandbox test clocks — on top of the domain and its
// store. The HTTP API, the CLI and the dashboard all call this package, so
// each business rule has exactly one implementation.
package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tierup/tierup"
)

// Config is the behaviour an operator chooses.
type Config struct {
	Policy     tierup.Policy // proration policy for new quotes
	QuoteTTL   time.Duration // how long a quote can be accepted; 30 minutes when zero
	Sandbox    bool          // enables test clocks and the other sandbox features
	AdminToken string        // fixed admin token; when empty one is generated and only its hash kept
}

// App runs the use cases. It is safe for concurrent use.
type App struct {
	store     tierup.Store
	catalog   *tierup.Catalog
	clock     tierup.Clock
	log       *slog.Logger
	cfg       Config
	quoteKey  []byte
	cardKey   []byte // keys card fingerprints
	adminHash []byte
	up        Upgrades
}

// Bootstrap reports what New created on an empty database.
type Bootstrap struct {
	// AdminToken is set only when New generated the admin token: it is
	// shown this once and never stored.
	AdminToken string
}

const (
	secretQuoteKey  = "quote_signing_key"
	secretCardKey   = "card_fingerprint_key"
	secretAdminHash = "admin_token_sha256"
)

// New loads (or, on first start, creates) the keys that sign quotes and
// fingerprint cards, and returns the App.
func New(ctx context.Context, store tierup.Store, catalog *tierup.Catalog, clock tierup.Clock, log *slog.Logger, cfg Config) (*App, error) {
	if cfg.QuoteTTL <= 0 {
		cfg.QuoteTTL = 30 * time.Minute
	}
	if cfg.Policy == "" {
		cfg.Policy = tierup.PolicyCarryover
	}
	a := &App{store: store, catalog: catalog, clock: clock, log: log, cfg: cfg}

	for name, dst := range map[string]*[]byte{secretQuoteKey: &a.quoteKey, secretCardKey: &a.cardKey} {
		stored, _, err := store.PutSecretIfAbsent(ctx, name, newKey())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		*dst = stored
	}

	return a, nil
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
	Admin   bool
	Account *tierup.Account
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
	acct, err := a.store.AccountByTokenHash(ctx, h)
	if errors.Is(err, tierup.ErrNotFound) {
		return Principal{}, tierup.Errorf(tierup.CodeUnauthenticated, "the API token is not valid")
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{Account: acct}, nil
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
