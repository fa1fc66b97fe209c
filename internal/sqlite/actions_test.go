package sqlite_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/storetest"
)

func TestActionsFilter(t *testing.T) {
	s := MustOpen(t)
	min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	for _, a := range []actionSpec{
		{id: "a1", agent: "alice", session: "s1", command: "ls -la", intent: "list files", at: min(0), status: gatehouse.StatusSucceeded},
		{id: "a2", agent: "bob", session: "s2", command: "cat /etc/hosts", intent: "read config", at: min(1), status: gatehouse.StatusFailed},
		{id: "a3", agent: "alice", session: "s2", command: "grep foo", intent: "search Foo", at: min(2), status: gatehouse.StatusRunning},
		// a5 is requested before a4 but at the same time: ties go by id.
		{id: "a5", agent: "carol", session: "s3", command: "echo LS", intent: "ls 100%", at: min(3), status: gatehouse.StatusDenied},
		{id: "a4", agent: "alice", session: "s1", command: "make test", intent: "run tests", at: min(3), status: gatehouse.StatusPending},
	} {
		record(t, s, a)
	}

	for _, tc := range []struct {
		name string
		f    gatehouse.ActionFilter
		want []string
	}{
		{"all", gatehouse.ActionFilter{}, []string{"a1", "a2", "a3", "a4", "a5"}},
		{"agent", gatehouse.ActionFilter{Agent: "alice"}, []string{"a1", "a3", "a4"}},
		{"unknown agent", gatehouse.ActionFilter{Agent: "mallory"}, nil},
		{"session", gatehouse.ActionFilter{Session: "s2"}, []string{"a2", "a3"}},
		{"status", gatehouse.ActionFilter{Status: gatehouse.StatusRunning}, []string{"a3"}},
		{"since inclusive", gatehouse.ActionFilter{Since: min(1)}, []string{"a2", "a3", "a4", "a5"}},
		{"until exclusive", gatehouse.ActionFilter{Until: min(2)}, []string{"a1", "a2"}},
		{"since until", gatehouse.ActionFilter{Since: min(1), Until: min(3)}, []string{"a2", "a3"}},
		{"empty range", gatehouse.ActionFilter{Since: min(1), Until: min(1)}, nil},
		{"since in another zone", gatehouse.ActionFilter{Since: min(2).In(time.FixedZone("X", 3600))}, []string{"a3", "a4", "a5"}},
		{"grep command or intent", gatehouse.ActionFilter{Grep: "ls"}, []string{"a1", "a5"}},
		{"grep is case-sensitive", gatehouse.ActionFilter{Grep: "Foo"}, []string{"a3"}},
		{"grep command", gatehouse.ActionFilter{Grep: "foo"}, []string{"a3"}},
		{"grep is literal", gatehouse.ActionFilter{Grep: "%"}, []string{"a5"}},
		{"grep underscore", gatehouse.ActionFilter{Grep: "_"}, nil},
		{"limit keeps newest", gatehouse.ActionFilter{Limit: 2}, []string{"a4", "a5"}},
		{"limit and agent", gatehouse.ActionFilter{Agent: "alice", Limit: 2}, []string{"a3", "a4"}},
		{"limit 1", gatehouse.ActionFilter{Limit: 1}, []string{"a5"}},
		{"agent and status", gatehouse.ActionFilter{Agent: "alice", Status: gatehouse.StatusPending}, []string{"a4"}},
		{"agent session since grep", gatehouse.ActionFilter{Agent: "alice", Session: "s1", Since: min(0), Grep: "test"}, []string{"a4"}},
		{"max limit", gatehouse.ActionFilter{Limit: gatehouse.MaxLimit}, []string{"a1", "a2", "a3", "a4", "a5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := s.Actions(context.Background(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(as); !reflect.DeepEqual(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
				t.Errorf("Actions(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func TestActionsDefaultLimit(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	// One Append with many actions: the bulk path of the writer.
	var events []gatehouse.Event
	for i := range gatehouse.DefaultLimit + 5 {
		first, last := actionSpec{id: actionID(i), agent: "a", command: "x", at: t0.Add(time.Duration(i) * time.Second), status: gatehouse.StatusSucceeded}.events(t)
		events = append(append(events, first...), last...)
	}
	if _, err := s.Append(ctx, events...); err != nil {
		t.Fatal(err)
	}
	as, err := s.Actions(ctx, gatehouse.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != gatehouse.DefaultLimit || as[0].ID != actionID(5) || as[len(as)-1].ID != actionID(gatehouse.DefaultLimit+4) {
		t.Errorf("Actions() = %d actions from %s to %s", len(as), as[0].ID, as[len(as)-1].ID)
	}
	if diff := verify(t, s); len(diff) != 0 {
		t.Errorf("differs at %v", diff)
	}
}

func TestActionsInvalidFilter(t *testing.T) {
	s := MustOpen(t)
	for name, f := range map[string]gatehouse.ActionFilter{
		"negative limit":  {Limit: -1},
		"limit too large": {Limit: gatehouse.MaxLimit + 1},
		"unknown status":  {Status: "done"},
		"until < since":   {Since: t0, Until: t0.Add(-time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Actions(context.Background(), f)
			wantCode(t, err, gatehouse.EINVALID)
		})
	}
}

func TestActionsCancelled(t *testing.T) {
	s := MustOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Actions(ctx, gatehouse.ActionFilter{}); err != context.Canceled {
		t.Errorf("Actions(cancelled) = %v", err)
	}
}

// TestActionFilterContract runs the checks every store must pass for
// ActionFilter's semantics (paging by cursor included).
func TestActionFilterContract(t *testing.T) {
	storetest.ActionFilters(t, MustOpen(t))
}
