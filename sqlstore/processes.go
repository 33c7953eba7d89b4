package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/tierup/tierup"
)

// PLACEHOLDER: replaced by the processes table (heartbeats at the
// database's time) before this lands.

// Heartbeat implements tierup.Store.
func (db *DB) Heartbeat(ctx context.Context, process string) error {
	return errors.New("sqlstore: heartbeats not implemented yet")
}

// ResumeCandidates implements tierup.Store.
func (db *DB) ResumeCandidates(ctx context.Context, heartbeatTimeout, stallAfter time.Duration) ([]*tierup.Upgrade, error) {
	return nil, errors.New("sqlstore: resume candidates not implemented yet")
}

// SweepProcesses implements tierup.Store.
func (db *DB) SweepProcesses(ctx context.Context, olderThan time.Duration) (int, error) {
	return 0, errors.New("sqlstore: sweeping processes not implemented yet")
}
