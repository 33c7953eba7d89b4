package sqlstore

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// SetSubscription implements tierup.Store.
func (db *DB) SetSubscription(ctx context.Context, accountID string, s tierup.Subscription) error {
	value, currency := nullValue(s.Value)
	n, err := db.q.exec(ctx, `UPDATE accounts SET plan_id = $2, current_period_start = $3, current_period_end = $4,
		period_value = $5, period_value_currency = $6 WHERE id = $1`,
		accountID, s.PlanID, nullTime(s.PeriodStart), nullTime(s.PeriodEnd), value, currency)
	return affected(n, err, "account %s", accountID)
}

// SetEntitlementsPlan implements tierup.Store.
func (db *DB) SetEntitlementsPlan(ctx context.Context, accountID, planID string) error {
	n, err := db.q.exec(ctx, `UPDATE accounts SET entitlements_plan = $2 WHERE id = $1`, accountID, planID)
	return affected(n, err, "account %s", accountID)
}

// CreatePaymentMethod implements tierup.Store.
func (db *DB) CreatePaymentMethod(ctx context.Context, pm *tierup.PaymentMethod) error {
	_, err := db.q.exec(ctx, `INSERT INTO payment_methods (id, account_id, brand, last4, exp_month, exp_year, name, fingerprint, gateway_ref, created_at, customer_ref)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		pm.ID, pm.AccountID, pm.Brand, pm.Last4, pm.ExpMonth, pm.ExpYear, pm.Name, pm.Fingerprint, pm.GatewayRef, pm.CreatedAt.UTC(), pm.Customer)
	return err
}

// PaymentMethod implements tierup.Store.
func (db *DB) PaymentMethod(ctx context.Context, id string) (*tierup.PaymentMethod, error) {
	pm, err := scanPaymentMethod(db.q.queryRow(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods WHERE id = $1`, id))
	return pm, notFound(err, "payment method %s", id)
}

// CreateUpgrade implements tierup.Store.
func (db *DB) CreateUpgrade(ctx context.Context, u *tierup.Upgrade) error {
	if u.Version == 0 {
		u.Version = 1
	}
	state, err := encodeUpgrade(u)
	if err != nil {
		return err
	}
	d := derive(u)
	_, err = db.q.exec(ctx, `INSERT INTO upgrades (id, account_id, quote_id, status, version, state, created_at, updated_at,
		active, moving, running_worker, due_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, `+db.laterSQL("$12")+`)`,
		u.ID, u.AccountID, u.QuoteID, string(u.Status), u.Version, state, u.CreatedAt, u.UpdatedAt,
		d.active, d.moving, d.runningWorker, d.dueIn)
	switch violated(err) {
	case conUpgradeQuote:
		return tierup.Errorf(tierup.CodeQuoteUsed, "quote %s was already used for an upgrade; ask for a new quote", u.QuoteID)
	case conOneActive:
		return tierup.Errorf(tierup.CodeUpgradeInProgress, "an upgrade is already in progress for this account")
	}
	return err
}

// Upgrade implements tierup.Store.
func (db *DB) Upgrade(ctx context.Context, id string) (*tierup.Upgrade, error) {
	var state string
	if err := db.q.queryRow(ctx, `SELECT state FROM upgrades WHERE id = $1`, id).Scan(&state); err != nil {
		return nil, notFound(err, "upgrade %s", id)
	}
	return decodeUpgrade(state)
}

