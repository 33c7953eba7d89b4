package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/tierup/tierup"
)

// Dashboard sign-in: a one-time login link opens a browser session. Both
// are kept only as hashes of their secrets.
const (
	loginScope   = "web:login"
	sessionScope = "web:session"
	// LoginLinkTTL is how long an unused login link works.
	LoginLinkTTL = 24 * time.Hour
	// SessionTTL is how long a browser session lasts.
	SessionTTL = 7 * 24 * time.Hour
)

// Session is a signed-in browser.
type Session struct {
	AccountID string    `json:"account"`
	CSRF      string    `json:"csrf"` // the token every state-changing form must carry
	Expires   time.Time `json:"expires"`
}

type loginLink struct {
	AccountID string    `json:"account"`
	Expires   time.Time `json:"expires"`
	Used      bool      `json:"used,omitempty"`
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// NewLoginLink makes a one-time login token for an account's dashboard.
// Errors: CodeNotFound.
func (a *App) NewLoginLink(ctx context.Context, accountID string) (string, time.Time, error) {
	if _, err := a.store.Account(ctx, accountID); err != nil {
		return "", time.Time{}, err
	}
	token := secret()
	l := loginLink{AccountID: accountID, Expires: a.clock.Now().Add(LoginLinkTTL).UTC().Truncate(time.Second)}
	b, _ := json.Marshal(l)
	if err := a.store.PutRecord(ctx, loginScope, hashKey(token), b, 0); err != nil {
		return "", time.Time{}, err
	}
	a.log.InfoContext(ctx, "login link created", "account", accountID, "expires", l.Expires)
	return token, l.Expires, nil
}

// UseLoginLink spends a login token and opens a session: the link stops
// working after its first use. Errors: CodeUnauthenticated.
func (a *App) UseLoginLink(ctx context.Context, token string) (sid string, s *Session, err error) {
	invalid := tierup.Errorf(tierup.CodeUnauthenticated, "this sign-in link is not valid any more: links work once and for 24 hours; ask for a new one")
	if token == "" {
		return "", nil, invalid
	}
	key := hashKey(token)
	b, version, err := a.store.Record(ctx, loginScope, key)
	if tierup.ErrorCode(err) == tierup.CodeNotFound {
		return "", nil, invalid
	}
	if err != nil {
		return "", nil, err
	}
	var l loginLink
	if err := json.Unmarshal(b, &l); err != nil {
		return "", nil, err
	}
	if l.Used || !a.clock.Now().Before(l.Expires) {
		return "", nil, invalid
	}
	l.Used = true
	nb, _ := json.Marshal(l)
	// The version check makes two simultaneous uses open one session.
	if err := a.store.PutRecord(ctx, loginScope, key, nb, version); err != nil {
		if tierup.ErrorCode(err) == tierup.CodeConflict {
			return "", nil, invalid
		}
		return "", nil, err
	}
	sid = secret()
	s = &Session{AccountID: l.AccountID, CSRF: secret(), Expires: a.clock.Now().Add(SessionTTL).UTC().Truncate(time.Second)}
	sb, _ := json.Marshal(s)
	if err := a.store.PutRecord(ctx, sessionScope, hashKey(sid), sb, 0); err != nil {
		return "", nil, err
	}
	a.log.InfoContext(ctx, "dashboard sign-in", "account", l.AccountID)
	return sid, s, nil
}

// Session returns the live session for a session ID.
// Errors: CodeUnauthenticated.
func (a *App) Session(ctx context.Context, sid string) (*Session, error) {
	expired := tierup.Errorf(tierup.CodeUnauthenticated, "you are signed out")
	if sid == "" {
		return nil, expired
	}
	b, _, err := a.store.Record(ctx, sessionScope, hashKey(sid))
	if tierup.ErrorCode(err) == tierup.CodeNotFound {
		return nil, expired
	}
	if err != nil {
		return nil, err
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.AccountID == "" || !a.clock.Now().Before(s.Expires) {
		return nil, expired
	}
	return &s, nil
}

// EndSession signs a browser out.
func (a *App) EndSession(ctx context.Context, sid string) error {
	for range 5 {
		_, version, err := a.store.Record(ctx, sessionScope, hashKey(sid))
		if err != nil {
			return nil // nothing to end
		}
		b, _ := json.Marshal(Session{})
		err = a.store.PutRecord(ctx, sessionScope, hashKey(sid), b, version)
		if tierup.ErrorCode(err) != tierup.CodeConflict {
			return err
		}
	}
	return nil
}

// CheckUpgrade says whether the account may upgrade to the plan now, with
// the reason when not, without storing a quote.
func (a *App) CheckUpgrade(ctx context.Context, accountID, planID string) error {
	acct, err := a.store.Account(ctx, accountID)
	if err != nil {
		return err
	}
	to, err := a.catalog.Plan(planID)
	if err != nil {
		return err
	}
	from, err := a.catalog.Plan(acct.Subscription.PlanID)
	if err != nil {
		return err
	}
	now, err := a.Now(ctx, acct)
	if err != nil {
		return err
	}
	_, err = a.catalog.PriceUpgrade(tierup.QuoteInput{Now: now, Location: acct.Location(), Current: acct.Subscription, From: from, To: to, Policy: a.cfg.Policy})
	return err
}
