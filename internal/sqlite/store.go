package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/migration"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var _ gatehouse.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxBatch    = 256
)

// Option configures Open and OpenReadOnly.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	maxBatch    int
	readConns   int
}

// WithBusyTimeout sets how long a statement waits for a lock held by
// another connection (another process on the same file, or a checkpoint)
// before it fails. Default DefaultBusyTimeout.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithMaxBatch sets the most Append calls that share one transaction and
// one fsync. Default DefaultMaxBatch. 1 disables group commit, which is
// only useful to measure what it buys.
func WithMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = n }
}

// WithReadConns sets the size of the pool of read connections. Default
// max(4, GOMAXPROCS).
func WithReadConns(n int) Option {
	return func(o *options) { o.readConns = n }
}

func newOptions(opts []Option) options {
	o := options{
		busyTimeout: DefaultBusyTimeout,
		maxBatch:    DefaultMaxBatch,
		readConns:   max(4, runtime.GOMAXPROCS(0)),
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.busyTimeout = max(o.busyTimeout, 0)
	o.maxBatch = max(o.maxBatch, 1)
	o.readConns = max(o.readConns, 1)
	return o
}

// Store is a gatehouse.Store kept in one SQLite file. It is safe for
// concurrent use. Open it with Open (read-write, one per file and process)
// or OpenReadOnly.
type Store struct {
	path     string
	readOnly bool
	rdb      *sql.DB // pool of read connections (query_only)

	// Set only when the store is writable; see sequencer.go.
	wdb      *sql.DB       // holds the single write connection
	w        *writer       // the committer
	seq      sequencer     // owned by the run goroutine
	maxBatch int           // requests per batch
	cp       *checkpointer // the background checkpoint
	reqs     chan *request // unbuffered: a send succeeds only when the sequencer takes it
	batches  chan *batch   // sequencer to committer; unbuffered, so batches grow while the committer is busy
	closing  chan struct{} // closed by Close: the sequencer stops taking requests
	done     chan struct{} // closed when the committer has stopped

	closeOnce sync.Once
	closeErr  error
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in order (see
// internal/migration for their numbering).
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFS, "migrations/*.sql")
}

// SchemaVersion is the schema version this build writes: the number of
// its embedded migrations.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; tests catch this
	}
	return len(ms)
}

// dsn returns the database/sql data source name for path. A file: URI
// (with the path escaped) is used so that any path, including one with
// '?' or '#', names the file it says, and so that mode=ro can be given.
func dsn(path string, query url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	u.RawQuery = query.Encode()
	return u.String()
}

// Open opens the store in the SQLite file at path, creating the file (mode
// 0600) if it does not exist and applying any migrations it lacks. The
// file is put in WAL mode with synchronous=FULL, so that an Append that
// returns is on stable storage. Only one process should have a store open
// with Open at a time (others may use OpenReadOnly); a second writer is
// detected and handled correctly, but the two then contend for the lock.
//
// It returns EUNAVAILABLE if the file cannot be created, opened or
// migrated, and EINVALID if it was written by a newer build (a schema
// version this build does not know).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	const op = "sqlite.Open"
	o := newOptions(opts)
	abs, err := filepath.Abs(path)
	if err != nil || path == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "invalid store path %q", path)
	}
	// Create the file ourselves so that it is private: SQLite would create
	// it 0644 (less the umask), and its -wal and -shm files copy the
	// database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot open the store at %s", path))
	}
	f.Close()

	s := &Store{path: abs}
	if err := s.openReaders(abs, o, false); err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot open the store at %s", path))
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(0)")
	q.Add("_pragma", "temp_store(MEMORY)")
	cp, err := newCheckpointer(dsn(abs, q))
	if err != nil {
		s.rdb.Close()
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot open the store at %s", path))
	}
	s.cp = cp
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerAutoCheckpoint))
	// After a burst has grown the WAL, truncate it when it restarts.
	q.Add("_pragma", "journal_size_limit(67108864)")
	wdb, err := sql.Open("sqlite", dsn(abs, q))
	if err == nil {
		wdb.SetMaxOpenConns(1)
		wdb.SetMaxIdleConns(1)
		wdb.SetConnMaxLifetime(0)
		wdb.SetConnMaxIdleTime(0)
	}
	s.wdb = wdb
	fail := func(err error) (*Store, error) {
		if s.w != nil {
			s.w.close()
		}
		if s.wdb != nil {
			s.wdb.Close()
		}
		s.cp.db.Close()
		s.rdb.Close()
		var e *gatehouse.Error
		if errors.As(err, &e) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot open the store at %s", path))
	}
	if err != nil {
		return fail(err)
	}
	conn, err := wdb.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	if err := migrate(ctx, conn, path); err != nil {
		conn.Close()
		return fail(err)
	}
	// Refresh the planner's statistics if they are missing or stale (cheap
	// with analysis_limit), so that a filter on two indexed columns picks
	// the more selective index.
	if _, err := conn.ExecContext(ctx, "PRAGMA analysis_limit=1000; PRAGMA optimize=0x10002"); err != nil {
		conn.Close()
		return fail(err)
	}
	w, err := newWriter(ctx, conn, s.cp.notify)
	if err != nil {
		conn.Close()
		return fail(err)
	}
	s.w = w
	live, err := w.loadLive(ctx)
	if err != nil {
		return fail(err)
	}
	s.seq = sequencer{head: w.head, live: live, gen: w.gen.Load()}
	s.maxBatch = o.maxBatch
	s.reqs = make(chan *request)
	s.batches = make(chan *batch)
	s.closing = make(chan struct{})
	s.done = make(chan struct{})
	go s.run()
	go w.loop(s.batches, s.done)
	go s.cp.run(s.closing)
	return s, nil
}

