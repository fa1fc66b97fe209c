package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

var t0 = storetest.T0

func action(n int, status gatehouse.Status) storetest.Action {
	return storetest.Action{ID: storetest.ActionID(n), Agent: "a", Command: "true", At: t0.Add(time.Duration(n) * time.Second), Status: status}
}

func TestOpenInvalid(t *testing.T) {
	ctx := context.Background()
	_, err := postgres.Open(ctx, "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=1")
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
	_, err = postgres.Open(ctx, "postgres://u@host:notaport/x")
	storetest.WantCode(t, err, gatehouse.EINVALID)
	if got := postgres.Redact("postgres://u:s3cret@h/db?password=other"); strings.Contains(got, "s3cret") || strings.Contains(got, "other") {
		t.Errorf("Redact = %s", got)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	u := pgtest.URL(t)
	s := mustOpen(t, u)
	if s.Where() == "" {
		t.Error("Where is empty")
	}
	s.Close()
	pgtest.Exec(t, u, "UPDATE gatehouse_schema SET version = 999")
	_, err := postgres.Open(context.Background(), u)
	storetest.WantCode(t, err, gatehouse.EINVALID)
	_, err = postgres.OpenReadOnly(context.Background(), u)
	storetest.WantCode(t, err, gatehouse.EINVALID)
}

// TestOpenConcurrently starts many stores on a new database at once: the
// migrations run once, and every store works.
func TestOpenConcurrently(t *testing.T) {
	u := pgtest.URL(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 6)
	for i := range stores {
		wg.Go(func() { stores[i] = mustOpen(t, u) })
	}
	wg.Wait()
	for i, s := range stores {
		storetest.Record(t, s, action(i, gatehouse.StatusSucceeded))
	}
	if n := storetest.CheckChain(t, stores[0]); n != 4*len(stores) {
		t.Errorf("%d events", n)
	}
	if n := pgtest.Exec(t, u, "SELECT 1 FROM gatehouse_schema"); n != 1 {
		t.Errorf("gatehouse_schema has %d rows", n)
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	_, err := postgres.OpenReadOnly(ctx, u)
	storetest.WantCode(t, err, gatehouse.ENOTFOUND)

	w := mustOpen(t, u)
	storetest.Record(t, w, action(1, gatehouse.StatusSucceeded))
	r, err := postgres.OpenReadOnly(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Action(ctx, storetest.ActionID(1)); err != nil {
		t.Fatalf("read-only Action: %v", err)
	}
	_, err = r.Append(ctx, storetest.Event(t, t0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}))
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	storetest.Record(t, w, action(2, gatehouse.StatusFailed))
	if n := storetest.CheckChain(t, r); n != 8 {
		t.Errorf("read-only store sees %d events, want 8", n)
	}
}

// TestSnapshotVerify verifies while writers keep appending: the snapshot
// sees one consistent state, so the projection matches the events it
// read, though both move on meanwhile.
func TestSnapshotVerify(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	w := mustOpen(t, u)
	for i := range 50 {
		storetest.Record(t, w, action(i, gatehouse.StatusRunning))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			storetest.Record(t, w, action(1000+i, gatehouse.StatusSucceeded))
			if i < 50 {
				if _, err := w.Append(ctx, storetest.Event(t, t0, gatehouse.EventActionFinished, storetest.ActionID(i),
					gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted})); err != nil {
					t.Error(err)
				}
			}
		}
	})
	r, err := postgres.OpenReadOnly(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 5 {
		var rep *gatehouse.VerifyReport
		err := r.Snapshot(ctx, func(s gatehouse.Store) error {
			var err error
			rep, err = gatehouse.Verify(ctx, s)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("verify in a snapshot while appending: %+v", rep)
		}
	}
	close(stop)
	wg.Wait()
}

// TestSchemas puts two stores in two schemas of one database (search_path
// in the URL): two journals, each its own chain.
func TestSchemas(t *testing.T) {
	u := pgtest.URL(t)
	pgtest.Exec(t, u, "CREATE SCHEMA one; CREATE SCHEMA two")
	in := func(schema string) string {
		p, _ := url.Parse(u)
		q := p.Query()
		q.Set("search_path", schema)
		p.RawQuery = q.Encode()
		return p.String()
	}
	a, b := mustOpen(t, in("one")), mustOpen(t, in("two"))
	storetest.Record(t, a, action(1, gatehouse.StatusSucceeded))
	storetest.Record(t, b, action(1, gatehouse.StatusFailed))
	storetest.Record(t, b, action(2, gatehouse.StatusFailed))
	if n := storetest.CheckChain(t, a); n != 4 {
		t.Errorf("schema one: %d events", n)
	}
	if n := storetest.CheckChain(t, b); n != 8 {
		t.Errorf("schema two: %d events", n)
	}
	_, err := postgres.Open(context.Background(), in("three"))
	storetest.WantCode(t, err, gatehouse.EINVALID)
}

// TestColumnsOverwriteDoc: what readers get comes from the columns queries
// filter on, and an edit of a column or of the doc shows in verify.
func TestColumnsOverwriteDoc(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s := mustOpen(t, u)
	storetest.Record(t, s, storetest.Action{ID: storetest.ActionID(1), Agent: "alice", Session: "s1", Command: "rm -rf /tmp/x", Intent: "clean up", At: t0, Status: gatehouse.StatusSucceeded})
	storetest.Record(t, s, storetest.Action{ID: storetest.ActionID(2), Agent: "alice", Session: "s1", Command: "ls", Intent: "look", At: t0.Add(time.Second), Status: gatehouse.StatusSucceeded})
	if _, err := s.Append(ctx, storetest.AgentAdded(t, t0, "dave", "tok-dave"), storetest.AgentRevoked(t, t0, "dave")); err != nil {
		t.Fatal(err)
	}
	if diff := storetest.Verify(t, s); len(diff) != 0 {
		t.Fatalf("untampered store differs at %v", diff)
	}
	pgtest.Exec(t, u, "UPDATE actions SET command = 'ls', agent = 'bob', time = time + 1 WHERE id = $1", storetest.ActionID(1))
	a, err := s.Action(ctx, storetest.ActionID(1))
	if err != nil {
		t.Fatal(err)
	}
	if a.Command != "ls" || a.Agent != "bob" || !a.Time.Equal(t0.Add(time.Nanosecond)) || a.Intent != "clean up" {
		t.Errorf("Action() = %+v; want the columns' ls, bob, t0+1ns and the doc's intent", a)
	}
	if as, err := s.Actions(ctx, gatehouse.ActionFilter{Agent: "bob"}); err != nil || len(as) != 1 {
		t.Errorf("Actions(bob) = %v, %v", as, err)
	}
	pgtest.Exec(t, u, `UPDATE actions SET doc = convert_to(replace(convert_from(doc, 'UTF8'), '"cwd":"/work"', '"cwd":"/elsewhere"'), 'UTF8') WHERE id = $1`, storetest.ActionID(2))
	if a, _ := s.Action(ctx, storetest.ActionID(2)); a.Cwd != "/elsewhere" {
		t.Fatalf("doc edit not visible: cwd %q", a.Cwd)
	}
	pgtest.Exec(t, u, "UPDATE agents SET token_hash = $1, revoked_at = NULL WHERE name = 'dave'", storetest.TokenHash("stolen"))
	if g, err := s.AgentByTokenHash(ctx, storetest.TokenHash("stolen")); err != nil || g.Name != "dave" {
		t.Errorf("tampered dave = %+v, %v", g, err)
	}
	if diff := storetest.Verify(t, s); len(diff) != 3 {
		t.Errorf("verify found %v, want both actions and dave", diff)
	}
	pgtest.Exec(t, u, "UPDATE actions SET doc = '\\x7b' WHERE id = $1", storetest.ActionID(1))
	_, err = s.Action(ctx, storetest.ActionID(1))
	storetest.WantCode(t, err, gatehouse.EINTERNAL)
}

func TestEventsAsStored(t *testing.T) {
	u := pgtest.URL(t)
	s := mustOpen(t, u)
	for i := range 3 {
		storetest.Record(t, s, action(i, gatehouse.StatusSucceeded))
	}
	pgtest.Exec(t, u, `UPDATE events SET data = convert_to('{"agent":"mallory"}', 'UTF8') WHERE seq = 5`)
	es := storetest.AllEvents(t, s)
	if string(es[4].Data) != `{"agent":"mallory"}` {
		t.Errorf("tampered event read as %s", es[4].Data)
	}
	var c gatehouse.Chain
	var cerr error
	for _, e := range es {
		if cerr = c.Check(e); cerr != nil {
			break
		}
	}
	var ce *gatehouse.ChainError
	if !errors.As(cerr, &ce) || ce.Seq != 5 || ce.Reason != "altered" {
		t.Errorf("Check = %v, want event 5 altered", cerr)
	}
}

// TestSQLFailureIsolated makes the SQL of some requests fail (a trigger
// refuses their events) within batches shared with others: each fails
// alone, with EUNAVAILABLE, and the others commit.
func TestSQLFailureIsolated(t *testing.T) {
	u := pgtest.URL(t)
	s := mustOpen(t, u)
	pgtest.Exec(t, u, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused by test'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW
		WHEN (NEW.type = 'action.started' AND NEW.subject LIKE '%5') EXECUTE FUNCTION refuse()`)
	const clients, perClient = 16, 20
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				n := c*perClient + i
				first, _ := action(n, gatehouse.StatusRunning).Events(t)
				_, err := s.Append(context.Background(), first...)
				switch {
				case n%10 == 5:
					if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
						t.Errorf("action %d: %v, want EUNAVAILABLE", n, err)
					}
				case err != nil:
					t.Errorf("action %d: %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	running, err := s.Running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := clients * perClient * 9 / 10; len(running) != want {
		t.Errorf("%d running, want %d", len(running), want)
	}
	if n := storetest.CheckChain(t, s); n != len(running)*3 {
		t.Errorf("%d events, want %d", n, len(running)*3)
	}
	if diff := storetest.Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

// TestFence: an append with a fence goes in only if no event of the
// fence's types came after the point it names.
func TestFence(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s1, s2 := mustOpen(t, u), mustOpen(t, u)
	halt := func(id string) gatehouse.Event {
		return storetest.Event(t, t0, gatehouse.EventHaltIssued, id, gatehouse.HaltIssued{Mode: gatehouse.ModeHalt, Scope: gatehouse.Scope{All: true}, Reason: "r", By: "admin"})
	}
	fence := func(after int64) gatehouse.Fence {
		return gatehouse.Fence{After: after, Types: []gatehouse.EventType{gatehouse.EventHaltIssued}}
	}
	storetest.Record(t, s1, action(1, gatehouse.StatusSucceeded)) // seqs 1-4
	first, _ := action(2, gatehouse.StatusRunning).Events(t)
	if _, err := s1.AppendUnless(ctx, fence(0), first...); err != nil { // 5-7
		t.Fatalf("nothing fenced: %v", err)
	}
	if _, err := s2.Append(ctx, halt("h1")); err != nil { // 8
		t.Fatal(err)
	}
	first, _ = action(3, gatehouse.StatusRunning).Events(t)
	_, err := s1.AppendUnless(ctx, fence(7), first...)
	if !errors.Is(err, gatehouse.ErrFenced) {
		t.Fatalf("after a halt it has not seen: %v, want ErrFenced", err)
	}
	storetest.WantCode(t, err, gatehouse.ECONFLICT)
	if _, err := s1.AppendUnless(ctx, gatehouse.Fence{After: 7, Types: []gatehouse.EventType{gatehouse.EventHaltLifted}}, first...); err != nil {
		t.Fatalf("fenced by another type: %v", err)
	}
	second, _ := action(4, gatehouse.StatusRunning).Events(t)
	if _, err := s1.AppendUnless(ctx, fence(8), second...); err != nil {
		t.Fatalf("after catching up: %v", err)
	}
	if n := storetest.CheckChain(t, s1); n != 14 {
		t.Errorf("%d events, want 14", n)
	}

	// Within one commit: a halt, then a fenced append from before it.
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		wg.Go(func() {
			if i == 0 {
				_, results[i] = s1.Append(ctx, halt("h2"))
				return
			}
			first, _ := action(100+i, gatehouse.StatusRunning).Events(t)
			_, results[i] = s1.AppendUnless(ctx, fence(14), first...)
		})
	}
	wg.Wait()
	haltSeq := int64(0)
	for _, e := range storetest.AllEvents(t, s1) {
		if e.Subject == "h2" {
			haltSeq = e.Seq
		}
	}
	for _, e := range storetest.AllEvents(t, s1) {
		if e.Type == gatehouse.EventActionStarted && e.Seq > haltSeq {
			t.Errorf("action %s started at %d, after the halt at %d", e.Subject, e.Seq, haltSeq)
		}
	}
	for i, err := range results {
		if err != nil && !errors.Is(err, gatehouse.ErrFenced) {
			t.Errorf("append %d: %v", i, err)
		}
	}
}

// TestConcurrentStores appends from several stores on one database at
// once, as replicas do: the journal is one chain, without gaps or forks.
func TestConcurrentStores(t *testing.T) {
	u := pgtest.URL(t)
	stores := []*postgres.Store{mustOpen(t, u), mustOpen(t, u), mustOpen(t, u)}
	var wg sync.WaitGroup
	const clients, per = 24, 25
	for c := range clients {
		wg.Go(func() {
			for i := range per {
				n := c*per + i
				s := stores[(c+i)%len(stores)]
				first, last := action(n, gatehouse.StatusSucceeded).Events(t)
				if _, err := s.Append(context.Background(), first...); err != nil {
					t.Error(err)
					return
				}
				// The end through another store.
				if _, err := stores[(c+i+1)%len(stores)].Append(context.Background(), last...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := storetest.CheckChain(t, stores[1]); n != clients*per*4 {
		t.Errorf("%d events, want %d", n, clients*per*4)
	}
	if diff := storetest.Verify(t, stores[2]); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

// TestConnectionsKilled ends every connection to the database again and
// again while clients append: each Append that succeeded is in the journal
// once, each that failed is not in it (or, if its outcome is unknown, at
// most once), and the chain is whole.
func TestConnectionsKilled(t *testing.T) {
	u := pgtest.URL(t)
	s := mustOpen(t, u, postgres.WithWriteTimeout(20*time.Second))
	stop := make(chan struct{})
	var killer sync.WaitGroup
	killer.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			pgtest.Terminate(t, u)
		}
	})
	var mu sync.Mutex
	acked, unknown := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 40 {
				a := storetest.Action{ID: fmt.Sprintf("kill-%d-%d", c, i), Agent: "a", Command: "true", At: t0, Status: gatehouse.StatusSucceeded}
				first, _ := a.Events(t)
				_, err := s.Append(context.Background(), first...)
				mu.Lock()
				switch {
				case err == nil:
					acked[a.ID] = true
				case errors.Is(err, gatehouse.ErrOutcomeUnknown):
					unknown[a.ID] = true
				default:
					t.Errorf("Append: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	killer.Wait()
	count := map[string]int{}
	for _, e := range storetest.AllEvents(t, s) {
		if e.Type == gatehouse.EventActionRequested {
			count[e.Subject]++
		}
	}
	for id := range acked {
		if count[id] != 1 {
			t.Errorf("acknowledged action %s is in the journal %d times", id, count[id])
		}
	}
	for id, n := range count {
		if n > 1 || (!acked[id] && !unknown[id]) {
			t.Errorf("action %s: %d times in the journal, acknowledged %v", id, n, acked[id])
		}
	}
	storetest.CheckChain(t, s)
	if diff := storetest.Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
	t.Logf("%d acknowledged, %d of unknown outcome", len(acked), len(unknown))
}

// TestDatabaseGone cuts the database off: appends fail with EUNAVAILABLE
// once the write timeout runs out, reads fail at once, and both work again
// when it returns, the chain continuing where it was.
func TestDatabaseGone(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s := mustOpen(t, u, postgres.WithWriteTimeout(300*time.Millisecond))
	storetest.Record(t, s, action(1, gatehouse.StatusSucceeded))
	pgtest.Cut(t, u)
	t.Cleanup(func() { pgtest.Restore(t, u) })
	first, _ := action(2, gatehouse.StatusRunning).Events(t)
	_, err := s.Append(ctx, first...)
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	if errors.Is(err, gatehouse.ErrOutcomeUnknown) {
		t.Errorf("a write that never reached the database is of unknown outcome: %v", err)
	}
	_, err = s.Action(ctx, storetest.ActionID(1))
	storetest.WantCode(t, err, gatehouse.EUNAVAILABLE)
	pgtest.Restore(t, u)
	got, err := s.Append(ctx, first...)
	if err != nil {
		t.Fatalf("after the database returned: %v", err)
	}
	if got[0].Seq != 5 {
		t.Errorf("seq %d, want 5", got[0].Seq)
	}
	storetest.CheckChain(t, s)
}
