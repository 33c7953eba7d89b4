package sandbox

import (
	"context"
	"sync/atomic"

	"github.com/tierup/tierup"
)

// Tally is the store as the sandbox's stand-ins for the outside world (the
// gateway, the faults and the simulated cluster) use it, counting their
// calls. Each is a transaction of its own, made for Stripe's or the
// cluster's part, which in production are not tierup's database: a
// benchmark tells the engine's transactions from theirs with it.
type Tally struct {
	tierup.Store
	reads, writes atomic.Int64
}

// NewTally returns s, counted.
func NewTally(s tierup.Store) *Tally { return &Tally{Store: s} }

// Record implements tierup.Store.
func (t *Tally) Record(ctx context.Context, scope, key string) ([]byte, int64, error) {
	t.reads.Add(1)
	return t.Store.Record(ctx, scope, key)
}

// Records implements tierup.Store.
func (t *Tally) Records(ctx context.Context, scope string) ([]tierup.Record, error) {
	t.reads.Add(1)
	return t.Store.Records(ctx, scope)
}

// PutRecord implements tierup.Store.
func (t *Tally) PutRecord(ctx context.Context, scope, key string, value []byte, version int64) error {
	t.writes.Add(1)
	return t.Store.PutRecord(ctx, scope, key, value, version)
}

// CountRecords implements tierup.Store.
func (t *Tally) CountRecords(ctx context.Context, scope, keyPrefix string) (matching, all int, err error) {
	t.reads.Add(1)
	return t.Store.CountRecords(ctx, scope, keyPrefix)
}

// DeleteRecord implements tierup.Store.
func (t *Tally) DeleteRecord(ctx context.Context, scope, key string) error {
	t.writes.Add(1)
	return t.Store.DeleteRecord(ctx, scope, key)
}

// Calls returns how many reads and writes the stand-ins made so far.
func (t *Tally) Calls() (reads, writes int64) { return t.reads.Load(), t.writes.Load() }
