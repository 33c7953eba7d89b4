package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

// Dashboard sign-in: a one-time login link opens a browser session. Both
// are kept only as keyed hashes of their secrets (Keys.secretHashes).

// Session is a signed-in browser.
type Session struct {
	AccountID string    `json:"account"`
	CSRF      string    `json:"csrf"` // the token every state-changing form must carry
	Expires   time.Time `json:"expires"`
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewLoginLink makes a one-time login token for an account's dashboard,
// valid for Config.LoginLinkTTL. Errors: CodeNotFound.
func (a *App) NewLoginLink(ctx context.Context, accountID string) (string, time.Time, error) {
	if _, err := a.store.Account(ctx, accountID); err != nil {
		return "", time.Time{}, err
	}
	token := secret()
	now := a.clock.Now().UTC().Truncate(time.Second)
	l := &tierup.LoginLink{TokenHash: a.deps.Keys.secretHash(token), AccountID: accountID, CreatedAt: now, ExpiresAt: now.Add(a.cfg.LoginLinkTTL)}
	if err := a.store.CreateLoginLink(ctx, l); err != nil {
		return "", time.Time{}, err
	}
	a.log.InfoContext(ctx, "login link created", "account", accountID, "expires", l.ExpiresAt)
	return token, l.ExpiresAt, nil
}

// UseLoginLink spends a login token and opens a session for
// Config.SessionTTL: the link stops working after its first use, even when
// two browsers open it at once. Errors: CodeUnauthenticated.
func (a *App) UseLoginLink(ctx context.Context, token string) (sid string, s *Session, err error) {
	invalid := tierup.Errorf(tierup.CodeUnauthenticated, "this sign-in link is not valid any more: links work once and for %s; ask for a new one", ttlText(a.cfg.LoginLinkTTL))
	if token == "" {
		return "", nil, invalid
	}
	now := a.clock.Now().UTC()
	sid = secret()
	var stored *tierup.Session
	// One transaction: a link is never spent without its session.
	err = a.store.InTx(ctx, func(tx tierup.Store) error {
		var l *tierup.LoginLink
		var err error = tierup.ErrNotFound
		for _, h := range a.deps.Keys.secretHashes(token) {
			if l, err = tx.UseLoginLink(ctx, h, now); !errors.Is(err, tierup.ErrNotFound) {
				break
			}
		}
		if errors.Is(err, tierup.ErrNotFound) {
			return invalid
		}
		if err != nil {
			return err
		}
		created := now.Truncate(time.Second)
		stored = &tierup.Session{IDHash: a.deps.Keys.secretHash(sid), AccountID: l.AccountID, CSRF: secret(), CreatedAt: created, ExpiresAt: created.Add(a.cfg.SessionTTL)}
		return tx.CreateSession(ctx, stored)
	})
	if err != nil {
		return "", nil, err
	}
	a.log.InfoContext(ctx, "dashboard sign-in", "account", stored.AccountID)
	return sid, &Session{AccountID: stored.AccountID, CSRF: stored.CSRF, Expires: stored.ExpiresAt}, nil
}

// ttlText says how long a lifetime is: whole hours as hours ("24 hours"),
// else in days, hours, minutes and seconds.
func ttlText(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return tierup.HumanDuration(int64(d / time.Second))
}

// Session returns the live session for a session ID.
// Errors: CodeUnauthenticated.
func (a *App) Session(ctx context.Context, sid string) (*Session, error) {
	expired := tierup.Errorf(tierup.CodeUnauthenticated, "you are signed out")
	if sid == "" {
		return nil, expired
	}
	k := key(sha256.Sum256([]byte(sid)))
	if s, ok := a.creds.session(ctx, k); ok {
		if !a.clock.Now().Before(s.Expires) {
			return nil, expired
		}
		return &s, nil
	}
	gen := a.creds.generation()
	var s *tierup.Session
	var err error = tierup.ErrNotFound
	for _, h := range a.deps.Keys.secretHashes(sid) {
		if s, err = a.store.Session(ctx, h); !errors.Is(err, tierup.ErrNotFound) {
			break
		}
	}
	if errors.Is(err, tierup.ErrNotFound) {
		return nil, expired
	}
	if err != nil {
		return nil, err
	}
	if !a.clock.Now().Before(s.ExpiresAt) {
		return nil, expired
	}
	out := Session{AccountID: s.AccountID, CSRF: s.CSRF, Expires: s.ExpiresAt}
	a.creds.putSession(gen, k, out)
	return &out, nil
}

// EndSession signs a browser out; an unknown session is no error.
func (a *App) EndSession(ctx context.Context, sid string) error {
	defer a.creds.forget() // after the deletes, whatever their outcome
	for _, h := range a.deps.Keys.secretHashes(sid) {
		if err := a.store.DeleteSession(ctx, h); err != nil {
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
