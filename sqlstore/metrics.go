package sqlstore

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// Reads for the metrics, made on each scrape: aggregates over indexed
// columns, never documents.

// UpgradeCount is how many active upgrades have a status, and how many of
// them have not changed for longer than the stall limit given.
type UpgradeCount struct {
	Status  tierup.UpgradeStatus
	Active  int
	Stalled int
}

// UpgradeCounts counts the active upgrades by status. An upgrade whose
// step runs saves when it starts, progresses and ends, and a paused one on
// its probes: one unchanged for longer than stalledAfter is stuck.
func (db *DB) UpgradeCounts(ctx context.Context, stalledAfter time.Duration) ([]UpgradeCount, error) {
	rows, err := db.q.query(ctx, `SELECT status, COUNT(*),
			COALESCE(SUM(CASE WHEN updated_at < `+db.agoSQL("$1")+` THEN 1 ELSE 0 END), 0)
		FROM upgrades WHERE active GROUP BY status`, secondsArg(stalledAfter))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UpgradeCount
	for rows.Next() {
		var c UpgradeCount
		if err := rows.Scan(&c.Status, &c.Active, &c.Stalled); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// QueuedJobs counts the job queue's jobs waiting to run, by River state:
// available (due now), scheduled (due later) and retryable.
func (db *DB) QueuedJobs(ctx context.Context) (map[string]int, error) {
	rows, err := db.q.query(ctx, `SELECT CAST(state AS TEXT), COUNT(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable') GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{"available": 0, "scheduled": 0, "retryable": 0}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		out[state] = n
	}
	return out, rows.Err()
}
