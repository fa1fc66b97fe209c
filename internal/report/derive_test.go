package report_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/report"
)

var base = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func sec(n float64) time.Time { return base.Add(time.Duration(n * float64(time.Second))) }

// act is a finished (or open) action for the derivation tables: requested
// at t, started at t, ended at end (zero: still running) with status;
// seq is its last event's sequence number.
type act struct {
	id, agent, session, command string
	t, end                      float64
	status                      gatehouse.Status
	seq                         int64
}

func (x act) action() *gatehouse.Action {
	a := &gatehouse.Action{ID: x.id, Time: sec(x.t), Agent: x.agent, Session: x.session, Command: x.command,
		Kind: gatehouse.KindShell, Status: x.status, Seq: []int64{x.seq - 1, x.seq},
		Decision: gatehouse.DefaultDecision, Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead}}
	if x.agent == "" {
		a.Agent = "a"
	}
	if x.status == gatehouse.StatusDenied {
		a.Decision = gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "r", Reason: "no"}
	} else {
		s := sec(x.t)
		a.StartedAt = &s
	}
	if x.status.Final() {
		e := sec(x.end)
		a.FinishedAt = &e
	}
	return a
}

func actions(xs ...act) []*gatehouse.Action {
	out := make([]*gatehouse.Action, len(xs))
	for i, x := range xs {
		out[i] = x.action()
	}
	return out
}

const (
	ok  = gatehouse.StatusSucceeded
	bad = gatehouse.StatusFailed
	no  = gatehouse.StatusDenied
	cut = gatehouse.StatusInterrupted
	on  = gatehouse.StatusRunning
)

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name string
		acts []act
		want []string // "id#attempt<after"
	}{
		{"none", []act{{id: "1", command: "x", t: 0, end: 1, status: ok}, {id: "2", command: "x", t: 2, end: 3, status: ok}}, nil},
		{"after a failure", []act{{id: "1", command: "x", t: 0, end: 1, status: bad}, {id: "2", command: "x", t: 2, end: 3, status: ok}},
			[]string{"2#2<1"}},
		{"after a denial, twice", []act{{id: "1", command: "x", t: 0, end: 0.1, status: no}, {id: "2", command: "x", t: 1, end: 1.1, status: no},
			{id: "3", command: "x", t: 2, end: 3, status: ok}}, []string{"2#2<1", "3#3<2"}},
		{"after an interruption", []act{{id: "1", command: "x", t: 0, end: 1, status: cut}, {id: "2", command: "x", t: 2, end: 3, status: ok}},
			[]string{"2#2<1"}},
		{"a success ends the run", []act{{id: "1", command: "x", t: 0, end: 1, status: bad}, {id: "2", command: "x", t: 2, end: 3, status: ok},
			{id: "3", command: "x", t: 4, end: 5, status: bad}, {id: "4", command: "x", t: 6, end: 7, status: ok}},
			[]string{"2#2<1", "4#2<3"}},
		{"another command is not a retry", []act{{id: "1", command: "x", t: 0, end: 1, status: bad}, {id: "2", command: "y", t: 2, end: 3, status: ok}}, nil},
		{"another session is not a retry", []act{{id: "1", session: "s1", command: "x", t: 0, end: 1, status: bad},
			{id: "2", session: "s2", command: "x", t: 2, end: 3, status: ok}}, nil},
		{"another agent is not a retry", []act{{id: "1", agent: "a", command: "x", t: 0, end: 1, status: bad},
			{id: "2", agent: "b", command: "x", t: 2, end: 3, status: ok}}, nil},
		{"interleaved commands keep their runs", []act{{id: "1", command: "x", t: 0, end: 1, status: bad}, {id: "2", command: "y", t: 2, end: 3, status: ok},
			{id: "3", command: "x", t: 4, end: 5, status: bad}}, []string{"3#2<1"}},
		// Started before the first one ended: concurrent, not a retry.
		{"concurrent attempts", []act{{id: "1", command: "x", t: 0, end: 5, status: bad}, {id: "2", command: "x", t: 2, end: 3, status: ok}}, nil},
		{"the same instant counts", []act{{id: "1", command: "x", t: 0, end: 2, status: bad}, {id: "2", command: "x", t: 2, end: 3, status: ok}},
			[]string{"2#2<1"}},
		{"after one still running", []act{{id: "1", command: "x", t: 0, status: on}, {id: "2", command: "x", t: 2, end: 3, status: ok}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report.Build(&report.Input{Now: sec(100), Actions: actions(tc.acts...)})
			var got []string
			for _, x := range r.Retries {
				got = append(got, fmt.Sprintf("%s#%d<%s", x.ID, x.Attempt, x.After))
				if x.AfterStatus == "" || x.AfterStatus == ok {
					t.Errorf("retry %s after status %q", x.ID, x.AfterStatus)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("retries = %v, want %v", got, tc.want)
			}
			if r.Summary.Retries != len(tc.want) {
				t.Errorf("summary counts %d retries, want %d", r.Summary.Retries, len(tc.want))
			}
		})
	}
}

