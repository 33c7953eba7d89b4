package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

// TestCheckpointer: on SQLite the WAL is copied into the database file by a
// checkpointer of its own, after commits, never by the commit that fills
// it (the writer's threshold is raised out of the way); one that a reader's
// older snapshot holds back is made up after the next commit; what was
// written survives Close.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := dbtest.SQLite(t)
	db := open(t, path)
	if pages, err := sqlstore.WriterPragma(ctx, db, "wal_autocheckpoint"); err != nil || pages != 10000 {
		t.Fatalf("writer's wal_autocheckpoint = %d, %v; want 10000", pages, err)
	}
	value := []byte(`"` + strings.Repeat("x", 6000) + `"`) // two pages a record
	put := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := db.PutRecord(ctx, "checkpoint-test", fmt.Sprint(i), value, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor := func(what string, ok func(complete, incomplete int64) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			complete, incomplete, _ := db.Checkpoints()
			if ok(complete, incomplete) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s checkpoint: %d complete, %d incomplete", what, complete, incomplete)
			}
		}
	}

	put(0, 200)
	waitFor("complete", func(c, _ int64) bool { return c > 0 })

	// A reader on an older snapshot keeps the frames after it in the WAL.
	c0, i0, _ := db.Checkpoints()
	end, err := sqlstore.ReaderSnapshot(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	put(200, 250)
	waitFor("incomplete", func(_, i int64) bool { return i > i0 })
	end()
	put(250, 251)
	waitFor("later complete", func(c, _ int64) bool { return c > c0 })

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	for _, key := range []string{"0", "249", "250"} {
		if _, _, err := db.Record(ctx, "checkpoint-test", key); err != nil {
			t.Errorf("record %s after reopening: %v", key, err)
		}
	}
}
