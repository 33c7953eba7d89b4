package tierup_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
)

type recordCounter struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}

// alwaysConflicts is a store on which every write meets a concurrent one.
type alwaysConflicts struct{ tierup.Store }

func (alwaysConflicts) PutRecord(context.Context, string, string, []byte, int64) error {
	return tierup.Errorf(tierup.CodeConflict, "changed meanwhile")
}

func TestUpdateRecord(t *testing.T) {
	errStop := errors.New("stop")
	tests := []struct {
		name      string
		seed      *recordCounter // the record before, nil for none
		conflicts bool
		f         func(c *recordCounter, exists bool) error
		want      recordCounter
		wantErr   error
		stored    *recordCounter // the record after, nil for none
		version   int64          // its version
		calls     int            // how often f ran
	}{
		{name: "creates a missing record", f: func(c *recordCounter, exists bool) error {
			if exists {
				return errors.New("exists")
			}
			c.N = 1
			return nil
		}, want: recordCounter{N: 1}, stored: &recordCounter{N: 1}, version: 1, calls: 1},
		{name: "updates an existing record", seed: &recordCounter{N: 41}, f: func(c *recordCounter, exists bool) error {
			if !exists {
				return errors.New("missing")
			}
			c.N++
			return nil
		}, want: recordCounter{N: 42}, stored: &recordCounter{N: 42}, version: 2, calls: 1},
		{name: "no write when nothing changed", seed: &recordCounter{N: 7}, f: func(*recordCounter, bool) error { return nil },
			want: recordCounter{N: 7}, stored: &recordCounter{N: 7}, version: 1, calls: 1},
		{name: "no record made when nothing changed", f: func(*recordCounter, bool) error { return nil }, calls: 1},
		{name: "f's error stops it", seed: &recordCounter{N: 1}, f: func(c *recordCounter, _ bool) error { c.N = 99; return errStop },
			wantErr: errStop, stored: &recordCounter{N: 1}, version: 1, calls: 1},
		{name: "gives up with a conflict", seed: &recordCounter{N: 1}, conflicts: true, f: func(c *recordCounter, _ bool) error { c.N++; return nil },
			wantErr: tierup.ErrConflict, stored: &recordCounter{N: 1}, version: 1, calls: tierup.RecordAttempts},
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := dbtest.OpenStore(t, dsn)
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				scope, key := "test:update", tt.name
				if tt.seed != nil {
					b, _ := json.Marshal(tt.seed)
					if err := db.PutRecord(ctx, scope, key, b, 0); err != nil {
						t.Fatal(err)
					}
				}
				var s tierup.Store = db
				if tt.conflicts {
					s = alwaysConflicts{db}
				}
				calls := 0
				got, err := tierup.UpdateRecord(ctx, s, scope, key, func(c *recordCounter, exists bool) error {
					calls++
					return tt.f(c, exists)
				})
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				if calls != tt.calls {
					t.Errorf("f ran %d times, want %d", calls, tt.calls)
				}
				b, version, err := db.Record(ctx, scope, key)
				if tt.stored == nil {
					if !errors.Is(err, tierup.ErrNotFound) {
						t.Errorf("a record was stored: %s (%v)", b, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var stored recordCounter
				if err := json.Unmarshal(b, &stored); err != nil || stored != *tt.stored || version != tt.version {
					t.Errorf("stored %s version %d, want %+v version %d", b, version, *tt.stored, tt.version)
				}
			})
		}

		t.Run("concurrent writers lose no update", func(t *testing.T) {
			loseNoUpdate(t, db, "test:update", func(*tierup.RecordCopy) (tierup.RecordCopy, error) {
				_, err := tierup.UpdateRecord(ctx, db, "test:update", "shared", increment)
				return tierup.RecordCopy{}, err
			})
		})

		t.Run("GetRecord", func(t *testing.T) {
			if _, err := tierup.GetRecord[recordCounter](ctx, db, "test:get", "missing"); !errors.Is(err, tierup.ErrNotFound) {
				t.Errorf("missing: %v", err)
			}
			if err := db.PutRecord(ctx, "test:get", "bad", []byte(`{"n":"x"}`), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := tierup.GetRecord[recordCounter](ctx, db, "test:get", "bad"); err == nil {
				t.Error("a document that is not a recordCounter decoded")
			}
		})
	})
}

