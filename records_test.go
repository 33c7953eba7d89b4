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
			const writers, each = 4, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for range writers {
				wg.Go(func() {
					for range each {
						if _, err := tierup.UpdateRecord(ctx, db, "test:update", "shared", func(c *recordCounter, _ bool) error {
							c.N++
							return nil
						}); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			got, err := tierup.GetRecord[recordCounter](ctx, db, "test:update", "shared")
			if err != nil || got.N != writers*each {
				t.Errorf("recordCounter = %d (%v), want %d", got.N, err, writers*each)
			}
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