func haltEvents(tb testing.TB, specs ...haltSpec) []gatehouse.Event {
	tb.Helper()
	var evs []gatehouse.Event
	for _, h := range specs {
		e, err := gatehouse.NewEvent(sec(h.t), gatehouse.EventHaltIssued, h.id, gatehouse.HaltIssued{
			Mode: h.mode, Scope: h.scope, Reason: "r", By: "admin", Kill: h.mode == gatehouse.ModeHalt && !h.noKill,
			Tripwire: h.tripwire, Evidence: h.evidence, Killed: h.killed, Cancelled: h.cancelled})
		if err != nil {
			tb.Fatal(err)
		}
		e.Seq = h.seq
		evs = append(evs, e)
		if h.lifted > 0 {
			e, err := gatehouse.NewEvent(sec(h.lifted), gatehouse.EventHaltLifted, h.id, gatehouse.HaltLifted{By: "admin"})
			if err != nil {
				tb.Fatal(err)
			}
			e.Seq = h.seq + 1000
			evs = append(evs, e)
		}
	}
	return evs
}

type haltSpec struct {
	id       string
	t        float64
	seq      int64
	mode     gatehouse.HaltMode
	scope    gatehouse.Scope
	noKill   bool
	tripwire string
	evidence []string
	killed   []string
	lifted   float64
	// cancelled is what the halt recorded as cancelled.
	cancelled []string
}

