package tierup

import "time"

// Session is a signed-in dashboard browser as the store keeps it: under
// a keyed hash of its ID, never the ID itself.
type Session struct {
	IDHash    []byte
	AccountID string
	CSRF      string // the token every state-changing form must carry
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LoginLink is a one-time dashboard sign-in link, kept under a keyed hash
// of its token.
type LoginLink struct {
	TokenHash []byte
	AccountID string
	UsedAt    time.Time // zero until the link is used
	CreatedAt time.Time
	ExpiresAt time.Time
}

// IdempotencyKey is the first answer to an account's request that carried
// an Idempotency-Key: a repeat with the same body gets that answer again
// until ExpiresAt.
type IdempotencyKey struct {
	AccountID string
	Key       string
	BodyHash  string   // what the key is bound to
	UpgradeID string   // the upgrade the first request created
	Upgrade   *Upgrade // the first response: the upgrade as it was then
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Swept counts the expired rows a sweep deleted.
type Swept struct {
	Sessions        int
	LoginLinks      int
	IdempotencyKeys int
	WebhookEvents   int // IDs of events received more than Retention.WebhookEvents ago
}
