package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
)

func TestRecordWebhookEvent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

		t.Run("new, then a duplicate, then swept and new again", func(t *testing.T) {
			steps := []struct {
				name  string
				sweep time.Time // when set, sweep at this time first
				want  bool
			}{
				{"first delivery", time.Time{}, true},
				{"replay", time.Time{}, false},
				{"replay after a sweep within the retention", at.Add(tierup.WebhookEventRetention), false},
				{"delivery after the retention's sweep", at.Add(tierup.WebhookEventRetention + time.Second), true},
			}
			for _, st := range steps {
				if !st.sweep.IsZero() {
					if _, err := db.DeleteExpired(ctx, st.sweep, tierup.Retention{}); err != nil {
						t.Fatal(err)
					}
				}
				isNew, err := db.RecordWebhookEvent(ctx, "stripe", "evt_1", at)
				if err != nil || isNew != st.want {
					t.Errorf("%s: new %v, %v; want %v", st.name, isNew, err, st.want)
				}
			}
		})

		t.Run("an ID is per gateway", func(t *testing.T) {
			for _, gw := range []string{"stripe", "sandbox"} {
				if isNew, err := db.RecordWebhookEvent(ctx, gw, "evt_2", at); err != nil || !isNew {
					t.Errorf("%s: new %v, %v", gw, isNew, err)
				}
			}
		})

		t.Run("a rolled-back transaction forgets the event", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.InTx(ctx, func(tx tierup.Store) error {
				if isNew, err := tx.RecordWebhookEvent(ctx, "stripe", "evt_3", at); err != nil || !isNew {
					t.Errorf("in the transaction: new %v, %v", isNew, err)
				}
				if isNew, err := tx.RecordWebhookEvent(ctx, "stripe", "evt_3", at); err != nil || isNew {
					t.Errorf("again in the transaction: new %v, %v", isNew, err)
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if isNew, err := db.RecordWebhookEvent(ctx, "stripe", "evt_3", at); err != nil || !isNew {
				t.Errorf("after the rollback: new %v, %v", isNew, err)
			}
		})

		t.Run("simultaneous deliveries: one is new", func(t *testing.T) {
			var wg sync.WaitGroup
			results := make(chan bool, 8)
			for range 8 {
				wg.Go(func() {
					err := db.InTx(ctx, func(tx tierup.Store) error {
						isNew, err := tx.RecordWebhookEvent(ctx, "stripe", "evt_race", at)
						results <- isNew
						return err
					})
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			close(results)
			n := 0
			for isNew := range results {
				if isNew {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d deliveries were new, want 1", n)
			}
		})
	})
}