// TestCountAndDeleteRecords: a count by key prefix takes the prefix as
// text (an account ID's "_" is no wildcard) and keeps to its scope; a
// deleted record is gone from the count and from reads, and deleting it
// again is no error.
func TestCountAndDeleteRecords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		for _, r := range []struct{ scope, key string }{
			{"ledger", "acct_a/n1"}, {"ledger", "acct_a/n2"}, {"ledger", "acctXa/n3"}, {"ledger", "acct_b/n1"}, {"other", "acct_a/n9"},
		} {
			if err := db.PutRecord(ctx, r.scope, r.key, []byte("{}"), 0); err != nil {
				t.Fatal(err)
			}
		}
		count := func(scope, prefix string) int {
			t.Helper()
			n, _, err := db.CountRecords(ctx, scope, prefix)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		tests := []struct {
			scope, prefix string
			want          int
		}{
			{"ledger", "", 4},
			{"ledger", "acct_a/", 2},
			{"ledger", "acct_", 3},
			{"ledger", "acct%", 0},
			{"other", "acct_a/", 1},
			{"none", "", 0},
		}
		for _, tt := range tests {
			if got := count(tt.scope, tt.prefix); got != tt.want {
				t.Errorf("CountRecords(%q, %q) = %d, want %d", tt.scope, tt.prefix, got, tt.want)
			}
			// The same read counts the whole scope.
			if _, all, err := db.CountRecords(ctx, tt.scope, tt.prefix); err != nil || all != map[string]int{"ledger": 4, "other": 1}[tt.scope] {
				t.Errorf("CountRecords(%q, %q): %d in all, %v", tt.scope, tt.prefix, all, err)
			}
		}
		for range 2 {
			if err := db.DeleteRecord(ctx, "ledger", "acct_a/n1"); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := db.Record(ctx, "ledger", "acct_a/n1"); !errors.Is(err, tierup.ErrNotFound) {
			t.Errorf("deleted record read: %v, want ErrNotFound", err)
		}
		if got := count("ledger", "acct_a/"); got != 1 {
			t.Errorf("after the delete: %d, want 1", got)
		}
		if got := count("other", ""); got != 1 {
			t.Errorf("the delete reached another scope: %d", got)
		}
	})
}

// readCounter counts a store's reads of records.
type readCounter struct {
	tierup.Store
	reads int
}

func (r *readCounter) Record(ctx context.Context, scope, key string) ([]byte, int64, error) {
	r.reads++
	return r.Store.Record(ctx, scope, key)
}

