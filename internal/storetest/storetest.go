// Package storetest is the conformance suite of gatehouse.Store: what every
// store (internal/sqlite, internal/postgres) must do, as tests that run
// against a real one. A store's own tests call Run with a way to get an
// empty store; what only one store has (its files, its SQL, tampering with
// its tables) stays in that store's tests. ActionFilters (filters.go) pins
// the semantics that gatehouse.ActionFilter documents.
package storetest

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
)

// Opener opens one store — the same file or database on each call — and
// closes it when the test ends. Tests call it again to reopen the store,
// or to have two open on one database at once.
type Opener func(t *testing.T) gatehouse.Store

// Run runs the suite. fresh returns, for each test, an Opener of a new,
// empty store.
func Run(t *testing.T, fresh func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"AppendNothing", testAppendNothing},
		{"AppendLinksAndProjects", testAppendLinksAndProjects},
		{"AppendNonProjectedEvent", testAppendNonProjectedEvent},
		{"AppendKeepsDataAndTime", testAppendKeepsDataAndTime},
		{"AppendValidates", testAppendValidates},
		{"AppendIsAtomic", testAppendIsAtomic},
		{"AppendContext", testAppendContext},
		{"ConcurrentAppends", func(t *testing.T, open Opener) { ConcurrentAppends(t, open(t)) }},
		{"RequestedTwice", testRequestedTwice},
		{"Running", testRunning},
		{"Agents", testAgents},
		{"ActionsFilter", testActionsFilter},
		{"ActionsDefaultLimit", testActionsDefaultLimit},
		{"ActionsInvalidFilter", testActionsInvalidFilter},
		{"ActionsCancelled", testActionsCancelled},
		{"ActionFilters", func(t *testing.T, open Opener) { ActionFilters(t, open(t)) }},
		{"EventsAfter", testEventsAfter},
		{"EventsOfType", testEventsOfType},
		{"Head", testHead},
		{"ReopenContinuesChain", testReopenContinuesChain},
		{"CloseThenAppend", testCloseThenAppend},
		{"TwoStoresOneJournal", testTwoStoresOneJournal},
		{"Secrets", testSecrets},
		{"SecretsRefused", testSecretsRefused},
		{"SecretsConcurrent", testSecretsConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh(t)) })
	}
}

func testAppendNothing(t *testing.T, open Opener) {
	s := open(t)
	got, err := s.Append(context.Background())
	if got != nil || err != nil {
		t.Errorf("Append() = %v, %v; want nil, nil", got, err)
	}
}

