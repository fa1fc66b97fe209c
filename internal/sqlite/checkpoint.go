package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointer copies committed pages from the WAL into the database file
// on a connection of its own. SQLite would otherwise do it inside the
// writer's COMMIT every 1000 pages, and the writer's goroutine is what
// every Append waits on; here it runs on another CPU, concurrently with
// the writer (a PASSIVE checkpoint never blocks a writer or a reader).
//
// A checkpoint running alongside the writer rarely catches up with it
// completely, and SQLite restarts the WAL from its beginning only then.
// So the writer keeps an automatic checkpoint of its own, at a higher
// threshold (writerAutoCheckpoint): by the time it fires, this one has
// copied nearly everything, the writer finishes the rest, and the WAL
// restarts instead of growing without bound.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{} // buffered (1): "something was committed"
	done chan struct{}
}

const (
	// checkpointInterval is the least time between two checkpoints: each
	// copies every page changed since the last (once, however often it
	// changed) and syncs the database file.
	checkpointInterval = 30 * time.Millisecond
	// writerAutoCheckpoint is the WAL size, in pages, at which the
	// writer checkpoints itself; see checkpointer.
	writerAutoCheckpoint = 4000
)

func newCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return &checkpointer{db: db, kick: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

// notify tells the checkpointer that the WAL has grown. It never blocks.
func (c *checkpointer) notify() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run checkpoints after commits, at most every checkpointInterval, until
// closing is closed. A failed checkpoint is not an error for anyone: the
// pages stay in the WAL, which is as durable, and the next one retries.
func (c *checkpointer) run(closing <-chan struct{}) {
	defer close(c.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-closing:
			return
		case <-c.kick:
		}
		c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		t.Reset(checkpointInterval)
		select {
		case <-closing:
			return
		case <-t.C:
		}
	}
}
