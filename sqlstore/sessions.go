package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tierup/tierup"
)

// CreateSession implements tierup.Store.
func (db *DB) CreateSession(ctx context.Context, s *tierup.Session) error {
	_, err := db.q.exec(ctx, `INSERT INTO sessions (id_hash, account_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.IDHash, s.AccountID, s.CSRF, s.CreatedAt.UTC(), s.ExpiresAt.UTC())
	return uniqueAsConflict(err, "the session exists")
}

// Session implements tierup.Store.
func (db *DB) Session(ctx context.Context, idHash []byte) (*tierup.Session, error) {
	s := tierup.Session{IDHash: idHash}
	err := db.q.queryRow(ctx, `SELECT account_id, csrf, created_at, expires_at FROM sessions WHERE id_hash = $1`, idHash).
		Scan(&s.AccountID, &s.CSRF, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return nil, notFound(err, "session")
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return &s, nil
}

// DeleteSession implements tierup.Store.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.InTx(ctx, func(tx tierup.Store) error {
		t := tx.(*DB)
		n, err := t.q.exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
		if err != nil || n == 0 {
			return err
		}
		return t.bumpAuthVersion(ctx)
	})
}

// CreateLoginLink implements tierup.Store.
func (db *DB) CreateLoginLink(ctx context.Context, l *tierup.LoginLink) error {
	_, err := db.q.exec(ctx, `INSERT INTO login_links (token_hash, account_id, used_at, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		l.TokenHash, l.AccountID, nullTime(l.UsedAt), l.CreatedAt.UTC(), l.ExpiresAt.UTC())
	return uniqueAsConflict(err, "the login link exists")
}

// UseLoginLink implements tierup.Store: the conditional update is the
// single use, so no transaction is needed around it.
func (db *DB) UseLoginLink(ctx context.Context, tokenHash []byte, now time.Time) (*tierup.LoginLink, error) {
	n, err := db.q.exec(ctx, `UPDATE login_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`,
		tokenHash, now.UTC())
	if err := affected(n, err, "usable login link"); err != nil {
		return nil, err
	}
	l := tierup.LoginLink{TokenHash: tokenHash}
	var used sql.NullTime
	err = db.q.queryRow(ctx, `SELECT account_id, used_at, created_at, expires_at FROM login_links WHERE token_hash = $1`, tokenHash).
		Scan(&l.AccountID, &used, &l.CreatedAt, &l.ExpiresAt)
	if err != nil {
		return nil, notFound(err, "login link")
	}
	l.UsedAt, l.CreatedAt, l.ExpiresAt = timeOrZero(used), l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	return &l, nil
}

// CreateIdempotencyKey implements tierup.Store. An expired entry that the
// sweep has not deleted yet is overwritten in the same statement.
func (db *DB) CreateIdempotencyKey(ctx context.Context, k *tierup.IdempotencyKey) error {
	response, err := encodeUpgrade(k.Upgrade)
	if err != nil {
		return err
	}
	n, err := db.q.exec(ctx, `INSERT INTO idempotency_keys (account_id, key, body_hash, upgrade_id, response, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account_id, key) DO UPDATE SET body_hash = excluded.body_hash, upgrade_id = excluded.upgrade_id,
			response = excluded.response, created_at = excluded.created_at, expires_at = excluded.expires_at
		WHERE idempotency_keys.expires_at <= excluded.created_at`,
		k.AccountID, k.Key, k.BodyHash, k.UpgradeID, response, k.CreatedAt.UTC(), k.ExpiresAt.UTC())
	if err == nil && n == 0 {
		return tierup.Errorf(tierup.CodeConflict, "idempotency key %q is in use", k.Key)
	}
	return err
}

// IdempotencyKey implements tierup.Store.
func (db *DB) IdempotencyKey(ctx context.Context, accountID, key string, now time.Time) (*tierup.IdempotencyKey, error) {
	k := tierup.IdempotencyKey{AccountID: accountID, Key: key}
	var response string
	err := db.q.queryRow(ctx, `SELECT body_hash, upgrade_id, response, created_at, expires_at FROM idempotency_keys
		WHERE account_id = $1 AND key = $2 AND expires_at > $3`, accountID, key, now.UTC()).
		Scan(&k.BodyHash, &k.UpgradeID, &response, &k.CreatedAt, &k.ExpiresAt)
	if err != nil {
		return nil, notFound(err, "idempotency key %q", key)
	}
	if k.Upgrade, err = decodeResponse(response); err != nil {
		return nil, fmt.Errorf("idempotency key %q: %w", key, err)
	}
	k.CreatedAt, k.ExpiresAt = k.CreatedAt.UTC(), k.ExpiresAt.UTC()
	return &k, nil
}

// decodeResponse reads a stored first response: an upgrade document, or
// the bare upgrade JSON that migration 00004 moved from the records of
// before, read as the version-0 document it was part of.
func decodeResponse(s string) (*tierup.Upgrade, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &probe); err != nil {
		return nil, err
	}
	_, versioned := probe["v"]
	_, wrapped := probe["upgrade"]
	if !versioned && !wrapped {
		s = `{"upgrade":` + s + `}`
	}
	return decodeUpgrade(s)
}

// DeleteExpired implements tierup.Store. Each table is swept by
// statements of at most defaultSweepBatch rows, each a transaction of its
// own: a large backlog holds SQLite's writer only briefly at a time, and a
// sweep whose context ends stops at its next statement (one under way in
// SQLite's group commit is not interrupted: see batchQuerier). A partial
// sweep is harmless, the next one finishes it.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time, r tierup.Retention) (tierup.Swept, error) {
	r = r.WithDefaults()
	var s tierup.Swept
	for _, t := range []struct {
		table, column string
		before        time.Time
		n             *int
	}{
		{"sessions", "expires_at", now.Add(-r.Expired), &s.Sessions},
		{"login_links", "expires_at", now.Add(-r.Expired), &s.LoginLinks},
		{"idempotency_keys", "expires_at", now.Add(-r.Expired), &s.IdempotencyKeys},
		// Webhook events have no expiry of their own: they are kept a
		// fixed time after they arrived.
		{"webhook_events", "received_at", now.Add(-r.WebhookEvents), &s.WebhookEvents},
	} {
		n, err := db.sweep(ctx, t.table, t.column, t.before)
		*t.n = n
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

// defaultSweepBatch is how many rows a statement of a sweep deletes at most.
const defaultSweepBatch = 1000

// sweep deletes table's rows whose column is before before, a batch at a
// time, and returns how many it deleted.
func (db *DB) sweep(ctx context.Context, table, column string, before time.Time) (int, error) {
	batch := db.sweepBatch
	if batch <= 0 {
		batch = defaultSweepBatch
	}
	row := "rowid" // the physical row: every table has one, whatever its key
	if db.dialect == Postgres {
		row = "ctid"
	}
	stmt := `DELETE FROM ` + table + ` WHERE ` + row + ` IN (SELECT ` + row + ` FROM ` + table +
		` WHERE ` + column + ` < $1 LIMIT ` + strconv.Itoa(batch) + `)`
	total := 0
	for {
		n, err := db.q.exec(ctx, stmt, before.UTC())
		total += int(n)
		if err != nil || n < int64(batch) {
			return total, err
		}
	}
}

// uniqueAsConflict turns a unique violation into ErrConflict with msg.
func uniqueAsConflict(err error, msg string) error {
	if errors.Is(err, errUnique) {
		return tierup.Errorf(tierup.CodeConflict, "%s", msg)
	}
	return err
}
