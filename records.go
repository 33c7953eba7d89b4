package tierup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RecordAttempts is how many times UpdateRecord reads and writes a record
// before it gives up on a record that other writers keep changing
// (UpdateRecordFrom may write once more, from the copy it was given).
const RecordAttempts = 20

// GetRecord returns the JSON record at scope/key decoded into a T.
// Errors: ErrNotFound when there is no such record; a decoding error when
// the stored document is not a T.
func GetRecord[T any](ctx context.Context, s Store, scope, key string) (T, error) {
	v, _, err := getRecord[T](ctx, s, scope, key)
	return v, err
}

func getRecord[T any](ctx context.Context, s Store, scope, key string) (v T, version int64, err error) {
	b, version, err := s.Record(ctx, scope, key)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, 0, fmt.Errorf("record %s/%s: %w", scope, key, err)
	}
	return v, version, nil
}

// UpdateRecord applies f to the JSON record at scope/key and stores the
// result unless another writer changed the record since it was read; then
// it reads the record again and reruns f, up to RecordAttempts times, with
// a short random pause between attempts so that contending writers do not
// collide in lockstep. f gets T's zero value and exists=false when there is
// no record yet. Because f may run more than once it must only change v
// (and values it sets afresh on every run).
//
// Nothing is written when f leaves the record's JSON encoding as it was (a
// missing record counts as T's zero value), so a read-only outcome neither
// writes nor conflicts. UpdateRecord returns the value as stored.
//
// Errors: f's error as is, with nothing written; CodeConflict when every
// attempt met a concurrent change; the store's errors.
func UpdateRecord[T any](ctx context.Context, s Store, scope, key string, f func(v *T, exists bool) error) (T, error) {
	v, _, err := UpdateRecordFrom(ctx, s, scope, key, nil, f)
	return v, err
}

// RecordCopy is a record's JSON and its version (0: there was none) as a
// writer last stored or read it.
type RecordCopy struct {
	Value   []byte
	Version int64
}

// UpdateRecordFrom is UpdateRecord that starts from from, when not nil,
// instead of reading the record: the write's version check tells whether
// from was still current. When it was not, or when f leaves the record as
// from had it or refuses it (nothing written, so nothing checked), the
// record is read and f run again, as UpdateRecord does. It also returns
// the copy of what is stored now, to start from next time. For a writer
// that keeps the copies of what it wrote, an update then costs one
// statement instead of two.
//
// Versions start again at 1 for a record deleted and made anew, so a copy
// of the old one could pass the check: keep copies only of records that
// are never deleted.
func UpdateRecordFrom[T any](ctx context.Context, s Store, scope, key string, from *RecordCopy, f func(v *T, exists bool) error) (T, RecordCopy, error) {
	var zero T
	for attempt := 0; attempt < RecordAttempts; {
		var v T
		var version int64
		if from != nil {
			version = from.Version
			if version > 0 { // else there was none: T's zero value
				if err := json.Unmarshal(from.Value, &v); err != nil {
					from = nil // not a T: read what is stored
					continue
				}
			}
		} else {
			if attempt > 0 {
				if err := pause(ctx, attempt); err != nil {
					return zero, RecordCopy{}, err
				}
			}
			var err error
			if v, version, err = getRecord[T](ctx, s, scope, key); err != nil && !errors.Is(err, ErrNotFound) {
				return zero, RecordCopy{}, err
			}
		}
		before, err := json.Marshal(v)
		if err != nil {
			return zero, RecordCopy{}, err
		}
		if err := f(&v, version > 0); err != nil {
			if from != nil { // refused on an unchecked copy: judge what is stored
				from = nil
				continue
			}
			return zero, RecordCopy{}, err
		}
		after, err := json.Marshal(v)
		if err != nil {
			return zero, RecordCopy{}, err
		}
		if bytes.Equal(before, after) {
			if from != nil { // unchecked: confirm it against what is stored
				from = nil
				continue
			}
			return v, RecordCopy{Value: before, Version: version}, nil
		}
		err = s.PutRecord(ctx, scope, key, after, version)
		if errors.Is(err, ErrConflict) {
			if from == nil {
				attempt++
			}
			from = nil
			continue
		}
		if err != nil {
			return zero, RecordCopy{}, err
		}
		return v, RecordCopy{Value: after, Version: version + 1}, nil
	}
	return zero, RecordCopy{}, Errorf(CodeConflict, "record %s/%s kept changing: %d attempts to update it met concurrent changes", scope, key, RecordAttempts)
}

// pause waits a random moment that grows with the attempt, up to a few
// milliseconds, or until ctx ends.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Duration(attempt) * time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
