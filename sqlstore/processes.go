package sqlstore

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// Leases are judged by the database's clock alone: no method here reads the
// Go clock, so two hosts' clocks are never compared.

// Heartbeat implements tierup.Store.
func (db *DB) Heartbeat(ctx context.Context, process string) error {
	now := db.nowSQL()
	_, err := db.q.exec(ctx, `INSERT INTO processes (id, started_at, seen_at) VALUES ($1, `+now+`, `+now+`)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, process)
	return err
}

// RefreshHeartbeat implements tierup.Store.
func (db *DB) RefreshHeartbeat(ctx context.Context, process string) (bool, error) {
	n, err := db.q.exec(ctx, `UPDATE processes SET seen_at = `+db.nowSQL()+` WHERE id = $1`, process)
	return n > 0, err
}

// DeleteHeartbeat implements tierup.Store.
func (db *DB) DeleteHeartbeat(ctx context.Context, process string) error {
	_, err := db.q.exec(ctx, `DELETE FROM processes WHERE id = $1`, process)
	return err
}

// RunningIn implements tierup.Store.
func (db *DB) RunningIn(ctx context.Context, process string) ([]*tierup.Upgrade, error) {
	return db.listUpgrades(ctx, `SELECT state FROM upgrades WHERE active AND running_worker = $1 ORDER BY created_at, id`, process)
}

// ResumeCandidates implements tierup.Store.
// A running step is judged by its process's heartbeat only, never by how
// long it has run: a live process's long step is not stalled.
func (db *DB) ResumeCandidates(ctx context.Context, heartbeatTimeout, stallAfter time.Duration) ([]*tierup.Upgrade, error) {
	return db.listUpgrades(ctx, `SELECT state FROM upgrades u WHERE active AND (
			(running_worker IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM processes p WHERE p.id = u.running_worker AND p.seen_at > `+db.agoSQL("$1")+`))
			OR (moving AND running_worker IS NULL AND due_at < `+db.agoSQL("$2")+`))
		ORDER BY created_at, id`, secondsArg(heartbeatTimeout), secondsArg(stallAfter))
}

// SweepProcesses implements tierup.Store.
func (db *DB) SweepProcesses(ctx context.Context, olderThan time.Duration) (int, error) {
	n, err := db.q.exec(ctx, `DELETE FROM processes WHERE seen_at < `+db.agoSQL("$1"), secondsArg(olderThan))
	return int(n), err
}