// TestUpdateRecordFrom: an update that starts from a copy still current
// writes without reading; one from a copy that another writer made stale,
// or that f leaves unchanged (nothing written to check it), reads what is
// stored and runs f again on it. No update is lost.
func TestUpdateRecordFrom(t *testing.T) {
	counter := func(n int) []byte { b, _ := json.Marshal(recordCounter{N: n}); return b }
	tests := []struct {
		name   string
		stored *recordCounter     // the record before, nil for none (version 1 when there is one)
		from   *tierup.RecordCopy // what the update starts from
		change bool               // whether f adds one (else it changes nothing)
		want   int                // N returned and stored
		reads  int                // reads of the record
		calls  int                // how often f ran
		exists bool               // what f was told on its last run
	}{
		{"a current copy: one write", &recordCounter{N: 5}, &tierup.RecordCopy{Value: counter(5), Version: 1}, true, 6, 0, 1, true},
		{"a stale copy: read and run again", &recordCounter{N: 10}, &tierup.RecordCopy{Value: counter(5), Version: 7}, true, 11, 1, 2, true},
		{"a copy of a record since deleted", nil, &tierup.RecordCopy{Value: counter(5), Version: 3}, true, 1, 1, 2, false},
		{"a copy from before the record was made", &recordCounter{N: 10}, &tierup.RecordCopy{}, true, 11, 1, 2, true},
		{"a copy of none is T's zero value", nil, &tierup.RecordCopy{Value: counter(5)}, true, 1, 0, 1, false},
		{"an unchanged copy is confirmed by a read", &recordCounter{N: 10}, &tierup.RecordCopy{Value: counter(5), Version: 7}, false, 10, 1, 2, true},
		{"a copy f refuses is judged again as stored", &recordCounter{N: 10}, &tierup.RecordCopy{Value: counter(99), Version: 7}, true, 11, 1, 2, true},
		{"no copy: as UpdateRecord", &recordCounter{N: 10}, nil, true, 11, 1, 1, true},
		{"a copy that is not a T", &recordCounter{N: 10}, &tierup.RecordCopy{Value: []byte(`{"n":"x"}`), Version: 1}, true, 11, 1, 1, true},
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := dbtest.OpenStore(t, dsn)
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				scope, key := "test:from", tt.name
				if tt.stored != nil {
					if err := db.PutRecord(ctx, scope, key, counter(tt.stored.N), 0); err != nil {
						t.Fatal(err)
					}
				}
				s := &readCounter{Store: db}
				calls, told := 0, false
				got, rc, err := tierup.UpdateRecordFrom(ctx, s, scope, key, tt.from, func(c *recordCounter, exists bool) error {
					calls, told = calls+1, exists
					if c.N > 50 {
						return errors.New("refused: more than 50")
					}
					if tt.change {
						c.N++
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if told != tt.exists {
					t.Errorf("f was told exists = %v, want %v", told, tt.exists)
				}
				if got.N != tt.want || s.reads != tt.reads || calls != tt.calls {
					t.Errorf("N = %d after %d reads and %d runs of f; want %d, %d, %d", got.N, s.reads, calls, tt.want, tt.reads, tt.calls)
				}
				b, version, err := db.Record(ctx, scope, key)
				if err != nil {
					t.Fatal(err)
				}
				var stored recordCounter
				if err := json.Unmarshal(b, &stored); err != nil || stored.N != tt.want {
					t.Errorf("stored %s, want N = %d", b, tt.want)
				}
				var copied recordCounter
				if err := json.Unmarshal(rc.Value, &copied); err != nil || copied.N != tt.want || rc.Version != version {
					t.Errorf("the copy returned: %s version %d; want N = %d version %d", rc.Value, rc.Version, tt.want, version)
				}
			})
		}

		t.Run("writers that each keep a copy lose no update", func(t *testing.T) {
			loseNoUpdate(t, db, "test:from", func(from *tierup.RecordCopy) (tierup.RecordCopy, error) {
				_, rc, err := tierup.UpdateRecordFrom(ctx, db, "test:from", "shared", from, increment)
				return rc, err
			})
		})
	})
}

func increment(c *recordCounter, _ bool) error {
	c.N++
	return nil
}

// loseNoUpdate runs update from 4 writers 25 times each, each given the
// copy its last update returned, and checks that the shared record of
// scope counts all 100.
func loseNoUpdate(t *testing.T, db tierup.Store, scope string, update func(from *tierup.RecordCopy) (tierup.RecordCopy, error)) {
	t.Helper()
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			var from *tierup.RecordCopy
			for range each {
				rc, err := update(from)
				if err != nil {
					errs <- err
				}
				from = &rc
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := tierup.GetRecord[recordCounter](context.Background(), db, scope, "shared")
	if err != nil || got.N != writers*each {
		t.Errorf("recordCounter = %d (%v), want %d", got.N, err, writers*each)
	}
}