func TestFirstWrong(t *testing.T) {
	for _, tc := range []struct {
		name  string
		q     report.Query
		acts  []act
		halts []haltSpec
		want  string // "kind:id-or-halt@seq", "" for none
	}{
		{"nothing wrong", report.Query{}, []act{{id: "1", t: 0, end: 1, status: ok, seq: 4}, {id: "2", t: 1, end: 2, status: cut, seq: 8}}, nil, ""},
		{"a denial", report.Query{}, []act{{id: "1", t: 0, end: 1, status: ok, seq: 4}, {id: "2", t: 1, end: 1, status: no, seq: 7}}, nil, "denial:2@7"},
		{"a failure", report.Query{}, []act{{id: "1", t: 0, end: 1, status: bad, seq: 4}}, nil, "failure:1@4"},
		// Journal order, not request order: the long action requested
		// first failed last.
		{"by the event that ended it", report.Query{}, []act{{id: "1", t: 0, end: 60, status: bad, seq: 20}, {id: "2", t: 10, end: 11, status: no, seq: 9}},
			nil, "denial:2@9"},
		{"a tripwire first", report.Query{}, []act{{id: "1", t: 0, end: 1, status: bad, seq: 30}},
			[]haltSpec{{id: "h1", t: 0.5, seq: 12, mode: gatehouse.ModePause, scope: gatehouse.Scope{Agent: "a"}, tripwire: "velocity", evidence: []string{"1"}}},
			"tripwire:h1@12"},
		{"a halt by a person is not a signal", report.Query{}, []act{{id: "1", t: 0, end: 1, status: bad, seq: 30}},
			[]haltSpec{{id: "h1", t: 0.5, seq: 12, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}}}, "failure:1@30"},
		{"a tripwire before the window is not", report.Query{Since: sec(10)}, []act{{id: "1", t: 20, end: 21, status: bad, seq: 30}},
			[]haltSpec{{id: "h1", t: 5, seq: 12, mode: gatehouse.ModePause, scope: gatehouse.Scope{Agent: "a"}, tripwire: "velocity", lifted: 50}},
			"failure:1@30"},
		{"another agent's tripwire is not", report.Query{Agent: "a"}, []act{{id: "1", t: 20, end: 21, status: bad, seq: 30}},
			[]haltSpec{{id: "h1", t: 5, seq: 12, mode: gatehouse.ModePause, scope: gatehouse.Scope{Agent: "b"}, tripwire: "velocity"}},
			"failure:1@30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &report.Input{Query: tc.q, Now: sec(100), Actions: actions(tc.acts...), Events: haltEvents(t, tc.halts...)}
			r := report.Build(in)
			got := ""
			if s := r.FirstWrong; s != nil {
				who := s.Halt
				if s.Kind != "tripwire" {
					who = s.Action.ID
				}
				got = fmt.Sprintf("%s:%s@%d", s.Kind, who, s.Seq)
				if s.Reason == "" {
					t.Errorf("signal without a reason: %+v", s)
				}
				if s.Kind == "tripwire" && len(tc.halts[0].evidence) > 0 && (s.Action == nil || s.Action.ID != tc.halts[0].evidence[0]) {
					t.Errorf("tripwire signal's action = %+v, want the first evidence", s.Action)
				}
			}
			if got != tc.want {
				t.Errorf("first wrong = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHaltRuns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		q       report.Query
		acts    []act
		related []act
		halt    haltSpec
		// running: "id" or "id!" (killed), in order; ended: ms after the
		// halt of each, or -1 while open.
		running   []string
		ended     []float64
		cancelled []string
	}{
		{"killed and the one it spared", report.Query{},
			[]act{{id: "1", t: 0, end: 10.25, status: cut}, {id: "2", agent: "b", t: 1, end: 12, status: ok}, {id: "3", t: 2, end: 3, status: ok}},
			nil, haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}, killed: []string{"1"}},
			[]string{"1!", "2"}, []float64{250, 2000}, nil},
		{"scope: another agent's is not listed", report.Query{},
			[]act{{id: "1", t: 0, end: 10.5, status: cut}, {id: "2", agent: "b", t: 1, end: 12, status: ok}},
			nil, haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{Agent: "a"}, killed: []string{"1"}},
			[]string{"1!"}, []float64{500}, nil},
		{"no kill: running, not killed", report.Query{},
			[]act{{id: "1", t: 0, end: 20, status: ok}},
			nil, haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}, noKill: true},
			[]string{"1"}, []float64{10000}, nil},
		{"a pause kills nothing", report.Query{},
			[]act{{id: "1", t: 0, status: on}},
			nil, haltSpec{id: "h", t: 10, mode: gatehouse.ModePause, scope: gatehouse.Scope{Agent: "a"}},
			[]string{"1"}, []float64{-1}, nil},
		{"ended exactly at the halt: not running", report.Query{},
			[]act{{id: "1", t: 0, end: 10, status: ok}, {id: "2", t: 10, end: 11, status: cut}},
			nil, haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}, killed: []string{"2"}},
			[]string{"2!"}, []float64{1000}, nil},
		{"killed, requested before the window", report.Query{Since: sec(5)},
			[]act{{id: "2", t: 6, end: 7, status: ok}},
			[]act{{id: "1", t: 0, end: 10.1, status: cut}},
			haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}, killed: []string{"1"}},
			[]string{"1!"}, []float64{100}, nil},
		{"the query's agent only", report.Query{Agent: "b"},
			[]act{{id: "2", agent: "b", t: 1, end: 10.2, status: cut}},
			[]act{{id: "1", t: 0, end: 10.1, status: cut}, {id: "9", t: 9, end: 10, status: cut}},
			haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}, killed: []string{"1", "2"}, cancelled: []string{"9"}},
			[]string{"2!"}, []float64{200}, nil},
		{"cancelled approvals", report.Query{},
			[]act{{id: "1", t: 5, end: 10.1, status: cut}},
			nil, haltSpec{id: "h", t: 10, mode: gatehouse.ModeHalt, scope: gatehouse.Scope{All: true}, cancelled: []string{"1", "gone"}},
			nil, nil, []string{"1", "gone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &report.Input{Query: tc.q, Now: sec(100), Actions: actions(tc.acts...), Events: haltEvents(t, tc.halt),
				Related: map[string]*gatehouse.Action{}}
			for _, a := range actions(tc.related...) {
				in.Related[a.ID] = a
			}
			// The cancelled ones were pending, not running.
			for _, a := range append(in.Actions, mapValues(in.Related)...) {
				for _, c := range tc.halt.cancelled {
					if a.ID == c {
						a.StartedAt = nil
					}
				}
			}
			r := report.Build(in)
			if len(r.Halts) != 1 {
				t.Fatalf("%d halts in the report, want 1", len(r.Halts))
			}
			h := r.Halts[0]
			var running []string
			var ended []float64
			for _, x := range h.Running {
				s := x.ID
				if x.Killed {
					s += "!"
				}
				running = append(running, s)
				if x.EndedAfterMS == nil {
					ended = append(ended, -1)
				} else {
					ended = append(ended, *x.EndedAfterMS)
				}
			}
			var cancelled []string
			for _, c := range h.Cancelled {
				cancelled = append(cancelled, c.ID)
			}
			if !reflect.DeepEqual(running, tc.running) || !reflect.DeepEqual(ended, tc.ended) || !reflect.DeepEqual(cancelled, tc.cancelled) {
				t.Errorf("running %v ended %v cancelled %v; want %v %v %v", running, ended, cancelled, tc.running, tc.ended, tc.cancelled)
			}
			if h.KilledTotal != len(tc.halt.killed) || h.CancelledTotal != len(tc.halt.cancelled) {
				t.Errorf("totals %d killed, %d cancelled; want what the halt recorded", h.KilledTotal, h.CancelledTotal)
			}
		})
	}
}

