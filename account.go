package tierup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
)

// Account is a customer of the PaaS. Its API token is never stored: only
// its SHA-256 hash is, in the store.
type Account struct {
	ID           string
	Email        string
	Name         string
	TimeZone     string // IANA name; "UTC" by default
	TestClockID  string // sandbox only: the account's "now" comes from this test clock
	Subscription Subscription
	Usage        Usage
	CreatedAt    time.Time
}

// Location returns the account's time zone, UTC if it cannot be loaded.
func (a *Account) Location() *time.Location {
	loc, err := time.LoadLocation(a.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Subscription is the plan an account is on. A free plan has no period.
type Subscription struct {
	PlanID      string
	PeriodStart time.Time // zero for a free plan
	PeriodEnd   time.Time // zero for a free plan
}

// Subscription statuses.
const (
	StatusActive  = "active"
	StatusExpired = "expired"
)

// Paid reports whether the subscription has a billing period.
func (s Subscription) Paid() bool { return !s.PeriodEnd.IsZero() }

// Status is "active" for a free plan or a period that has not ended, else
// "expired".
func (s Subscription) Status(now time.Time) string {
	if s.Paid() && !now.Before(s.PeriodEnd) {
		return StatusExpired
	}
	return StatusActive
}

// Remaining is the time left in the current period, exact to the second
// (sub-second parts are dropped, never rounded up); 0 for a free or ended
// plan.
func (s Subscription) Remaining(now time.Time) time.Duration {
	if !s.Paid() || !now.Before(s.PeriodEnd) {
		return 0
	}
	return s.PeriodEnd.Sub(now).Truncate(time.Second)
}

// Usage is what an account currently consumes.
type Usage struct {
	Functions int64 `json:"functions"`
	CronJobs  int64 `json:"cronjobs"`
	StorageMB int64 `json:"storage_mb" doc:"Storage used, in MB (1 GB = 1000 MB)."`
}

// TestClock is a sandbox clock, like Stripe's: accounts attached to it see
// FrozenTime as "now" everywhere, and it only moves forward.
type TestClock struct {
	ID         string    `json:"id"`
	FrozenTime time.Time `json:"frozen_time"`
	CreatedAt  time.Time `json:"created_at"`
}

// Store keeps accounts, quotes, test clocks and server secrets. Every
// method returns an error wrapping ErrNotFound when the object is missing.
type Store interface {
	// CreateAccount stores a new account with the hash of its API token.
	// Errors: ErrEmailTaken.
	CreateAccount(ctx context.Context, a *Account, tokenHash []byte) error
	// Account returns the account with the given ID.
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByTokenHash returns the account whose token hashes to h.
	AccountByTokenHash(ctx context.Context, h []byte) (*Account, error)
	// SetAccountTokenHash replaces the account's token.
	SetAccountTokenHash(ctx context.Context, id string, h []byte) error
	// CountAccounts returns how many accounts exist.
	CountAccounts(ctx context.Context) (int, error)
	// CreateQuote stores a sealed quote. Quotes are immutable.
	CreateQuote(ctx context.Context, q *Quote) error
	// Quote returns the quote with the given ID.
	Quote(ctx context.Context, id string) (*Quote, error)
	// CreateTestClock stores a new test clock.
	CreateTestClock(ctx context.Context, c *TestClock) error
	// TestClock returns the test clock with the given ID.
	TestClock(ctx context.Context, id string) (*TestClock, error)
	// AdvanceTestClock moves the clock to t. Errors: ErrClockNotForward
	// when t is not after the clock's current time.
	AdvanceTestClock(ctx context.Context, id string, t time.Time) (*TestClock, error)
	// PutSecretIfAbsent stores value under name unless a value is already
	// there, and returns the stored value and whether it was this call's.
	PutSecretIfAbsent(ctx context.Context, name string, value []byte) (stored []byte, created bool, err error)
	// Close releases the store's connections.
	Close() error
}

// NewID returns a random identifier with the given prefix, e.g. "acct_…".
func NewID(prefix string) string {
	return prefix + "_" + randomString(16)
}

// NewToken returns a new random API token and its hash for storage.
func NewToken(prefix string) (token string, hash []byte) {
	token = prefix + "_" + randomString(32)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 hash under which a token is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	return strings.ToLower(s[:n])
}