// UpdateUpgrade implements tierup.Store.
func (db *DB) UpdateUpgrade(ctx context.Context, u *tierup.Upgrade, events ...*tierup.UpgradeEvent) error {
	u.Version++
	state, err := encodeUpgrade(u)
	if err != nil {
		u.Version--
		return err
	}
	d := derive(u)
	n, err := db.q.exec(ctx, `UPDATE upgrades SET status = $3, version = $4, state = $5, updated_at = $6,
		active = $7, moving = $8, running_worker = $9, due_at = `+db.laterSQL("$10")+` WHERE id = $1 AND version = $2`,
		u.ID, u.Version-1, string(u.Status), u.Version, state, u.UpdatedAt, d.active, d.moving, d.runningWorker, d.dueIn)
	if violated(err) == conOneActive {
		u.Version--
		return tierup.Errorf(tierup.CodeUpgradeInProgress, "another upgrade is already in progress for this account")
	}
	if err == nil && n == 0 {
		err = tierup.Errorf(tierup.CodeConflict, "upgrade %s changed meanwhile", u.ID)
	}
	if err != nil {
		u.Version--
		return err
	}
	for _, e := range events {
		e.Upgrade = u
		if err := db.appendEvent(ctx, e, state); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) listUpgrades(ctx context.Context, query string, args ...any) ([]*tierup.Upgrade, error) {
	states, err := collect(ctx, db.q, func(r rows) (string, error) {
		var state string
		return state, r.Scan(&state)
	}, query, args...)
	if err != nil {
		return nil, err
	}
	var out []*tierup.Upgrade
	for _, state := range states {
		u, err := decodeUpgrade(state)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// Upgrades implements tierup.Store.
func (db *DB) Upgrades(ctx context.Context, accountID string) ([]*tierup.Upgrade, error) {
	return db.listUpgrades(ctx, `SELECT state FROM upgrades WHERE account_id = $1 ORDER BY created_at DESC, id DESC`, accountID)
}

// ActiveUpgrade implements tierup.Store.
func (db *DB) ActiveUpgrade(ctx context.Context, accountID string) (*tierup.Upgrade, error) {
	var state string
	if err := db.q.queryRow(ctx, `SELECT state FROM upgrades WHERE account_id = $1 AND active`, accountID).Scan(&state); err != nil {
		return nil, notFound(err, "active upgrade of account %s", accountID)
	}
	return decodeUpgrade(state)
}

// ActiveUpgrades implements tierup.Store.
func (db *DB) ActiveUpgrades(ctx context.Context) ([]*tierup.Upgrade, error) {
	return db.listUpgrades(ctx, `SELECT state FROM upgrades WHERE active ORDER BY created_at`)
}

// AppendEvent implements tierup.Store.
func (db *DB) AppendEvent(ctx context.Context, e *tierup.UpgradeEvent) error {
	var state any
	if e.Upgrade != nil {
		b, err := encodeUpgrade(e.Upgrade)
		if err != nil {
			return err
		}
		state = b
	}
	return db.appendEvent(ctx, e, state)
}

// appendEvent inserts e with state, e.Upgrade's encoded document (or nil).
func (db *DB) appendEvent(ctx context.Context, e *tierup.UpgradeEvent, state any) error {
	account := ""
	if e.Upgrade != nil {
		account = e.Upgrade.AccountID
	}
	return db.q.queryRow(ctx, `INSERT INTO upgrade_events (upgrade_id, account_id, actor, action, message, state, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq`,
		e.UpgradeID, account, e.Actor, e.Action, e.Message, state, e.At.UTC()).Scan(&e.Seq)
}

// Events implements tierup.Store.
func (db *DB) Events(ctx context.Context, upgradeID string, afterSeq int64, limit int) ([]*tierup.UpgradeEvent, error) {
	rs, err := db.q.query(ctx, `SELECT seq, upgrade_id, actor, action, message, COALESCE(state, ''), created_at FROM upgrade_events
		WHERE upgrade_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, upgradeID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*tierup.UpgradeEvent
	for rs.Next() {
		var e tierup.UpgradeEvent
		var state string
		if err := rs.Scan(&e.Seq, &e.UpgradeID, &e.Actor, &e.Action, &e.Message, &state, &e.At); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		if state != "" {
			if e.Upgrade, err = decodeUpgrade(state); err != nil {
				return nil, err
			}
		}
		out = append(out, &e)
	}
	return out, rs.Err()
}

// CountEvents implements tierup.Store.
func (db *DB) CountEvents(ctx context.Context, accountID string, action tierup.Action, since time.Time) (int, error) {
	var n int
	err := db.q.queryRow(ctx, `SELECT COUNT(*) FROM upgrade_events WHERE account_id = $1 AND action = $2 AND created_at > $3`,
		accountID, string(action), since.UTC()).Scan(&n)
	return n, err
}

// CreateNotification implements tierup.Store.
func (db *DB) CreateNotification(ctx context.Context, n *tierup.Notification) error {
	_, err := db.q.exec(ctx, `INSERT INTO notifications (id, account_id, kind, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		n.ID, n.AccountID, n.Kind, n.Title, n.Body, n.CreatedAt.UTC())
	return err
}

// Notifications implements tierup.Store.
func (db *DB) Notifications(ctx context.Context, accountID string) ([]*tierup.Notification, error) {
	rs, err := db.q.query(ctx, `SELECT id, account_id, kind, title, body, created_at FROM notifications
		WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100`, accountID)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*tierup.Notification
	for rs.Next() {
		var n tierup.Notification
		if err := rs.Scan(&n.ID, &n.AccountID, &n.Kind, &n.Title, &n.Body, &n.CreatedAt); err != nil {
			return nil, err
		}
		n.CreatedAt = n.CreatedAt.UTC()
		out = append(out, &n)
	}
	return out, rs.Err()
}

// CreateSupportTicket implements tierup.Store.
func (db *DB) CreateSupportTicket(ctx context.Context, t *tierup.SupportTicket) error {
	_, err := db.q.exec(ctx, `INSERT INTO support_tickets (id, upgrade_id, account_id, step, error, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.UpgradeID, t.AccountID, string(t.Step), t.Error, t.Status, t.CreatedAt.UTC())
	return err
}

// SupportTickets implements tierup.Store.
func (db *DB) SupportTickets(ctx context.Context) ([]*tierup.SupportTicket, error) {
	return db.tickets(ctx, `SELECT id, upgrade_id, account_id, step, error, status, created_at FROM support_tickets ORDER BY created_at DESC, id DESC LIMIT 500`)
}

func (db *DB) tickets(ctx context.Context, query string, args ...any) ([]*tierup.SupportTicket, error) {
	return collect(ctx, db.q, func(r rows) (*tierup.SupportTicket, error) {
		var t tierup.SupportTicket
		var step string
		if err := r.Scan(&t.ID, &t.UpgradeID, &t.AccountID, &step, &t.Error, &t.Status, &t.CreatedAt); err != nil {
			return nil, err
		}
		t.Step, t.CreatedAt = tierup.StepName(step), t.CreatedAt.UTC()
		return &t, nil
	}, query, args...)
}

// Record implements tierup.Store.
func (db *DB) Record(ctx context.Context, scope, key string) ([]byte, int64, error) {
	var value string
	var version int64
	if err := db.q.queryRow(ctx, `SELECT value, version FROM records WHERE scope = $1 AND key = $2`, scope, key).Scan(&value, &version); err != nil {
		return nil, 0, notFound(err, "record %s/%s", scope, key)
	}
	return []byte(value), version, nil
}

// PutRecord implements tierup.Store.
func (db *DB) PutRecord(ctx context.Context, scope, key string, value []byte, version int64) error {
	now := time.Now().UTC()
	if version == 0 {
		_, err := db.q.exec(ctx, `INSERT INTO records (scope, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)`, scope, key, string(value), now)
		if violated(err) == conRecord {
			return tierup.Errorf(tierup.CodeConflict, "record %s/%s exists", scope, key)
		}
		return err
	}
	n, err := db.q.exec(ctx, `UPDATE records SET value = $3, version = version + 1, updated_at = $5 WHERE scope = $1 AND key = $2 AND version = $4`,
		scope, key, string(value), version, now)
	if err == nil && n == 0 {
		return tierup.Errorf(tierup.CodeConflict, "record %s/%s changed meanwhile", scope, key)
	}
	return err
}

// Records implements tierup.Store.
func (db *DB) Records(ctx context.Context, scope string) ([]tierup.Record, error) {
	rs, err := db.q.query(ctx, `SELECT key, value, version FROM records WHERE scope = $1 ORDER BY key`, scope)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []tierup.Record
	for rs.Next() {
		var r tierup.Record
		var v string
		if err := rs.Scan(&r.Key, &v, &r.Version); err != nil {
			return nil, err
		}
		r.Value = []byte(v)
		out = append(out, r)
	}
	return out, rs.Err()
}

// CountRecords implements tierup.Store. The prefix is compared as text,
// not as a LIKE pattern: account IDs hold "_".
func (db *DB) CountRecords(ctx context.Context, scope, keyPrefix string) (matching, all int, err error) {
	err = db.q.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN substr(key, 1, length($2)) = $2 THEN 1 ELSE 0 END), 0), count(*)
		FROM records WHERE scope = $1`, scope, keyPrefix).Scan(&matching, &all)
	return matching, all, err
}

// DeleteRecord implements tierup.Store.
func (db *DB) DeleteRecord(ctx context.Context, scope, key string) error {
	_, err := db.q.exec(ctx, `DELETE FROM records WHERE scope = $1 AND key = $2`, scope, key)
	return err
}

// affected turns "no row updated" into ErrNotFound.
func affected(n int64, err error, format string, args ...any) error {
	if err == nil && n == 0 {
		err = tierup.ErrNotFound
	}
	return notFound(err, format, args...)
}