func testAppendLinksAndProjects(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := Action{ID: ActionID(1), Agent: "alice", Session: "s1", Command: "echo hi", Intent: "greet", At: T0, Status: gatehouse.StatusSucceeded}
	first, last := a.Events(t)
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
	if !reflect.DeepEqual(got, AllEvents(t, s)) {
		t.Error("Append's events differ from what Events reads back")
	}

	act, err := s.Action(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if act.Status != gatehouse.StatusRunning || act.StartedAt == nil || !reflect.DeepEqual(act.Seq, []int64{1, 2, 3}) {
		t.Errorf("after first Append: %+v", act)
	}
	if _, err := s.Append(ctx, last...); err != nil {
		t.Fatal(err)
	}
	act, err = s.Action(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := &gatehouse.Action{}
	for _, e := range AllEvents(t, s) {
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
	WantCode(t, err, gatehouse.ENOTFOUND)
}

func testAppendNonProjectedEvent(t *testing.T, open Opener) {
	s := open(t)
	e := Event(t, T0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{Version: "test", PID: 1})
	got, err := s.Append(context.Background(), e, e)
	if err != nil || len(got) != 2 || got[1].Seq != 2 {
		t.Fatalf("Append = %v, %v", got, err)
	}
	if n := CheckChain(t, s); n != 2 {
		t.Errorf("%d events", n)
	}
}

// testAppendKeepsDataAndTime: the data is hashed byte for byte, so a store
// must give it back exactly as given (spacing, key order, escapes), and a
// time to the nanosecond, in UTC.
func testAppendKeepsDataAndTime(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
	data := json.RawMessage(`{ "z": 1,  "a" : "\u00e9\n", "n": 1.50 }`)
	got, err := s.Append(ctx, gatehouse.Event{Time: at, Type: gatehouse.EventSession, Subject: "sess", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	es := AllEvents(t, s)
	if len(es) != 1 || !reflect.DeepEqual(es, got) {
		t.Fatalf("Events = %+v, Append = %+v", es, got)
	}
	e := es[0]
	if string(e.Data) != string(data) {
		t.Errorf("data %s, want %s", e.Data, data)
	}
	if !e.Time.Equal(at) || e.Time.Location() != time.UTC {
		t.Errorf("time %v, want %v in UTC", e.Time, at)
	}
	if gatehouse.HashEvent(e) != e.Hash {
		t.Error("stored event does not hash to its hash")
	}
}

func testAppendValidates(t *testing.T, open Opener) {
	s := open(t)
	good := Event(t, T0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{})
	for name, e := range map[string]gatehouse.Event{
		"zero time":      {Type: gatehouse.EventDaemonStarted, Data: json.RawMessage(`{}`)},
		"year 3000":      {Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Type: gatehouse.EventDaemonStarted, Data: json.RawMessage(`{}`)},
		"no type":        {Time: T0, Data: json.RawMessage(`{}`)},
		"no data":        {Time: T0, Type: gatehouse.EventDaemonStarted},
		"bad json":       {Time: T0, Type: gatehouse.EventDaemonStarted, Data: json.RawMessage(`{`)},
		"no subject":     {Time: T0, Type: gatehouse.EventActionRequested, Data: json.RawMessage(`{}`)},
		"unknown action": Event(t, T0, gatehouse.EventActionFinished, "x", gatehouse.ActionFinished{Status: gatehouse.StatusFailed}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Append(context.Background(), good, e)
			WantCode(t, err, gatehouse.EINVALID)
		})
	}
	if n := CheckChain(t, s); n != 0 {
		t.Errorf("rejected appends left %d events", n)
	}
}

func testAppendIsAtomic(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	Record(t, s, Action{ID: ActionID(1), Agent: "a", Command: "true", At: T0, Status: gatehouse.StatusSucceeded})

	// A new action whose last event cannot follow: nothing of it is kept.
	a := Action{ID: ActionID(2), Agent: "a", Command: "true", At: T0.Add(time.Second), Status: gatehouse.StatusSucceeded}
	first, last := a.Events(t)
	bad := append(append([]gatehouse.Event(nil), first...), last[0], last[0]) // finished twice
	_, err := s.Append(ctx, bad...)
	WantCode(t, err, gatehouse.EINVALID)
	_, err = s.Action(ctx, a.ID)
	WantCode(t, err, gatehouse.ENOTFOUND)

	// Nor of events for an existing action.
	dup := Event(t, T0, gatehouse.EventActionFinished, ActionID(1), gatehouse.ActionFinished{Status: gatehouse.StatusFailed})
	_, err = s.Append(ctx, Event(t, T0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}), dup)
	WantCode(t, err, gatehouse.EINVALID)

	// Nor of an agent added and then added again in one call.
	_, err = s.Append(ctx, AgentAdded(t, T0, "zed", "t1"), AgentAdded(t, T0, "zed", "t2"))
	WantCode(t, err, gatehouse.ECONFLICT)
	_, err = s.Agent(ctx, "zed")
	WantCode(t, err, gatehouse.ENOTFOUND)

	if n := CheckChain(t, s); n != 4 {
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
	if diff := Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func testAppendContext(t *testing.T, open Opener) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Append(ctx, Event(t, T0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled ctx: %v", err)
	}
	if n := CheckChain(t, s); n != 0 {
		t.Errorf("%d events", n)
	}
}

// ConcurrentAppends runs many clients at once, some of whose batches are
// invalid, so that batches of a group commit mix successes and failures.
// Every valid action must be there in full, no invalid one at all, and the
// journal must be one chain.
func ConcurrentAppends(t *testing.T, s gatehouse.Store) {
	const clients, perClient = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			ctx := context.Background()
			for i := range perClient {
				n := c*perClient + i
				a := Action{ID: ActionID(n), Agent: fmt.Sprintf("agent-%d", c%5), Session: fmt.Sprintf("s%d", c),
					Command: "true", At: T0.Add(time.Duration(n) * time.Millisecond), Status: gatehouse.StatusSucceeded}
				first, last := a.Events(t)
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
	if got := CheckChain(t, s); got != valid*4 {
		t.Errorf("%d events, want %d", got, valid*4)
	}
	if diff := Verify(t, s); len(diff) != 0 {
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

// testRequestedTwice requests ids that exist, alone and concurrently with
// valid appends (so that it shares their batches): the answer is Apply's.
func testRequestedTwice(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	a := Action{ID: ActionID(1), Agent: "a", Command: "true", At: T0, Status: gatehouse.StatusSucceeded}
	Record(t, s, a)
	first, _ := a.Events(t)
	_, err := s.Append(ctx, first...)
	WantCode(t, err, gatehouse.EINVALID)

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
				Record(t, s, Action{ID: ActionID(n), Agent: "a", Command: "true", At: T0.Add(time.Duration(n) * time.Second), Status: gatehouse.StatusSucceeded})
			}
		})
	}
	wg.Wait()
	if n := CheckChain(t, s); n != (1+8*16)*4 {
		t.Errorf("%d events, want %d", n, (1+8*16)*4)
	}
	if diff := Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func testRunning(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	for i, st := range []gatehouse.Status{gatehouse.StatusSucceeded, gatehouse.StatusRunning, gatehouse.StatusDenied,
		gatehouse.StatusPending, gatehouse.StatusFailed, gatehouse.StatusRunning} {
		Record(t, s, Action{ID: ActionID(i), Agent: "a", Command: "x", At: T0.Add(time.Duration(10-i) * time.Second), Status: st})
	}
	running, err := s.Running(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first: action 5 was requested first.
	if got, want := IDs(running), []string{ActionID(5), ActionID(3), ActionID(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Running() = %v, want %v", got, want)
	}
	// Finishing one takes it out.
	if _, err := s.Append(ctx, Event(t, T0.Add(time.Minute), gatehouse.EventActionFinished, ActionID(3),
		gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted})); err != nil {
		t.Fatal(err)
	}
	running, _ = s.Running(ctx)
	if got, want := IDs(running), []string{ActionID(5), ActionID(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Running() = %v, want %v", got, want)
	}
	if diff := Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func testAgents(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Append(ctx, AgentAdded(t, T0, "bob", "tok-bob"), AgentAdded(t, T0, "alice", "tok-alice1")); err != nil {
		t.Fatal(err)
	}
	g, err := s.AgentByTokenHash(ctx, TokenHash("tok-alice1"))
	if err != nil || g.Name != "alice" || !g.Active() || !g.CreatedAt.Equal(T0) || g.TokenHash != TokenHash("tok-alice1") {
		t.Fatalf("AgentByTokenHash = %+v, %v", g, err)
	}
	_, err = s.AgentByTokenHash(ctx, TokenHash("wrong"))
	WantCode(t, err, gatehouse.ENOTFOUND)
	_, err = s.AgentByTokenHash(ctx, "")
	WantCode(t, err, gatehouse.ENOTFOUND)

	// Adding an active agent again conflicts; revoking an unknown one is
	// not found; neither appends anything.
	_, err = s.Append(ctx, AgentAdded(t, T0, "alice", "other"))
	WantCode(t, err, gatehouse.ECONFLICT)
	_, err = s.Append(ctx, AgentRevoked(t, T0, "carol"))
	WantCode(t, err, gatehouse.ENOTFOUND)

	t1 := T0.Add(time.Hour)
	if _, err := s.Append(ctx, AgentRevoked(t, t1, "alice")); err != nil {
		t.Fatal(err)
	}
	_, err = s.AgentByTokenHash(ctx, TokenHash("tok-alice1"))
	WantCode(t, err, gatehouse.ENOTFOUND)
	g, err = s.Agent(ctx, "alice")
	if err != nil || g.Active() || !g.RevokedAt.Equal(t1) {
		t.Fatalf("revoked Agent = %+v, %v", g, err)
	}
	_, err = s.Append(ctx, AgentRevoked(t, t1, "alice"))
	WantCode(t, err, gatehouse.ENOTFOUND)

	// Re-adding with a new token: the old one stays dead.
	t2 := t1.Add(time.Hour)
	if _, err := s.Append(ctx, AgentAdded(t, t2, "alice", "tok-alice2")); err != nil {
		t.Fatal(err)
	}
	_, err = s.AgentByTokenHash(ctx, TokenHash("tok-alice1"))
	WantCode(t, err, gatehouse.ENOTFOUND)
	g, err = s.AgentByTokenHash(ctx, TokenHash("tok-alice2"))
	if err != nil || !g.Active() || !g.CreatedAt.Equal(t2) || !reflect.DeepEqual(g.Seq, []int64{2, 3, 4}) {
		t.Fatalf("re-added agent = %+v, %v", g, err)
	}

	gs, err := s.Agents(ctx)
	if err != nil || len(gs) != 2 || gs[0].Name != "alice" || gs[1].Name != "bob" {
		t.Fatalf("Agents() = %v, %v", gs, err)
	}
	_, err = s.Agent(ctx, "carol")
	WantCode(t, err, gatehouse.ENOTFOUND)

	// Add and revoke in one Append.
	if _, err := s.Append(ctx, AgentAdded(t, t2, "dave", "tok-dave"), AgentRevoked(t, t2, "dave")); err != nil {
		t.Fatal(err)
	}
	if g, err := s.Agent(ctx, "dave"); err != nil || g.Active() {
		t.Errorf("dave = %+v, %v", g, err)
	}

	// The agents projection matches a rebuild from the journal.
	rebuilt := map[string]*gatehouse.Agent{}
	for _, e := range AllEvents(t, s) {
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
	if diff := Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func testActionsFilter(t *testing.T, open Opener) {
	s := open(t)
	min := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Minute) }
	for _, a := range []Action{
		{ID: "a1", Agent: "alice", Session: "s1", Command: "ls -la", Intent: "list files", At: min(0), Status: gatehouse.StatusSucceeded},
		{ID: "a2", Agent: "bob", Session: "s2", Command: "cat /etc/hosts", Intent: "read config", At: min(1), Status: gatehouse.StatusFailed},
		{ID: "a3", Agent: "alice", Session: "s2", Command: "grep foo", Intent: "search Foo", At: min(2), Status: gatehouse.StatusRunning},
		// a5 is requested before a4 but at the same time: ties go by id.
		{ID: "a5", Agent: "carol", Session: "s3", Command: "echo LS", Intent: "ls 100%", At: min(3), Status: gatehouse.StatusDenied},
		{ID: "a4", Agent: "alice", Session: "s1", Command: "make test", Intent: "run tests", At: min(3), Status: gatehouse.StatusPending},
		// Characters that mean something to LIKE, regular expressions or SQL.
		{ID: "a6", Agent: "dave", Session: "s4", Command: `printf '%s\n' "a_b" 'it''s'`, Intent: `back\slash`, At: min(4), Status: gatehouse.StatusSucceeded},
	} {
		Record(t, s, a)
	}

	for _, tc := range []struct {
		name string
		f    gatehouse.ActionFilter
		want []string
	}{
		{"all", gatehouse.ActionFilter{}, []string{"a1", "a2", "a3", "a4", "a5", "a6"}},
		{"agent", gatehouse.ActionFilter{Agent: "alice"}, []string{"a1", "a3", "a4"}},
		{"unknown agent", gatehouse.ActionFilter{Agent: "mallory"}, nil},
		{"session", gatehouse.ActionFilter{Session: "s2"}, []string{"a2", "a3"}},
		{"status", gatehouse.ActionFilter{Status: gatehouse.StatusRunning}, []string{"a3"}},
		{"since inclusive", gatehouse.ActionFilter{Since: min(1)}, []string{"a2", "a3", "a4", "a5", "a6"}},
		{"until exclusive", gatehouse.ActionFilter{Until: min(2)}, []string{"a1", "a2"}},
		{"since until", gatehouse.ActionFilter{Since: min(1), Until: min(3)}, []string{"a2", "a3"}},
		{"empty range", gatehouse.ActionFilter{Since: min(1), Until: min(1)}, nil},
		{"since in another zone", gatehouse.ActionFilter{Since: min(2).In(time.FixedZone("X", 3600))}, []string{"a3", "a4", "a5", "a6"}},
		{"since far past", gatehouse.ActionFilter{Since: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"a1", "a2", "a3", "a4", "a5", "a6"}},
		{"until far future", gatehouse.ActionFilter{Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Agent: "bob"}, []string{"a2"}},
		{"grep command or intent", gatehouse.ActionFilter{Grep: "ls"}, []string{"a1", "a5"}},
		{"grep is case-sensitive", gatehouse.ActionFilter{Grep: "Foo"}, []string{"a3"}},
		{"grep command", gatehouse.ActionFilter{Grep: "foo"}, []string{"a3"}},
		{"grep is literal", gatehouse.ActionFilter{Grep: "%"}, []string{"a5", "a6"}},
		{"grep underscore", gatehouse.ActionFilter{Grep: "_"}, []string{"a6"}},
		{"grep quote", gatehouse.ActionFilter{Grep: "it''s"}, []string{"a6"}},
		{"grep backslash", gatehouse.ActionFilter{Grep: `k\s`}, []string{"a6"}},
		{"grep dot", gatehouse.ActionFilter{Grep: "."}, nil},
		{"limit keeps newest", gatehouse.ActionFilter{Limit: 2}, []string{"a5", "a6"}},
		{"limit and agent", gatehouse.ActionFilter{Agent: "alice", Limit: 2}, []string{"a3", "a4"}},
		{"limit 1", gatehouse.ActionFilter{Limit: 1}, []string{"a6"}},
		{"agent and status", gatehouse.ActionFilter{Agent: "alice", Status: gatehouse.StatusPending}, []string{"a4"}},
		{"agent session since grep", gatehouse.ActionFilter{Agent: "alice", Session: "s1", Since: min(0), Grep: "test"}, []string{"a4"}},
		{"max limit", gatehouse.ActionFilter{Limit: gatehouse.MaxLimit}, []string{"a1", "a2", "a3", "a4", "a5", "a6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := s.Actions(context.Background(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := IDs(as); !reflect.DeepEqual(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
				t.Errorf("Actions(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func testActionsDefaultLimit(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	// One Append with many actions: a store's bulk path.
	var events []gatehouse.Event
	for i := range gatehouse.DefaultLimit + 5 {
		first, last := Action{ID: ActionID(i), Agent: "a", Command: "x", At: T0.Add(time.Duration(i) * time.Second), Status: gatehouse.StatusSucceeded}.Events(t)
		events = append(append(events, first...), last...)
	}
	if _, err := s.Append(ctx, events...); err != nil {
		t.Fatal(err)
	}
	as, err := s.Actions(ctx, gatehouse.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != gatehouse.DefaultLimit || as[0].ID != ActionID(5) || as[len(as)-1].ID != ActionID(gatehouse.DefaultLimit+4) {
		t.Errorf("Actions() = %d actions from %s to %s", len(as), as[0].ID, as[len(as)-1].ID)
	}
	if diff := Verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func testActionsInvalidFilter(t *testing.T, open Opener) {
	s := open(t)
	for name, f := range map[string]gatehouse.ActionFilter{
		"negative limit":  {Limit: -1},
		"limit too large": {Limit: gatehouse.MaxLimit + 1},
		"unknown status":  {Status: "done"},
		"until < since":   {Since: T0, Until: T0.Add(-time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Actions(context.Background(), f)
			WantCode(t, err, gatehouse.EINVALID)
		})
	}
}

func testActionsCancelled(t *testing.T, open Opener) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Actions(ctx, gatehouse.ActionFilter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Actions(cancelled) = %v", err)
	}
}

func testEventsAfter(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	for i := range 3 {
		Record(t, s, Action{ID: ActionID(i), Agent: "a", Command: "true", At: T0.Add(time.Duration(i) * time.Second), Status: gatehouse.StatusSucceeded})
	}
	var after []int64
	if err := s.Events(ctx, 9, func(e gatehouse.Event) error {
		after = append(after, e.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 || after[0] != 10 || after[2] != 12 {
		t.Errorf("Events(after 9) = %v, want [10 11 12]", after)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Events(ctx, 0, func(gatehouse.Event) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Events stops at fn's error: %v after %d", err, n)
	}
	es := AllEvents(t, s)
	if es[0].Time.Location() != time.UTC || !es[0].Time.Equal(T0) {
		t.Errorf("event time %v, want %v in UTC", es[0].Time, T0)
	}
}

func testEventsOfType(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	evs := []gatehouse.Event{
		AgentAdded(t, at, "a", "tok-a"),
		Event(t, at, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{PID: 1}),
		AgentRevoked(t, at, "a"),
		Event(t, at, gatehouse.EventDaemonStopped, "", gatehouse.DaemonStopped{}),
		Event(t, at, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{PID: 2}),
	}
	for _, e := range evs {
		if _, err := s.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		types []gatehouse.EventType
		want  []int64
	}{
		{nil, nil},
		{[]gatehouse.EventType{gatehouse.EventDaemonStarted}, []int64{2, 5}},
		{[]gatehouse.EventType{gatehouse.EventDaemonStopped, gatehouse.EventAgentAdded}, []int64{1, 4}},
		{[]gatehouse.EventType{gatehouse.EventRuleLearned}, nil},
	}
	for _, tt := range tests {
		var got []int64
		err := s.EventsOfType(ctx, tt.types, func(e gatehouse.Event) error {
			if gatehouse.HashEvent(e) != e.Hash {
				t.Errorf("event %d not returned as stored", e.Seq)
			}
			got = append(got, e.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
			t.Errorf("%v: got seqs %v, want %v", tt.types, got, tt.want)
		}
	}
}

func testReopenContinuesChain(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	Record(t, s, Action{ID: ActionID(1), Agent: "a", Command: "true", At: T0, Status: gatehouse.StatusSucceeded})
	Record(t, s, Action{ID: ActionID(2), Agent: "a", Command: "sleep 100", At: T0.Add(time.Second), Status: gatehouse.StatusRunning})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t)
	// Durable across reopen: both actions, the running one still running
	// (the daemon, not the store, decides to interrupt it).
	a1, err := s.Action(ctx, ActionID(1))
	if err != nil || a1.Status != gatehouse.StatusSucceeded {
		t.Fatalf("Action(1) = %+v, %v", a1, err)
	}
	running, err := s.Running(ctx)
	if err != nil || len(running) != 1 || running[0].ID != ActionID(2) {
		t.Fatalf("Running() = %v, %v", running, err)
	}
	// The running action can be finished after the reopen.
	fin := Event(t, T0.Add(2*time.Second), gatehouse.EventActionFinished, ActionID(2),
		gatehouse.ActionFinished{Status: gatehouse.StatusInterrupted, Error: "interrupted: daemon restarted"})
	got, err := s.Append(ctx, fin)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Seq != 8 {
		t.Errorf("next seq after reopen = %d, want 8", got[0].Seq)
	}
	if n := CheckChain(t, s); n != 8 {
		t.Errorf("journal has %d events, want 8", n)
	}
	if diff := Verify(t, s); len(diff) != 0 {
		t.Errorf("projection differs from journal at %v", diff)
	}
}

func testCloseThenAppend(t *testing.T, open Opener) {
	s := open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := s.Append(context.Background(), Event(t, T0, gatehouse.EventDaemonStarted, "", gatehouse.DaemonStarted{}))
	WantCode(t, err, gatehouse.EUNAVAILABLE)
	_, err = s.Action(context.Background(), "x")
	WantCode(t, err, gatehouse.EUNAVAILABLE)
}

// testTwoStoresOneJournal has two stores open on one journal (for SQLite
// a mistake it survives, for PostgreSQL how replicas run): each sees the
// other's appends and the two keep one chain.
func testTwoStoresOneJournal(t *testing.T, open Opener) {
	s1, s2 := open(t), open(t)
	for i := range 20 {
		s := s1
		if i%3 == 0 {
			s = s2
		}
		Record(t, s, Action{ID: ActionID(i), Agent: "a", Command: "true", At: T0.Add(time.Duration(i) * time.Second), Status: gatehouse.StatusSucceeded})
	}
	// An action started through one store can be finished through the other.
	a := Action{ID: ActionID(100), Agent: "a", Command: "x", At: T0.Add(time.Hour), Status: gatehouse.StatusSucceeded}
	first, last := a.Events(t)
	if _, err := s1.Append(context.Background(), first...); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Append(context.Background(), last...); err != nil {
		t.Fatal(err)
	}
	// And what one store holds as final, the other refuses to change.
	_, err := s1.Append(context.Background(), last...)
	WantCode(t, err, gatehouse.EINVALID)
	if n := CheckChain(t, s1); n != 21*4 {
		t.Errorf("%d events, want %d", n, 21*4)
	}
	if diff := Verify(t, s2); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

// Head is the newest event exactly as Events gives it; ENOTFOUND while the
// journal is empty.
func testHead(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Head(ctx); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Fatalf("Head of an empty journal: %v, want ENOTFOUND", err)
	}
	for i := range 3 {
		Record(t, s, Action{ID: ActionID(i + 1), Agent: "alice", Command: "true", At: T0.Add(time.Duration(i) * time.Second), Status: gatehouse.StatusSucceeded})
		es := AllEvents(t, s)
		head, err := s.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := es[len(es)-1]; !reflect.DeepEqual(head, want) {
			t.Errorf("Head = %+v, want the last event %+v", head, want)
		}
	}
}
