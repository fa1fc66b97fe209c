package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

func TestAppendNothing(t *testing.T) {
	s := MustOpen(t)
	got, err := s.Append(context.Background())
	if got != nil || err != nil {
		t.Errorf("Append() = %v, %v; want nil, nil", got, err)
	}
}

func TestAppendLinksAndProjects(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	a := actionSpec{id: actionID(1), agent: "alice", session: "s1", command: "echo hi", intent: "greet", at: t0, status: gatehouse.StatusSucceeded}
	first, last := a.events(t)
	// A caller's slice is not modified.
	in := append([]gatehouse.Event(nil), first...)
	got, err := s.Append(ctx, in...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, first) {
		t.Error("Append modified its argument")
	}
	var c gatehouse.Chain
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d: seq %d", i, e.Seq)
		}
		if err := c.Check(e); err != nil {
			t.Error(err)
		}
	}
	if got[0].PrevHash != gatehouse.GenesisHash {
		t.Errorf("first prev_hash %s", got[0].PrevHash)
	}
	if !reflect.DeepEqual(got, allEvents(t, s)) {
		t.Error("Append's events differ from what Events reads back")
	}

	act, err := s.Action(ctx, a.id)
	if err != nil {
		t.Fatal(err)
	}
	if act.Status != gatehouse.StatusRunning || act.StartedAt == nil || !reflect.DeepEqual(act.Seq, []int64{1, 2, 3}) {
		t.Errorf("after first Append: %+v", act)
	}
	if _, err := s.Append(ctx, last...); err != nil {
		t.Fatal(err)
	}
	act, err = s.Action(ctx, a.id)
	if err != nil {
		t.Fatal(err)
	}
	want := &gatehouse.Action{}
	for _, e := range allEvents(t, s) {
		if err := want.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(act, want) {
		gotJ, _ := json.Marshal(act)
		wantJ, _ := json.Marshal(want)
		t.Errorf("Action() =\n%s\nwant\n%s", gotJ, wantJ)
	}

	_, err = s.Action(ctx, "nope")
	wantCode(t, err, gatehouse.ENOTFOUND)
}

func TestAppendNonProjectedEvent(t *testing.T) {
	s := MustOpen(t)
	e := event(t, t0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{Version: "test", PID: 1})
	got, err := s.Append(context.Background(), e, e)
	if err != nil || len(got) != 2 || got[1].Seq != 2 {
		t.Fatalf("Append = %v, %v", got, err)
	}
	if n := checkChain(t, s); n != 2 {
		t.Errorf("%d events", n)
	}
}

func TestAppendValidates(t *testing.T) {
	s := MustOpen(t)
	good := event(t, t0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{})
	for name, e := range map[string]gatehouse.Event{
		"zero time":      {Type: gatehouse.EventDaemonStarted, Data: json.RawMessage(`{}`)},
		"year 3000":      {Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Type: gatehouse.EventDaemonStarted, Data: json.RawMessage(`{}`)},
		"no type":        {Time: t0, Data: json.RawMessage(`{}`)},
		"no data":        {Time: t0, Type: gatehouse.EventDaemonStarted},
		"bad json":       {Time: t0, Type: gatehouse.EventDaemonStarted, Data: json.RawMessage(`{`)},
		"no subject":     {Time: t0, Type: gatehouse.EventActionRequested, Data: json.RawMessage(`{}`)},
		"unknown action": event(t, t0, gatehouse.EventActionFinished, "x", gatehouse.ActionFinished{Status: gatehouse.StatusFailed}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Append(context.Background(), good, e)
			wantCode(t, err, gatehouse.EINVALID)
		})
	}
	if n := checkChain(t, s); n != 0 {
		t.Errorf("rejected appends left %d events", n)
	}
}

func TestAppendIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	record(t, s, actionSpec{id: actionID(1), agent: "a", command: "true", at: t0, status: gatehouse.StatusSucceeded})

	// A new action whose last event cannot follow: nothing of it is kept.
	a := actionSpec{id: actionID(2), agent: "a", command: "true", at: t0.Add(time.Second), status: gatehouse.StatusSucceeded}
	first, last := a.events(t)
	bad := append(append([]gatehouse.Event(nil), first...), last[0], last[0]) // finished twice
	_, err := s.Append(ctx, bad...)
	wantCode(t, err, gatehouse.EINVALID)
	_, err = s.Action(ctx, a.id)
	wantCode(t, err, gatehouse.ENOTFOUND)

	// Nor of events for an existing action.
	dup := event(t, t0, gatehouse.EventActionFinished, actionID(1), gatehouse.ActionFinished{Status: gatehouse.StatusFailed})
	_, err = s.Append(ctx, event(t, t0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}), dup)
	wantCode(t, err, gatehouse.EINVALID)

	if n := checkChain(t, s); n != 4 {
		t.Errorf("%d events after failed appends, want 4", n)
	}
	// The failed appends took no sequence numbers.
	got, err := s.Append(ctx, first...)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Seq != 5 {
		t.Errorf("next seq %d, want 5", got[0].Seq)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func TestAppendContext(t *testing.T) {
	s := MustOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Append(ctx, event(t, t0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled ctx: %v", err)
	}
	if n := checkChain(t, s); n != 0 {
		t.Errorf("%d events", n)
	}
}

// TestConcurrentAppends runs many clients at once, some of whose batches
// are invalid, so that batches of the group commit mix successes and
// failures. Every valid action must be there in full, no invalid one at
// all, and the journal must be one chain.
func TestConcurrentAppends(t *testing.T) {
	t.Run("group commit", func(t *testing.T) { testConcurrentAppends(t, MustOpen(t)) })
	t.Run("one request per commit", func(t *testing.T) { testConcurrentAppends(t, MustOpen(t, sqlite.WithMaxBatch(1))) })
}

func testConcurrentAppends(t *testing.T, s *sqlite.Store) {
	const clients, perClient = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			ctx := context.Background()
			for i := range perClient {
				n := c*perClient + i
				a := actionSpec{id: actionID(n), agent: fmt.Sprintf("agent-%d", c%5), session: fmt.Sprintf("s%d", c),
					command: "true", at: t0.Add(time.Duration(n) * time.Millisecond), status: gatehouse.StatusSucceeded}
				first, last := a.events(t)
				if n%7 == 3 {
					// Invalid: finished before requested.
					_, err := s.Append(ctx, last[0], first[0])
					if gatehouse.ErrorCode(err) != gatehouse.EINVALID {
						errs <- fmt.Errorf("invalid batch %d: %v", n, err)
						return
					}
					continue
				}
				if _, err := s.Append(ctx, first...); err != nil {
					errs <- err
					return
				}
				if _, err := s.Append(ctx, last...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	valid := 0
	for n := range clients * perClient {
		if n%7 != 3 {
			valid++
		}
	}
	if got := checkChain(t, s); got != valid*4 {
		t.Errorf("%d events, want %d", got, valid*4)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
	as, err := s.Actions(context.Background(), gatehouse.ActionFilter{Limit: gatehouse.MaxLimit})
	if err != nil || len(as) != valid {
		t.Errorf("Actions: %d, %v; want %d", len(as), err, valid)
	}
	for _, a := range as {
		if a.Status != gatehouse.StatusSucceeded || len(a.Seq) != 4 {
			t.Errorf("action %s: %s, seq %v", a.ID, a.Status, a.Seq)
		}
	}
}

// TestSQLFailureIsolated makes the SQL of some requests fail (a trigger
// refuses their events), so that the writer must undo a request after it
// has written part of it, within a batch shared with others.
func TestSQLFailureIsolated(t *testing.T) {
	s := MustOpen(t, sqlite.WithMaxBatch(64))
	if _, err := rawDB(t, s.Path()).Exec(`CREATE TRIGGER refuse BEFORE INSERT ON events
		WHEN NEW.type = 'action.started' AND NEW.subject LIKE '%5'
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`); err != nil {
		t.Fatal(err)
	}
	const clients, perClient = 16, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := map[string]bool{}
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				n := c*perClient + i
				a := actionSpec{id: actionID(n), agent: "a", command: "true", at: t0.Add(time.Duration(n) * time.Millisecond), status: gatehouse.StatusRunning}
				first, _ := a.events(t)
				_, err := s.Append(context.Background(), first...)
				switch {
				case n%10 == 5:
					if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
						t.Errorf("action %d: %v, want EUNAVAILABLE", n, err)
					}
					mu.Lock()
					refused[a.id] = true
					mu.Unlock()
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
	for _, a := range running {
		if refused[a.ID] {
			t.Errorf("refused action %s was kept", a.ID)
		}
	}
	if n := checkChain(t, s); n != len(running)*3 {
		t.Errorf("%d events, want %d", n, len(running)*3)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}

	// Alone in its batch, a failing request is undone with the whole
	// transaction, and the next one continues the chain.
	n := checkChain(t, s)
	first, _ := actionSpec{id: "x5", agent: "a", command: "true", at: t0, status: gatehouse.StatusRunning}.events(t)
	_, err = s.Append(context.Background(), first...)
	wantCode(t, err, gatehouse.EUNAVAILABLE)
	first, _ = actionSpec{id: "x6", agent: "a", command: "true", at: t0, status: gatehouse.StatusRunning}.events(t)
	got, err := s.Append(context.Background(), first...)
	if err != nil || got[0].Seq != int64(n+1) {
		t.Fatalf("Append after failure = %v, %v; want seq %d", got, err, n+1)
	}
	checkChain(t, s)
}

// TestRequestedTwice requests ids that exist: the sequencer takes an
// action.requested for an id it does not hold as live to be new, and the
// committer must catch it and answer as Apply would.
func TestRequestedTwice(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	a := actionSpec{id: actionID(1), agent: "a", command: "true", at: t0, status: gatehouse.StatusSucceeded}
	record(t, s, a)
	first, _ := a.events(t)
	_, err := s.Append(ctx, first...)
	wantCode(t, err, gatehouse.EINVALID)

	// Concurrently with valid appends, so that it shares their batches.
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 20 {
				n := 100 + c*20 + i
				if i%5 == 0 {
					if _, err := s.Append(ctx, first...); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
						t.Errorf("duplicate requested: %v", err)
					}
					continue
				}
				record(t, s, actionSpec{id: actionID(n), agent: "a", command: "true", at: t0.Add(time.Duration(n) * time.Second), status: gatehouse.StatusSucceeded})
			}
		})
	}
	wg.Wait()
	if n := checkChain(t, s); n != (1+8*16)*4 {
		t.Errorf("%d events, want %d", n, (1+8*16)*4)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

// TestLockedJournal holds the write lock from another connection past the
// busy timeout: appends fail with EUNAVAILABLE, and work again, with an
// unbroken chain, once the lock is released.
func TestLockedJournal(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, sqlite.WithBusyTimeout(50*time.Millisecond))
	record(t, s, actionSpec{id: actionID(1), agent: "a", command: "true", at: t0, status: gatehouse.StatusRunning})

	conn, err := rawDB(t, s.Path()).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			first, _ := actionSpec{id: actionID(10 + i), agent: "a", command: "true", at: t0, status: gatehouse.StatusRunning}.events(t)
			_, err := s.Append(ctx, first...)
			if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
				t.Errorf("Append while locked: %v, want EUNAVAILABLE", err)
			}
		})
	}
	wg.Wait()
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	fin := event(t, t0.Add(time.Second), gatehouse.EventActionFinished, actionID(1), gatehouse.ActionFinished{Status: gatehouse.StatusFailed})
	got, err := s.Append(ctx, fin)
	if err != nil {
		t.Fatalf("Append after unlock: %v", err)
	}
	if got[0].Seq != 4 {
		t.Errorf("seq %d after failed appends, want 4", got[0].Seq)
	}
	record(t, s, actionSpec{id: actionID(2), agent: "a", command: "true", at: t0, status: gatehouse.StatusSucceeded})
	checkChain(t, s)
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func TestRunning(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	for i, st := range []gatehouse.Status{gatehouse.StatusSucceeded, gatehouse.StatusRunning, gatehouse.StatusDenied,
		gatehouse.StatusPending, gatehouse.StatusFailed, gatehouse.StatusRunning} {
		record(t, s, actionSpec{id: actionID(i), agent: "a", command: "x", at: t0.Add(time.Duration(10-i) * time.Second), status: st})
	}
	running, err := s.Running(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first: action 5 was requested first.
	if got, want := ids(running), []string{actionID(5), actionID(3), actionID(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Running() = %v, want %v", got, want)
	}
	// Finishing one takes it out.
	if _, err := s.Append(ctx, event(t, t0.Add(time.Minute), gatehouse.EventActionFinished, actionID(3),
		gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted})); err != nil {
		t.Fatal(err)
	}
	running, _ = s.Running(ctx)
	if got, want := ids(running), []string{actionID(5), actionID(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Running() = %v, want %v", got, want)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func TestAgents(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	if _, err := s.Append(ctx, agentAdded(t, t0, "bob", "tok-bob"), agentAdded(t, t0, "alice", "tok-alice1")); err != nil {
		t.Fatal(err)
	}
	g, err := s.AgentByTokenHash(ctx, tokenHash("tok-alice1"))
	if err != nil || g.Name != "alice" || !g.Active() || !g.CreatedAt.Equal(t0) || g.TokenHash != tokenHash("tok-alice1") {
		t.Fatalf("AgentByTokenHash = %+v, %v", g, err)
	}
	_, err = s.AgentByTokenHash(ctx, tokenHash("wrong"))
	wantCode(t, err, gatehouse.ENOTFOUND)
	_, err = s.AgentByTokenHash(ctx, "")
	wantCode(t, err, gatehouse.ENOTFOUND)

	// Adding an active agent again conflicts; revoking an unknown one is
	// not found; neither appends anything.
	_, err = s.Append(ctx, agentAdded(t, t0, "alice", "other"))
	wantCode(t, err, gatehouse.ECONFLICT)
	_, err = s.Append(ctx, agentRevoked(t, t0, "carol"))
	wantCode(t, err, gatehouse.ENOTFOUND)

	t1 := t0.Add(time.Hour)
	if _, err := s.Append(ctx, agentRevoked(t, t1, "alice")); err != nil {
		t.Fatal(err)
	}
	_, err = s.AgentByTokenHash(ctx, tokenHash("tok-alice1"))
	wantCode(t, err, gatehouse.ENOTFOUND)
	g, err = s.Agent(ctx, "alice")
	if err != nil || g.Active() || !g.RevokedAt.Equal(t1) {
		t.Fatalf("revoked Agent = %+v, %v", g, err)
	}
	_, err = s.Append(ctx, agentRevoked(t, t1, "alice"))
	wantCode(t, err, gatehouse.ENOTFOUND)

	// Re-adding with a new token: the old one stays dead.
	t2 := t1.Add(time.Hour)
	if _, err := s.Append(ctx, agentAdded(t, t2, "alice", "tok-alice2")); err != nil {
		t.Fatal(err)
	}
	_, err = s.AgentByTokenHash(ctx, tokenHash("tok-alice1"))
	wantCode(t, err, gatehouse.ENOTFOUND)
	g, err = s.AgentByTokenHash(ctx, tokenHash("tok-alice2"))
	if err != nil || !g.Active() || !g.CreatedAt.Equal(t2) || !reflect.DeepEqual(g.Seq, []int64{2, 3, 4}) {
		t.Fatalf("re-added agent = %+v, %v", g, err)
	}

	gs, err := s.Agents(ctx)
	if err != nil || len(gs) != 2 || gs[0].Name != "alice" || gs[1].Name != "bob" {
		t.Fatalf("Agents() = %v, %v", gs, err)
	}
	_, err = s.Agent(ctx, "carol")
	wantCode(t, err, gatehouse.ENOTFOUND)

	// Add and revoke in one Append.
	if _, err := s.Append(ctx, agentAdded(t, t2, "dave", "tok-dave"), agentRevoked(t, t2, "dave")); err != nil {
		t.Fatal(err)
	}
	if g, err := s.Agent(ctx, "dave"); err != nil || g.Active() {
		t.Errorf("dave = %+v, %v", g, err)
	}

	// The agents projection matches a rebuild from the journal.
	rebuilt := map[string]*gatehouse.Agent{}
	for _, e := range allEvents(t, s) {
		if rebuilt[e.Subject] == nil {
			rebuilt[e.Subject] = &gatehouse.Agent{}
		}
		if err := rebuilt[e.Subject].Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	gs, _ = s.Agents(ctx)
	for _, g := range gs {
		if !reflect.DeepEqual(g, rebuilt[g.Name]) {
			t.Errorf("agent %s = %+v, rebuilt %+v", g.Name, g, rebuilt[g.Name])
		}
	}

	// Tampering with the token column shows in what readers get.
	if _, err := rawDB(t, s.Path()).Exec("UPDATE agents SET token_hash = ?, revoked_at = NULL WHERE name = 'dave'", tokenHash("stolen")); err != nil {
		t.Fatal(err)
	}
	if g, err := s.AgentByTokenHash(ctx, tokenHash("stolen")); err != nil || g.Name != "dave" || !g.Active() {
		t.Errorf("tampered dave = %+v, %v", g, err)
	}
}