// OpenReadOnly opens an existing store for reading only, without
// migrating it: for `gatehouse verify --store PATH` while a daemon has the
// store open with Open. Append returns EUNAVAILABLE. Only WithBusyTimeout
// and WithReadConns apply.
//
// It returns ENOTFOUND if there is no file at path, EINVALID if the file is
// not a store of this build's schema version, and EUNAVAILABLE if it
// cannot be read.
func OpenReadOnly(ctx context.Context, path string, opts ...Option) (*Store, error) {
	const op = "sqlite.OpenReadOnly"
	o := newOptions(opts)
	abs, err := filepath.Abs(path)
	if err != nil || path == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "invalid store path %q", path)
	}
	if _, err := os.Stat(abs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no store at %s", path)
		}
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot open the store at %s", path))
	}
	s := &Store{path: abs, readOnly: true}
	if err := s.openReaders(abs, o, true); err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot open the store at %s", path))
	}
	var v int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		s.rdb.Close()
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("cannot read the store at %s", path))
	}
	if want := SchemaVersion(); v != want {
		s.rdb.Close()
		return nil, gatehouse.Errorf(gatehouse.EINVALID,
			"the store at %s has schema version %d; this build reads version %d (open it with the daemon of the matching version first)", path, v, want)
	}
	return s, nil
}

// openReaders opens the pool of read connections. query_only makes a bug
// that writes through them fail instead of bypassing the journal.
func (s *Store) openReaders(abs string, o options, readOnly bool) error {
	q := url.Values{}
	if readOnly {
		q.Set("mode", "ro")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	rdb, err := sql.Open("sqlite", dsn(abs, q))
	if err != nil {
		return err
	}
	rdb.SetMaxOpenConns(o.readConns)
	rdb.SetMaxIdleConns(o.readConns)
	rdb.SetConnMaxIdleTime(time.Minute)
	s.rdb = rdb
	return nil
}

// migrate brings the database on conn to SchemaVersion, one migration per
// transaction. The version is re-read under the write lock (BEGIN
// IMMEDIATE) so that two processes opening a new file at once do not both
// apply the same migration.
func migrate(ctx context.Context, conn *sql.Conn, path string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		var v int
		if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			return err
		}
		if v > len(ms) {
			conn.ExecContext(context.Background(), "ROLLBACK")
			return gatehouse.Errorf(gatehouse.EINVALID,
				"the store at %s has schema version %d, newer than this build supports (%d)", path, v, len(ms))
		}
		if v == len(ms) {
			_, err := conn.ExecContext(ctx, "COMMIT")
			return err
		}
		m := ms[v]
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			return err
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
			return err
		}
	}
}

// Path returns the absolute path of the store's file.
func (s *Store) Path() string { return s.path }

// Close stops taking appends, waits for the batches in flight (every
// Append already taken gets its answer), and closes the database. Appends
// still waiting to be taken return EUNAVAILABLE. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.readOnly {
			errs = append(errs, s.rdb.Close())
		} else {
			close(s.closing)
			<-s.done
			<-s.cp.done
			// The write connection closes last, so that (if no other
			// process has the file open) it checkpoints and removes the
			// WAL, leaving one self-contained file.
			errs = append(errs, s.rdb.Close(), s.cp.db.Close(), s.w.close(), s.wdb.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = gatehouse.WrapError(gatehouse.EUNAVAILABLE, "sqlite.Close", err, "cannot close the store")
		}
	})
	return s.closeErr
}

// unavailable wraps an I/O failure of op. The SQLite error goes to Err (for
// logs); the message is generic, as the error may name internals.
func unavailable(op string, err error) error {
	return gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, "the journal is unavailable")
}

// readErr turns a failed read into the error a caller sees: the context's
// own error if it ended (a cancelled request is not a store failure), else
// EUNAVAILABLE.
func readErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var e *gatehouse.Error
	if errors.As(err, &e) {
		return err
	}
	return unavailable(op, err)
}
