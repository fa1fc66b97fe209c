package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/migration"
)

var _ gatehouse.Store = (*Store)(nil)

// Defaults of the options.
const (
	DefaultMaxBatch     = 256
	DefaultWriteTimeout = 10 * time.Second
	DefaultClaimWait    = 10 * time.Second
	defaultConnect      = 5 * time.Second
)

// Option configures Open and OpenReadOnly.
type Option func(*options)

type options struct {
	replica      string
	maxBatch     int
	writeTimeout time.Duration
	claimWait    time.Duration
	keepalive    time.Duration
	log          *slog.Logger
}

// WithReplica makes the store a replica's: Open claims the replica id for
// this process (ECONFLICT if a live process holds it), every event it
// appends is stamped with it, and it listens for the appends of other
// replicas (Changes). See presence.go.
func WithReplica(id string) Option { return func(o *options) { o.replica = id } }

// WithMaxBatch sets the most Append calls that share one transaction
// (group commit). Default DefaultMaxBatch; 1 disables group commit.
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithWriteTimeout sets how long an Append keeps trying when the database
// cannot be reached — retrying on a new connection, and finding out
// whether a commit whose answer was lost took place — before it gives up
// with EUNAVAILABLE. Default DefaultWriteTimeout.
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// WithClaimWait sets how long Open waits for another process to let go of
// the replica id before it fails with ECONFLICT. Default DefaultClaimWait.
func WithClaimWait(d time.Duration) Option { return func(o *options) { o.claimWait = d } }

// WithKeepalive sets how often the replica's own connection is checked
// when nothing else happens on it, and so how soon a replica notices that
// it lost the database (and the server that the replica is gone). Default
// 2s.
func WithKeepalive(d time.Duration) Option { return func(o *options) { o.keepalive = d } }

// WithLogger sets where the store logs migrations, connection losses and
// recoveries. Default: nowhere.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) options {
	o := options{maxBatch: DefaultMaxBatch, writeTimeout: DefaultWriteTimeout, claimWait: DefaultClaimWait,
		keepalive: 2 * time.Second, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	o.maxBatch = max(o.maxBatch, 1)
	o.writeTimeout = max(o.writeTimeout, 100*time.Millisecond)
	o.keepalive = max(o.keepalive, 10*time.Millisecond)
	return o
}

// Store is a gatehouse.Store in a PostgreSQL database, shared by any
// number of processes. It is safe for concurrent use.
type Store struct {
	reader
	pool     *pgxpool.Pool
	cfg      *pgxpool.Config
	opts     options
	readOnly bool
	where    string // the database, for messages: host/dbname, no credentials
	schema   string
	channel  string // NOTIFY channel of this schema's journal

	reqs    chan *request
	closing chan struct{}
	done    chan struct{}

	presence *presence // nil without WithReplica

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

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // fixed at build time; tests catch it
	}
	return len(ms)
}

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://) rather than a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL u with its password, if any, replaced: what may
// be shown or logged.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	q := p.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// Open connects to the database at the URL u (postgres://…; the search_path
// parameter selects a schema), applies the migrations it lacks, and
// returns the store. With WithReplica it also claims the replica id.
//
// It returns EINVALID for a URL that does not parse or a database written
// by a newer build, ECONFLICT if another live process holds the replica id,
// and EUNAVAILABLE if the database cannot be reached or migrated.
func Open(ctx context.Context, u string, opts ...Option) (*Store, error) {
	s, err := connect(ctx, u, newOptions(opts), false)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		s.pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if s.opts.replica != "" {
		p, err := claim(ctx, s)
		if err != nil {
			return fail(err)
		}
		s.presence = p
	}
	s.reqs = make(chan *request)
	s.closing = make(chan struct{})
	s.done = make(chan struct{})
	go s.run()
	return s, nil
}

// OpenReadOnly connects to an existing store without migrating it, for
// `gatehouse verify --store postgres://…` beside running replicas. Append
// returns EUNAVAILABLE.
//
// It returns ENOTFOUND if the database holds no store, EINVALID if it is
// not of this build's schema version, and EUNAVAILABLE if it cannot be
// reached.
func OpenReadOnly(ctx context.Context, u string, opts ...Option) (*Store, error) {
	o := newOptions(opts)
	o.replica = ""
	s, err := connect(ctx, u, o, true)
	if err != nil {
		return nil, err
	}
	v, err := s.version(ctx, s.pool)
	if err != nil {
		s.pool.Close()
		return nil, err
	}
	switch want := SchemaVersion(); {
	case v == 0:
		s.pool.Close()
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "no gatehouse store in %s", s.where)
	case v != want:
		s.pool.Close()
		return nil, gatehouse.Errorf(gatehouse.EINVALID,
			"the store in %s has schema version %d; this build reads version %d", s.where, v, want)
	}
	return s, nil
}

