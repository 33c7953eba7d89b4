package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tierup/tierup"
)

// where builds a WHERE clause of ANDed conditions, numbering the
// placeholders as both dialects take them.
type where struct {
	conds []string
	args  []any
}

// add appends a condition in which each "?" stands for the next argument.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

// page adds the conditions every newest-first listing shares: the creation
// bounds and the position to continue after. The position compares
// (created_at, id) spelled out rather than as a row value, which SQLite
// before 3.15 lacks; the index on (created_at, id) serves both forms.
func (w *where) page(after *tierup.PageKey, createdAfter, createdBefore time.Time) {
	if !createdAfter.IsZero() {
		w.add("created_at > ?", createdAfter)
	}
	if !createdBefore.IsZero() {
		w.add("created_at < ?", createdBefore)
	}
	if after != nil {
		w.add("(created_at < ? OR (created_at = ? AND id < ?))", after.CreatedAt, after.CreatedAt, after.ID)
	}
}

func (w *where) sql(limit int) string {
	s := ""
	if len(w.conds) > 0 {
		s = " WHERE " + strings.Join(w.conds, " AND ")
	}
	s += " ORDER BY created_at DESC, id DESC"
	if limit > 0 {
		w.args = append(w.args, limit)
		s += fmt.Sprintf(" LIMIT $%d", len(w.args))
	}
	return s
}

// ListUpgrades implements tierup.Store.
func (db *DB) ListUpgrades(ctx context.Context, f tierup.UpgradeFilter) ([]*tierup.Upgrade, error) {
	var w where
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	w.page(f.After, f.CreatedAfter, f.CreatedBefore)
	q := `SELECT state FROM upgrades` + w.sql(f.Limit)
	return db.listUpgrades(ctx, q, w.args...)
}

// ListSupportTickets implements tierup.Store.
func (db *DB) ListSupportTickets(ctx context.Context, f tierup.SupportTicketFilter) ([]*tierup.SupportTicket, error) {
	var w where
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.UpgradeID != "" {
		w.add("upgrade_id = ?", f.UpgradeID)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	w.page(f.After, time.Time{}, time.Time{})
	return db.tickets(ctx, `SELECT id, upgrade_id, account_id, step, error, status, created_at FROM support_tickets`+w.sql(f.Limit), w.args...)
}
