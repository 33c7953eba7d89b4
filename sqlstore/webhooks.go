package sqlstore

import (
	"context"
	"time"
)

// RecordWebhookEvent implements tierup.Store. The primary key decides:
// ON CONFLICT DO NOTHING inserts nothing for an ID already there, so the
// rows affected say whether the event is new, and a concurrent delivery in
// another transaction waits on the key until the first one commits (then
// it is a duplicate) or rolls back (then it is new).
func (db *DB) RecordWebhookEvent(ctx context.Context, gateway, eventID string, receivedAt time.Time) (bool, error) {
	n, err := db.q.exec(ctx, `INSERT INTO webhook_events (gateway, event_id, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (gateway, event_id) DO NOTHING`, gateway, eventID, receivedAt.UTC())
	return n == 1, err
}
