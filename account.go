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
	// EntitlementsPlan is the plan whose limits and features are on; it
	// trails Subscription.PlanID while an upgrade turns the features on.
	EntitlementsPlan string
	Usage            Usage
	CreatedAt        time.Time
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
	// Value is what the current period cost: the money and account credit
	// paid for it, plus the previous plan's unused value it took over,
	// less what went to the credit ledger (see Quote.PeriodValue). The
	// next upgrade prorates it, not the list price, so that consecutive
	// upgrades credit what was paid. Zero (no currency) for a free plan
	// and for subscriptions stored before it was kept: those are worth
	// their plan's price.
	Value Money
}

// ValueOn is the subscription's Value, or plan's price when it has none.
func (s Subscription) ValueOn(plan *Plan) Money {
	if s.Value.Currency == "" {
		return plan.Price
	}
	return s.Value
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

// QuoteBasis is what a quote is priced from, read at one moment.
type QuoteBasis struct {
	Account *Account
	// ActiveUpgrade is the ID of the account's upgrade in an active status
	// ("" for none) and ActiveStatus its status.
	ActiveUpgrade string
	ActiveStatus  UpgradeStatus
	// Credit is the account's credit balance in the currency asked for.
	Credit Money
}

// Store keeps accounts, quotes, test clocks and server secrets. Every
// method returns an error wrapping ErrNotFound when the object is missing.
type Store interface {
	// CreateAccount stores a new account with the hash of its API token.
	// Errors: ErrEmailTaken.
	CreateAccount(ctx context.Context, a *Account, tokenHash []byte) error
	// Account returns the account with the given ID.
	Account(ctx context.Context, id string) (*Account, error)
	// QuoteBasis returns what a quote of the account is priced from, in
	// one read: the account, its upgrade under way, and its credit
	// balance in currency c.
	QuoteBasis(ctx context.Context, accountID string, c Currency) (*QuoteBasis, error)
	// AccountByTokenHash returns the account whose token hashes to h.
	AccountByTokenHash(ctx context.Context, h []byte) (*Account, error)
	// SetAccountTokenHash replaces the account's token, and raises
	// AuthVersion in the same transaction.
	SetAccountTokenHash(ctx context.Context, id string, h []byte) error
	// AuthVersion is a number that changes whenever a token is replaced
	// or a session deleted, by any process: what tells a cache of
	// credentials to forget them.
	AuthVersion(ctx context.Context) (int64, error)
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
	// Secret returns the stored value under name. Errors: ErrNotFound.
	Secret(ctx context.Context, name string) ([]byte, error)
	// SetSubscription replaces the account's plan, period and its value.
	SetSubscription(ctx context.Context, accountID string, s Subscription) error
	// SetEntitlementsPlan sets the plan whose limits and entitlements the
	// account enjoys; they follow the subscription's plan until set.
	SetEntitlementsPlan(ctx context.Context, accountID, planID string) error

	// AddCreditEntry appends e to its account's credit ledger unless the
	// ledger has an entry of e's kind for e's upgrade (the database
	// enforces one), and reports whether it was appended. Entries are
	// never changed or deleted.
	AddCreditEntry(ctx context.Context, e *CreditEntry) (added bool, err error)
	// CreditEntries lists an account's credit ledger, newest first.
	CreditEntries(ctx context.Context, accountID string) ([]CreditEntry, error)

	// CreatePaymentMethod stores a tokenized card.
	CreatePaymentMethod(ctx context.Context, pm *PaymentMethod) error
	// PaymentMethod returns a stored card, deleted ones included (their
	// DeletedAt is set): past upgrades still show them.
	PaymentMethod(ctx context.Context, id string) (*PaymentMethod, error)
	// PaymentMethods lists the account's cards that are not deleted,
	// newest first.
	PaymentMethods(ctx context.Context, accountID string) ([]*PaymentMethod, error)
	// DeletePaymentMethod marks the account's card deleted at at. Errors:
	// ErrNotFound when the account has no such card or it was deleted.
	DeletePaymentMethod(ctx context.Context, accountID, id string, at time.Time) error
	// GatewayCustomer returns the account's customer reference at the
	// gateway. Errors: ErrNotFound when none was stored.
	GatewayCustomer(ctx context.Context, accountID, gateway string) (string, error)
	// PutGatewayCustomer stores the account's customer reference at the
	// gateway unless one is stored, and returns the stored one: of two
	// concurrent calls the first wins and both get its reference.
	PutGatewayCustomer(ctx context.Context, accountID, gateway, ref string, at time.Time) (stored string, err error)

	// CreateUpgrade stores a new upgrade. Errors: ErrUpgradeInProgress when
	// the account has an active upgrade, CodeQuoteUsed when the quote was
	// used before — both enforced by the database.
	CreateUpgrade(ctx context.Context, u *Upgrade) error
	// Upgrade returns an upgrade.
	Upgrade(ctx context.Context, id string) (*Upgrade, error)
	// UpdateUpgrade stores u if nobody changed it since it was read
	// (u.Version), and increments u.Version; then it appends the events,
	// each carrying u as stored (their Upgrade is set to u), with the
	// document encoded once. Errors: ErrConflict.
	UpdateUpgrade(ctx context.Context, u *Upgrade, events ...*UpgradeEvent) error
	// Upgrades lists an account's upgrades, newest first.
	Upgrades(ctx context.Context, accountID string) ([]*Upgrade, error)
	// ListUpgrades lists the upgrades f matches, of every account, newest
	// first by (CreatedAt, ID).
	ListUpgrades(ctx context.Context, f UpgradeFilter) ([]*Upgrade, error)
	// ActiveUpgrade returns the account's upgrade in an active status (an
	// account has at most one), by an index: no older upgrade is read.
	// Errors: ErrNotFound when none is active.
	ActiveUpgrade(ctx context.Context, accountID string) (*Upgrade, error)
	// ActiveUpgrades lists every upgrade in an active status.
	ActiveUpgrades(ctx context.Context) ([]*Upgrade, error)
	// AppendEvent records an event and sets its Seq.
	AppendEvent(ctx context.Context, e *UpgradeEvent) error
	// Events returns an upgrade's events after seq, oldest first, at most
	// limit of them.
	Events(ctx context.Context, upgradeID string, afterSeq int64, limit int) ([]*UpgradeEvent, error)
	// CountEvents counts an account's events with the action since t.
	CountEvents(ctx context.Context, accountID string, action Action, since time.Time) (int, error)

	// Heartbeat records that the workflow process is alive, at the
	// database's time: leases never compare two hosts' clocks. It creates
	// the process's heartbeat or refreshes it.
	Heartbeat(ctx context.Context, process string) error
	// RefreshHeartbeat refreshes the process's heartbeat, as Heartbeat
	// does, but never creates one: it reports false when there is none
	// (deleted by the process's own stop, or swept after a long silence).
	// A process's periodic beats use it because a beat whose statement is
	// cancelled in flight can still be committed by the database after the
	// stop's DeleteHeartbeat: as a refresh it then changes nothing.
	RefreshHeartbeat(ctx context.Context, process string) (bool, error)
	// DeleteHeartbeat removes the process's heartbeat when it stops
	// cleanly, holding no step: the others need not wait for it to age.
	DeleteHeartbeat(ctx context.Context, process string) error
	// RunningIn lists the active upgrades whose current step is marked
	// running in process (Upgrade.RunningWorker), oldest first.
	RunningIn(ctx context.Context, process string) ([]*Upgrade, error)
	// ResumeCandidates lists the active upgrades the workflow may have to
	// resume: those whose current step runs in a process with no heartbeat
	// within heartbeatTimeout (an unknown process counts as dead), and the
	// moving ones (Upgrade.Moving) with no step running whose DueAt passed
	// more than stallAfter ago. Both are judged by the database's clock:
	// the store stamps every write of an upgrade with its own time and
	// keeps DueAt relative to that stamp, so no host's clock is compared
	// with another's. The caller decides; the query only narrows.
	ResumeCandidates(ctx context.Context, heartbeatTimeout, stallAfter time.Duration) ([]*Upgrade, error)
	// SweepProcesses deletes the heartbeats older than olderThan (by the
	// database's clock) and returns how many.
	SweepProcesses(ctx context.Context, olderThan time.Duration) (int, error)

	// CreateNotification stores an in-app notification.
	CreateNotification(ctx context.Context, n *Notification) error
	// Notifications lists an account's notifications, newest first.
	Notifications(ctx context.Context, accountID string) ([]*Notification, error)
	// CreateSupportTicket stores a ticket.
	CreateSupportTicket(ctx context.Context, t *SupportTicket) error
	// SupportTickets lists every ticket, newest first.
	SupportTickets(ctx context.Context) ([]*SupportTicket, error)
	// ListSupportTickets lists the tickets f matches, newest first by
	// (CreatedAt, ID).
	ListSupportTickets(ctx context.Context, f SupportTicketFilter) ([]*SupportTicket, error)

	// Record returns a small JSON document that an adapter keeps (the
	// sandbox gateway's ledger, the simulated cluster's state) and its
	// version. Read and change one with GetRecord and UpdateRecord.
	Record(ctx context.Context, scope, key string) (value []byte, version int64, err error)
	// PutRecord creates the record (version 0; ErrConflict when it exists)
	// or replaces the given version of it (ErrConflict when it changed).
	PutRecord(ctx context.Context, scope, key string, value []byte, version int64) error
	// Records lists a scope's records in key order.
	Records(ctx context.Context, scope string) ([]Record, error)
	// CountRecords counts a scope's records, all of them and those whose
	// key starts with keyPrefix, in one read (so that all − matching is
	// the count of the others at one moment), without reading them.
	CountRecords(ctx context.Context, scope, keyPrefix string) (matching, all int, err error)
	// DeleteRecord removes a record; a missing one is no error.
	DeleteRecord(ctx context.Context, scope, key string) error

	// CreateSession stores a dashboard session. Errors: ErrConflict when a
	// session with the same ID hash exists.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns the session whose ID hashes to idHash, whether or not
	// it has expired: the caller judges that by its clock.
	// Errors: ErrNotFound.
	Session(ctx context.Context, idHash []byte) (*Session, error)
	// DeleteSession removes a session, raising AuthVersion in the same
	// transaction; a missing one is no error.
	DeleteSession(ctx context.Context, idHash []byte) error
	// CreateLoginLink stores a login link. Errors: ErrConflict when a link
	// with the same token hash exists.
	CreateLoginLink(ctx context.Context, l *LoginLink) error
	// UseLoginLink marks the link used at now and returns it, in one
	// statement, so that of two simultaneous uses exactly one succeeds.
	// Errors: ErrNotFound when no link has the hash, or it was used, or it
	// expired at or before now.
	UseLoginLink(ctx context.Context, tokenHash []byte, now time.Time) (*LoginLink, error)
	// CreateIdempotencyKey stores the first answer to a request with an
	// idempotency key, replacing an entry of the account's for the same key
	// that expired at or before k.CreatedAt. Errors: ErrConflict when the
	// account has a live entry for the key.
	CreateIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
	// IdempotencyKey returns the account's entry for key. Errors:
	// ErrNotFound when there is none, or it expired at or before now.
	IdempotencyKey(ctx context.Context, accountID, key string, now time.Time) (*IdempotencyKey, error)
	// DeleteExpired deletes the sessions, login links and idempotency keys
	// that expired more than r.Expired before now, and the webhook events
	// received more than r.WebhookEvents before now, and counts them.
	DeleteExpired(ctx context.Context, now time.Time, r Retention) (Swept, error)

	// RecordWebhookEvent notes that the gateway's event eventID was received
	// at receivedAt and reports whether it was the first time, in one
	// statement, so that of two simultaneous deliveries exactly one is new.
	// Call it in the transaction that acts on the event: when that rolls
	// back the event is forgotten, and the gateway's retry is processed.
	RecordWebhookEvent(ctx context.Context, gateway, eventID string, receivedAt time.Time) (isNew bool, err error)

	// IssueReceipt sets r.Number to the next number of its series
	// (ReceiptSeries of r.IssuedAt) and stores r, both in the caller's
	// transaction, so that a rollback takes the number back: numbers have
	// no gaps and no duplicates. A document of r's kind for r.PaymentRef
	// already issued is returned in *r instead, unchanged.
	IssueReceipt(ctx context.Context, r *Receipt) error
	// Receipt returns a receipt or credit note.
	Receipt(ctx context.Context, id string) (*Receipt, error)
	// Receipts lists an account's receipts and credit notes, newest first.
	Receipts(ctx context.Context, accountID string) ([]*Receipt, error)
	// UpgradeReceipts lists an upgrade's receipts and credit notes, oldest
	// first.
	UpgradeReceipts(ctx context.Context, upgradeID string) ([]*Receipt, error)

	// InTx runs fn with a Store bound to one transaction, committed when fn
	// returns nil; InTx returns after that commit. Inside fn use only tx:
	// the outer store may wait for the transaction (SQLite has one writer).
	// A store may commit several callers' transactions together (SQLite
	// does): fn's error then undoes fn's part alone, and a failed commit
	// fails each of them.
	InTx(ctx context.Context, fn func(tx Store) error) error

	// Close releases the store's connections.
	Close() error
}

// Record is an adapter's document in the store.
type Record struct {
	Key     string
	Value   []byte
	Version int64
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
