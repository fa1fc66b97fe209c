package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// t0 is the time the tests' journals start at.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// MustOpen opens a store in a new file under tb.TempDir and closes it
// when the test ends.
func MustOpen(tb testing.TB, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "gatehouse.db"), opts...)
}

// MustOpenPath opens the store at path and closes it when the test ends.
func MustOpenPath(tb testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the store's file with plain SQL, as a tamperer would.
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func event(tb testing.TB, at time.Time, typ gatehouse.EventType, subject string, data any) gatehouse.Event {
	tb.Helper()
	e, err := gatehouse.NewEvent(at, typ, subject, data)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

type actionSpec struct {
	id, agent, session, command, intent string
	at                                  time.Time
	status                              gatehouse.Status // the final one, or pending or running
}

// events returns the events that bring an action to spec.status, split
// into the two Appends the gateway makes: before the process starts, and
// when it ends (nil while it runs).
func (a actionSpec) events(tb testing.TB) (first, last []gatehouse.Event) {
	tb.Helper()
	req := event(tb, a.at, gatehouse.EventActionRequested, a.id, gatehouse.ActionRequested{
		Agent: a.agent, Session: a.session, Kind: gatehouse.KindShell,
		Argv: []string{"/bin/sh", "-c", a.command}, Command: a.command, Shell: true,
		Cwd: "/work", Intent: a.intent, TraceID: traceOf(a.id),
	})
	first = []gatehouse.Event{req}
	if a.status == gatehouse.StatusPending {
		return first, nil
	}
	if a.status == gatehouse.StatusDenied {
		first = append(first, event(tb, a.at, gatehouse.EventActionDecided, a.id,
			gatehouse.ActionDecided{Decision: gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "test", Reason: "denied by test"}}))
		last = append(last, event(tb, a.at.Add(time.Millisecond), gatehouse.EventActionFinished, a.id,
			gatehouse.ActionFinished{Status: gatehouse.StatusDenied}))
		return first, last
	}
	first = append(first,
		event(tb, a.at, gatehouse.EventActionDecided, a.id, gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision,
			Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: 5, Reasons: []string{"reads only"},
				Commands: []gatehouse.AnalyzedCommand{{Name: "true", Class: gatehouse.ClassRead}}}}),
		event(tb, a.at.Add(time.Millisecond), gatehouse.EventActionStarted, a.id, gatehouse.ActionStarted{}))
	if a.status == gatehouse.StatusRunning {
		return first, nil
	}
	code, dur := 0, 12.5
	if a.status != gatehouse.StatusSucceeded {
		code = 1
	}
	last = []gatehouse.Event{event(tb, a.at.Add(2*time.Millisecond), gatehouse.EventActionFinished, a.id,
		gatehouse.ActionFinished{Status: a.status, ExitCode: &code, DurationMS: &dur,
			Stdout: "out of " + a.id, StdoutBytes: int64(len("out of " + a.id))})}
	return first, last
}

// record appends the action's events as the gateway would, in two calls.
func record(tb testing.TB, s gatehouse.Store, a actionSpec) {
	tb.Helper()
	first, last := a.events(tb)
	ctx := context.Background()
	if _, err := s.Append(ctx, first...); err != nil {
		tb.Fatalf("Append(%s first): %v", a.id, err)
	}
	if last != nil {
		if _, err := s.Append(ctx, last...); err != nil {
			tb.Fatalf("Append(%s last): %v", a.id, err)
		}
	}
}

func agentAdded(tb testing.TB, at time.Time, name, token string) gatehouse.Event {
	return event(tb, at, gatehouse.EventAgentAdded, name, gatehouse.AgentAdded{TokenHash: tokenHash(token), By: "admin"})
}

func agentRevoked(tb testing.TB, at time.Time, name string) gatehouse.Event {
	return event(tb, at, gatehouse.EventAgentRevoked, name, gatehouse.AgentRevoked{By: "admin"})
}

// traceOf is the trace id the tests give action id: a valid one, unique
// to it.
func traceOf(id string) string {
	h := sha256.Sum256([]byte("trace " + id))
	return hex.EncodeToString(h[:16])
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// allEvents returns the whole journal.
func allEvents(tb testing.TB, s gatehouse.Store) []gatehouse.Event {
	tb.Helper()
	var es []gatehouse.Event
	if err := s.Events(context.Background(), 0, func(e gatehouse.Event) error {
		es = append(es, e)
		return nil
	}); err != nil {
		tb.Fatalf("Events: %v", err)
	}
	return es
}

// checkChain fails the test unless the journal is one unbroken chain, and
// returns its length.
func checkChain(tb testing.TB, s gatehouse.Store) int {
	tb.Helper()
	var c gatehouse.Chain
	es := allEvents(tb, s)
	for _, e := range es {
		if err := c.Check(e); err != nil {
			tb.Fatalf("chain: %v", err)
		}
	}
	return len(es)
}

// verify runs gatehouse.Verify, as `gatehouse verify` does, and returns
// the ids of the actions and agents whose projection differs from the
// journal. It fails the test if the chain is broken.
func verify(tb testing.TB, s gatehouse.Store) []string {
	tb.Helper()
	r, err := gatehouse.Verify(context.Background(), s)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	if r.Chain != nil {
		tb.Fatalf("Verify: chain: %v", r.Chain)
	}
	var diff []string
	for _, d := range r.Projection {
		diff = append(diff, d.ID)
	}
	return diff
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		tb.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	var e *gatehouse.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *gatehouse.Error", err, err)
	}
}

func ids(as []*gatehouse.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func actionID(n int) string { return fmt.Sprintf("01JACT%06d", n) }