// connect parses u, opens the pool and learns the schema.
func connect(ctx context.Context, u string, o options, readOnly bool) (*Store, error) {
	const op = "postgres.Open"
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil || !IsURL(u) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "invalid PostgreSQL URL %s: use postgres://USER@HOST:PORT/DATABASE", Redact(u))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnect
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
	}
	if !strings.Contains(u, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, 8)
	}
	where := cfg.ConnConfig.Host + "/" + cfg.ConnConfig.Database
	s := &Store{cfg: cfg, opts: o, readOnly: readOnly, where: where}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, "cannot connect to PostgreSQL at "+where)
	}
	s.reader = reader{q: s.pool, pooled: true}
	var schema *string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		s.pool.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, "cannot connect to PostgreSQL at "+where)
	}
	if schema == nil {
		s.pool.Close()
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "the search_path of %s names no schema that exists", where)
	}
	s.schema = *schema
	s.channel = "gatehouse_journal:" + s.schema
	return s, nil
}

// key returns the advisory lock key for name in this store's schema (an
// advisory lock is per database, so the schema is part of the name).
func (s *Store) key(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("gatehouse\x00" + s.schema + "\x00" + name))
	return int64(h.Sum64())
}

// version reads the schema version (0: no store yet).
func (s *Store) version(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('gatehouse_schema') IS NOT NULL").Scan(&exists); err != nil {
		return 0, readErr(ctx, "postgres.version", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRow(ctx, "SELECT version FROM gatehouse_schema").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, readErr(ctx, "postgres.version", err)
	}
	return v, nil
}

// migrate brings the schema to SchemaVersion, one migration per
// transaction, under an advisory lock so that replicas starting together
// do not apply one twice.
func (s *Store) migrate(ctx context.Context) error {
	const op = "postgres.migrate"
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return readErr(ctx, op, err)
	}
	defer conn.Release()
	key := s.key("migrate")
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return readErr(ctx, op, err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS gatehouse_schema (version integer NOT NULL);
		INSERT INTO gatehouse_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM gatehouse_schema)`); err != nil {
		return gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, "cannot create the store's tables in "+s.where)
	}
	for {
		v, err := s.version(ctx, conn)
		if err != nil {
			return err
		}
		if v > len(ms) {
			return gatehouse.Errorf(gatehouse.EINVALID,
				"the store in %s has schema version %d, newer than this build supports (%d)", s.where, v, len(ms))
		}
		if v == len(ms) {
			return nil
		}
		m := ms[v]
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE gatehouse_schema SET version = $1", m.Version)
			return err
		})
		if err != nil {
			return gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, fmt.Sprintf("migration %s failed in %s", m.Name, s.where))
		}
		s.opts.log.Info("store migrated", "version", m.Version, "migration", m.Name, "database", s.where)
	}
}

// Where names the database (host/dbname), without credentials.
func (s *Store) Where() string { return s.where }

// Close stops taking appends, lets the batch in flight finish, gives up
// the replica claim and closes the connections. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if !s.readOnly {
			close(s.closing)
			<-s.done
		}
		if s.presence != nil {
			s.presence.close()
		}
		s.pool.Close()
	})
	return s.closeErr
}

// unavailable wraps a database failure of op; the message is generic, the
// cause goes to the log.
func unavailable(op string, err error) error {
	return gatehouse.WrapError(gatehouse.EUNAVAILABLE, op, err, "the journal is unavailable")
}

// readErr is the error a failed read returns: the context's own if it
// ended, a *gatehouse.Error as it is, else EUNAVAILABLE.
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

// transient reports whether err is a failure that trying again, on
// another connection, may cure: the connection failed or timed out, the
// server ended the session (shutdown, failover, an administrator), ran out
// of connections, or chose the transaction as a deadlock victim. Any other
// answer of the server — an SQL error — is not.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if fatal(pe) {
			return true
		}
		switch pe.Code[:2] {
		case "08", "53", "57", "58":
			return true
		}
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var e *gatehouse.Error
	if errors.As(err, &e) {
		return false
	}
	return err != nil
}

// fatal reports whether pe ended the session: its connection is gone.
func fatal(pe *pgconn.PgError) bool {
	sev := pe.SeverityUnlocalized
	if sev == "" {
		sev = pe.Severity
	}
	return sev == "FATAL" || sev == "PANIC"
}
