package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite copies the pages that commits append to the WAL back into the
// database file in a checkpoint. Left to itself, the commit that takes the
// WAL past 1,000 pages runs it, with two fsyncs, while every other write
// waits behind it: under a steady stream of quotes (a few pages each) that
// was one commit in a few hundred, and most of the writer's worst
// latencies. The checkpointer runs
// them on a connection of its own instead, as PASSIVE checkpoints, which
// neither wait for nor block readers and the writer; the writer checkpoints
// itself only past writerCheckpointPages, should the checkpointer fall
// behind or fail.

// checkpointAfter is how long the checkpointer lets commits gather after
// the first one since its last checkpoint before it checkpoints them: a
// checkpoint copies each page once, however many commits changed it.
const checkpointAfter = 100 * time.Millisecond

// writerCheckpointPages is the WAL size (in pages) past which the writer
// checkpoints itself (SQLite's wal_autocheckpoint; its own default is
// 1,000): ten times what the checkpointer usually leaves.
const writerCheckpointPages = 10000

// checkpointer runs SQLite's checkpoints in the background.
type checkpointer struct {
	db *sql.DB // one connection, neither the writer nor a reader
	// kick has room for one signal: however many commits come while a
	// checkpoint is due or running, one more round follows them.
	kick     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// ctx ends when the checkpointer stops, cutting a checkpoint short.
	ctx    context.Context
	cancel context.CancelFunc
	// complete counts the checkpoints that copied every page in the WAL;
	// incomplete those that failed or left pages (a reader still on them,
	// or another checkpoint under way).
	complete, incomplete atomic.Int64
}

// newCheckpointer returns a checkpointer that start sets going: the
// writer's commit hook needs it before its connection can open.
func newCheckpointer() *checkpointer {
	c := &checkpointer{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// start runs the checkpoints on db.
func (c *checkpointer) start(db *sql.DB) {
	c.db = db
	go c.loop()
}

// committed tells the checkpointer that a write transaction commits. It
// never blocks: SQLite calls it inside the commit.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	wait := time.NewTimer(checkpointAfter)
	wait.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// The commit that kicked is still under way (SQLite calls the hook
		// before it finishes), and more follow: let them land first.
		wait.Reset(checkpointAfter)
		select {
		case <-c.stop:
			wait.Stop()
			return
		case <-wait.C:
		}
		c.checkpoint()
	}
}

// checkpoint runs one PASSIVE checkpoint. What it could not copy is left
// for the next one, or the writer, to make up.
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	var busy, logged, copied int
	err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &copied)
	if err != nil || busy != 0 || copied < logged {
		c.incomplete.Add(1)
		return
	}
	c.complete.Add(1)
}

// close stops the checkpointer and closes its connection; again, it does
// nothing.
func (c *checkpointer) close() error {
	var err error
	c.stopOnce.Do(func() {
		close(c.stop)
		c.cancel()
		<-c.done
		err = c.db.Close()
	})
	return err
}

// Checkpoints is how many of SQLite's background checkpoints copied the
// whole WAL and how many did not (they failed, or a reader or another
// checkpoint held pages back; the next one makes those up); ok is false
// without a checkpointer (PostgreSQL, an in-memory database).
func (db *DB) Checkpoints() (complete, incomplete int64, ok bool) {
	if db.checkpoints == nil {
		return 0, 0, false
	}
	return db.checkpoints.complete.Load(), db.checkpoints.incomplete.Load(), true
}
