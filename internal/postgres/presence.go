package postgres

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/gatehouse-dev/gatehouse"
)

// A replica's presence is one connection of its own, held for as long as
// the store is open, on which it
//
//   - holds a session advisory lock named after its replica id: its claim.
//     A live process holds it; when the process dies, or its connection
//     does, the server releases it. So another replica can tell a dead
//     replica from a live one (TryTakeOver), and two processes can never
//     run under one replica id;
//   - LISTENs to the journal's channel, on which every appending
//     transaction NOTIFYs its new head: so a replica learns of the others'
//     appends as they commit (Changes).
//
// If the connection fails, the claim is gone with it: Claimed turns false,
// Changes fires, and the store reconnects and claims again (waiting while
// another replica holds the claim to take over what this one left), then
// fires Changes again.
type presence struct {
	s       *Store
	id      string
	key     int64
	claimed atomic.Bool
	changes chan struct{} // capacity 1: signals coalesce
	stop    chan struct{}
	done    chan struct{}
	conn    *pgx.Conn // the run goroutine's
}

// claim connects the presence connection and takes the replica's claim,
// waiting up to the claim wait for a previous holder to let go.
func claim(ctx context.Context, s *Store) (*presence, error) {
	p := &presence{s: s, id: s.opts.replica, key: s.key("replica\x00" + s.opts.replica),
		changes: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	deadline := time.Now().Add(s.opts.claimWait)
	for {
		conn, ok, err := p.connect(ctx)
		if err != nil {
			return nil, readErr(ctx, "postgres.claim", err)
		}
		if ok {
			p.conn = conn
			break
		}
		if time.Now().After(deadline) {
			return nil, gatehouse.Errorf(gatehouse.ECONFLICT,
				"replica id %q is held by a live process on %s (another gatehouse serve with the same replica id?)", p.id, s.where)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.took()
	go p.run()
	return p, nil
}

// connect opens the presence connection, tries the claim and, if it got
// it, listens. ok reports the claim; without it the connection is closed.
func (p *presence) connect(ctx context.Context) (_ *pgx.Conn, ok bool, err error) {
	cfg := p.s.cfg.ConnConfig.Copy()
	// A cancelled wait for notifications must leave the connection as it
	// is (a deadline, not a cancel request to the server).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	// The server must notice a replica that vanished (its claim is then
	// released): keepalives on its side of this connection.
	secs := strconv.Itoa(max(1, int(p.s.opts.keepalive/time.Second)))
	cfg.RuntimeParams["tcp_keepalives_idle"] = secs
	cfg.RuntimeParams["tcp_keepalives_interval"] = secs
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	cfg.RuntimeParams["application_name"] = cfg.RuntimeParams["application_name"] + " replica " + p.id
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	fail := func(err error) (*pgx.Conn, bool, error) {
		conn.Close(context.Background())
		return nil, false, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", p.key).Scan(&ok); err != nil {
		return fail(err)
	}
	if !ok {
		conn.Close(context.Background())
		return nil, false, nil
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.s.channel}.Sanitize()); err != nil {
		return fail(err)
	}
	return conn, true, nil
}

func (p *presence) took() {
	p.claimed.Store(true)
	p.signal()
}

func (p *presence) lost(err error) {
	p.claimed.Store(false)
	p.s.opts.log.Warn("lost the connection that holds this replica's claim; reconnecting", "replica", p.id, "err", err)
	p.signal()
}

func (p *presence) signal() {
	select {
	case p.changes <- struct{}{}:
	default:
	}
}

// run waits for notifications, checks the connection when nothing comes
// for a keepalive period, and reconnects when it fails.
func (p *presence) run() {
	defer close(p.done)
	stopCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	pause := 50 * time.Millisecond
	for {
		if p.conn == nil {
			conn, ok, err := p.connect(stopCtx)
			if stopCtx.Err() != nil {
				return
			}
			if err == nil && ok {
				p.conn = conn
				p.took()
				p.s.opts.log.Info("replica claim taken again", "replica", p.id)
				pause = 50 * time.Millisecond
				continue
			}
			select {
			case <-time.After(pause):
			case <-stopCtx.Done():
				return
			}
			pause = min(2*pause, time.Second)
			continue
		}
		ctx, stop := context.WithTimeout(stopCtx, p.s.opts.keepalive)
		_, err := p.conn.WaitForNotification(ctx)
		stop()
		switch {
		case err == nil:
			p.signal()
			continue
		case stopCtx.Err() != nil:
			p.conn.Close(context.Background())
			return
		case isTimeout(err) && !p.conn.IsClosed():
			// Nothing came: is the connection still there?
			ctx, stop := context.WithTimeout(stopCtx, p.s.opts.keepalive)
			err = p.conn.Ping(ctx)
			stop()
			if err == nil {
				// A NOTIFY lost in a failed read would be missed: look.
				p.signal()
				continue
			}
		}
		if stopCtx.Err() != nil {
			p.conn.Close(context.Background())
			return
		}
		p.conn.Close(context.Background())
		p.conn = nil
		p.lost(err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) || pgconn.Timeout(err)
}

func (p *presence) close() {
	close(p.stop)
	<-p.done
	p.claimed.Store(false)
}

// Replica returns the replica id the store was opened with ("" for none).
func (s *Store) Replica() string { return s.opts.replica }

// Claimed reports whether this process holds its replica claim now: false
// while its own connection to the database is down, and always false
// without WithReplica.
func (s *Store) Claimed() bool { return s.presence != nil && s.presence.claimed.Load() }

// Changes returns a channel that receives a value (signals coalesce)
// whenever the journal may have grown — another replica's NOTIFY, or a
// keepalive round that found nothing, as a safety net — and whenever the
// claim is lost or taken again. Without WithReplica it never fires. It
// has one receiver: the replica's follower.
func (s *Store) Changes() <-chan struct{} {
	if s.presence == nil {
		return nil
	}
	return s.presence.changes
}

// TryTakeOver runs fn if replica id holds no claim — its process is dead,
// or has lost the database — holding the claim while fn runs, so that the
// replica cannot come back under that id until fn is done (it waits). It
// returns false, without calling fn, if the replica is live, and for this
// store's own id.
func (s *Store) TryTakeOver(ctx context.Context, id string, fn func(context.Context) error) (bool, error) {
	if id == s.opts.replica && id != "" {
		return false, nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, readErr(ctx, "postgres.TryTakeOver", err)
	}
	defer conn.Release()
	key := s.key("replica\x00" + id)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		return false, readErr(ctx, "postgres.TryTakeOver", err)
	}
	if !ok {
		return false, nil
	}
	ferr := fn(ctx)
	var unlocked bool
	if err := conn.QueryRow(context.Background(), "SELECT pg_advisory_unlock($1)", key).Scan(&unlocked); err != nil || !unlocked {
		// The lock must not outlive fn on a pooled connection: drop it.
		conn.Conn().Close(context.Background())
	}
	return true, ferr
}

// Tail calls fn with each event after seq after, by Seq, as stored, with
// whether this store (its replica id) appended it. It stops at the first
// error fn returns.
func (s *Store) Tail(ctx context.Context, after int64, fn func(e gatehouse.Event, own bool) error) error {
	self := s.opts.replica
	return s.scanEvents(ctx, "postgres.Tail", func(e gatehouse.Event, origin string) error {
		return fn(e, self != "" && origin == self)
	}, "SELECT "+eventCols+" FROM events WHERE seq > $1 ORDER BY seq", after)
}

// LastSeq returns the seq of the last event in the journal
// (gateway.Follower).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, "SELECT seq FROM head WHERE id = 1").Scan(&seq); err != nil {
		return 0, readErr(ctx, "postgres.LastSeq", err)
	}
	return seq, nil
}
