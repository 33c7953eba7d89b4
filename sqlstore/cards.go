package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/tierup/tierup"
)

const paymentMethodColumns = `id, account_id, brand, last4, exp_month, exp_year, name, fingerprint, gateway_ref, created_at,
	customer_ref, deleted_at`

func scanPaymentMethod(r row) (*tierup.PaymentMethod, error) {
	var pm tierup.PaymentMethod
	var deleted sql.NullTime
	err := r.Scan(&pm.ID, &pm.AccountID, &pm.Brand, &pm.Last4, &pm.ExpMonth, &pm.ExpYear, &pm.Name, &pm.Fingerprint, &pm.GatewayRef,
		&pm.CreatedAt, &pm.Customer, &deleted)
	if err != nil {
		return nil, err
	}
	pm.CreatedAt = pm.CreatedAt.UTC()
	if deleted.Valid {
		at := deleted.Time.UTC()
		pm.DeletedAt = &at
	}
	return &pm, nil
}

// PaymentMethods implements tierup.Store.
func (db *DB) PaymentMethods(ctx context.Context, accountID string) ([]*tierup.PaymentMethod, error) {
	rs, err := db.q.query(ctx, `SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE account_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*tierup.PaymentMethod
	for rs.Next() {
		pm, err := scanPaymentMethod(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, pm)
	}
	return out, rs.Err()
}

// DeletePaymentMethod implements tierup.Store.
func (db *DB) DeletePaymentMethod(ctx context.Context, accountID, id string, at time.Time) error {
	n, err := db.q.exec(ctx, `UPDATE payment_methods SET deleted_at = $3 WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL`,
		id, accountID, at.UTC())
	return affected(n, err, "payment method %s", id)
}

// GatewayCustomer implements tierup.Store.
func (db *DB) GatewayCustomer(ctx context.Context, accountID, gateway string) (string, error) {
	var ref string
	err := db.q.queryRow(ctx, `SELECT ref FROM gateway_customers WHERE account_id = $1 AND gateway = $2`, accountID, gateway).Scan(&ref)
	return ref, notFound(err, "%s customer of account %s", gateway, accountID)
}

// PutGatewayCustomer implements tierup.Store. The insert that loses the
// race does nothing, and both callers read the winner's reference.
func (db *DB) PutGatewayCustomer(ctx context.Context, accountID, gateway, ref string, at time.Time) (string, error) {
	if _, err := db.q.exec(ctx, `INSERT INTO gateway_customers (account_id, gateway, ref, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, gateway) DO NOTHING`, accountID, gateway, ref, at.UTC()); err != nil {
		return "", err
	}
	return db.GatewayCustomer(ctx, accountID, gateway)
}
