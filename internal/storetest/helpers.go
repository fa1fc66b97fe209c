package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// T0 is the time the suite's journals start at.
var T0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// Event returns a new event of type typ about subject with payload data.
func Event(tb testing.TB, at time.Time, typ gatehouse.EventType, subject string, data any) gatehouse.Event {
	tb.Helper()
	e, err := gatehouse.NewEvent(at, typ, subject, data)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// Action describes an action to record: its identity and the status it
// reaches (a final one, or pending or running).
type Action struct {
	ID, Agent, Session, Command, Intent string
	At                                  time.Time
	Status                              gatehouse.Status
}

// Events returns the events that bring the action to a.Status, split into
// the two Appends the gateway makes: before the process starts, and when
// it ends (nil while it runs).
func (a Action) Events(tb testing.TB) (first, last []gatehouse.Event) {
	tb.Helper()
	req := Event(tb, a.At, gatehouse.EventActionRequested, a.ID, gatehouse.ActionRequested{
		Agent: a.Agent, Session: a.Session, Kind: gatehouse.KindShell,
		Argv: []string{"/bin/sh", "-c", a.Command}, Command: a.Command, Shell: true,
		Cwd: "/work", Intent: a.Intent, TraceID: TraceOf(a.ID),
	})
	first = []gatehouse.Event{req}
	if a.Status == gatehouse.StatusPending {
		return first, nil
	}
	if a.Status == gatehouse.StatusDenied {
		first = append(first, Event(tb, a.At, gatehouse.EventActionDecided, a.ID,
			gatehouse.ActionDecided{Decision: gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "test", Reason: "denied by test"}}))
		last = append(last, Event(tb, a.At.Add(time.Millisecond), gatehouse.EventActionFinished, a.ID,
			gatehouse.ActionFinished{Status: gatehouse.StatusDenied}))
		return first, last
	}
	first = append(first,
		Event(tb, a.At, gatehouse.EventActionDecided, a.ID, gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision,
			Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: 5, Reasons: []string{"reads only"},
				Commands: []gatehouse.AnalyzedCommand{{Name: "true", Class: gatehouse.ClassRead}}}}),
		Event(tb, a.At.Add(time.Millisecond), gatehouse.EventActionStarted, a.ID, gatehouse.ActionStarted{}))
	if a.Status == gatehouse.StatusRunning {
		return first, nil
	}
	code, dur := 0, 12.5
	if a.Status != gatehouse.StatusSucceeded {
		code = 1
	}
	last = []gatehouse.Event{Event(tb, a.At.Add(2*time.Millisecond), gatehouse.EventActionFinished, a.ID,
		gatehouse.ActionFinished{Status: a.Status, ExitCode: &code, DurationMS: &dur,
			Stdout: "out of " + a.ID, StdoutBytes: int64(len("out of " + a.ID))})}
	return first, last
}

// Record appends the action's events as the gateway would, in two calls.
func Record(tb testing.TB, s gatehouse.Store, a Action) {
	tb.Helper()
	first, last := a.Events(tb)
	ctx := context.Background()
	if _, err := s.Append(ctx, first...); err != nil {
		tb.Fatalf("Append(%s first): %v", a.ID, err)
	}
	if last != nil {
		if _, err := s.Append(ctx, last...); err != nil {
			tb.Fatalf("Append(%s last): %v", a.ID, err)
		}
	}
}

// AgentAdded returns an agent.added event for name with token's hash.
func AgentAdded(tb testing.TB, at time.Time, name, token string) gatehouse.Event {
	return Event(tb, at, gatehouse.EventAgentAdded, name, gatehouse.AgentAdded{TokenHash: TokenHash(token), By: "admin"})
}

// AgentRevoked returns an agent.revoked event for name.
func AgentRevoked(tb testing.TB, at time.Time, name string) gatehouse.Event {
	return Event(tb, at, gatehouse.EventAgentRevoked, name, gatehouse.AgentRevoked{By: "admin"})
}

// TraceOf is the trace id the suite gives action id: a valid one, unique
// to it.
func TraceOf(id string) string {
	h := sha256.Sum256([]byte("trace " + id))
	return hex.EncodeToString(h[:16])
}

// TokenHash is the hex SHA-256 of token, as the journal keeps it.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// AllEvents returns the whole journal.
func AllEvents(tb testing.TB, s gatehouse.Store) []gatehouse.Event {
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

// CheckChain fails the test unless the journal is one unbroken chain, and
// returns its length.
func CheckChain(tb testing.TB, s gatehouse.Store) int {
	tb.Helper()
	var c gatehouse.Chain
	es := AllEvents(tb, s)
	for _, e := range es {
		if err := c.Check(e); err != nil {
			tb.Fatalf("chain: %v", err)
		}
	}
	return len(es)
}

// Verify runs gatehouse.Verify, as `gatehouse verify` does, and returns
// the ids of the actions and agents whose projection differs from the
// journal. It fails the test if the chain is broken.
func Verify(tb testing.TB, s gatehouse.Store) []string {
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

// WantCode fails the test unless err is a *gatehouse.Error with code.
func WantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := gatehouse.ErrorCode(err); got != code {
		tb.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	var e *gatehouse.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *gatehouse.Error", err, err)
	}
}

// IDs returns the ids of as, in order.
func IDs(as []*gatehouse.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// ActionID returns the n-th test action id.
func ActionID(n int) string { return fmt.Sprintf("01JACT%06d", n) }
