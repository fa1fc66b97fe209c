package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

// TestStore runs the store conformance suite against a new file per test.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "gatehouse.db")
		return func(t *testing.T) gatehouse.Store { return MustOpenPath(t, path) }
	})
}

// TestConcurrentAppendsNoGroupCommit is the suite's concurrency test with
// one request per commit: the sequencer and committer without batching.
func TestConcurrentAppendsNoGroupCommit(t *testing.T) {
	storetest.ConcurrentAppends(t, MustOpen(t, sqlite.WithMaxBatch(1)))
}