func mapValues(m map[string]*gatehouse.Action) []*gatehouse.Action {
	var out []*gatehouse.Action
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Which halts a report shows: those in force during the window that
// concern the query.
func TestRelevantHalts(t *testing.T) {
	acts := actions(act{id: "1", agent: "a", session: "s1", t: 20, end: 21, status: ok})
	for _, tc := range []struct {
		name string
		q    report.Query
		h    haltSpec
		want bool
	}{
		{"in the window", report.Query{Since: sec(10), Until: sec(30)}, haltSpec{t: 15, scope: gatehouse.Scope{Agent: "z"}}, true},
		{"after the window", report.Query{Since: sec(10), Until: sec(30)}, haltSpec{t: 30, scope: gatehouse.Scope{All: true}}, false},
		{"lifted before the window", report.Query{Since: sec(10)}, haltSpec{t: 1, lifted: 5, scope: gatehouse.Scope{All: true}}, false},
		{"in force across the start", report.Query{Since: sec(10)}, haltSpec{t: 1, lifted: 15, scope: gatehouse.Scope{All: true}}, true},
		{"never lifted", report.Query{Since: sec(10)}, haltSpec{t: 1, scope: gatehouse.Scope{All: true}}, true},
		{"all agents, for an agent", report.Query{Agent: "b"}, haltSpec{t: 15, scope: gatehouse.Scope{All: true}}, true},
		{"that agent", report.Query{Agent: "b"}, haltSpec{t: 15, scope: gatehouse.Scope{Agent: "b"}}, true},
		{"another agent", report.Query{Agent: "a"}, haltSpec{t: 15, scope: gatehouse.Scope{Agent: "b"}}, false},
		{"a session the agent acted in", report.Query{Agent: "a"}, haltSpec{t: 15, scope: gatehouse.Scope{Session: "s1"}}, true},
		{"a session it did not", report.Query{Agent: "a"}, haltSpec{t: 15, scope: gatehouse.Scope{Session: "s9"}}, false},
		{"that session", report.Query{Session: "s9"}, haltSpec{t: 15, scope: gatehouse.Scope{Session: "s9"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.id, tc.h.mode, tc.h.seq = "h", gatehouse.ModeHalt, 1
			var in []*gatehouse.Action
			for _, a := range acts {
				if (tc.q.Agent == "" || a.Agent == tc.q.Agent) && (tc.q.Session == "" || a.Session == tc.q.Session) {
					in = append(in, a)
				}
			}
			r := report.Build(&report.Input{Query: tc.q, Now: sec(100), Actions: in, Events: haltEvents(t, tc.h)})
			if got := len(r.Halts) == 1; got != tc.want {
				t.Errorf("halt shown: %v, want %v", got, tc.want)
			}
		})
	}
}
