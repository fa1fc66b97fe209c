// The checks of ActionFilter's semantics: what a store's Actions returns
// is compared with ActionFilter.Match applied to every action it holds.

package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// sharedTrace is the trace id several of the corpus's actions have.
var sharedTrace = TraceOf("shared")

// filterT0 is the time the recorded actions start at.
var filterT0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// spec is one action to record.
type spec struct {
	id, agent, session, system, command, intent, trace string
	at                                                 time.Time
	status                                             gatehouse.Status
	risk                                               int  // the analysis' risk
	noAnalysis                                         bool // requested only: no decision yet
}

// corpus returns a varied set of actions: three agents, four sessions,
// three systems (one of them none), every status, risks from 0 to 95,
// actions without an analysis, commands and intents with characters that
// a LIKE would treat as wildcards, and several actions sharing a request
// time whose ids are not in the order they were recorded, so that the
// (Time, ID) order is exercised. Every fifth action shares one trace id
// (a journal may be written so); the others have their own.
func corpus() []spec {
	agents := []string{"alice", "bob", "carol"}
	systems := []string{"", "prod-db", "staging"}
	statuses := []gatehouse.Status{gatehouse.StatusSucceeded, gatehouse.StatusFailed, gatehouse.StatusDenied,
		gatehouse.StatusInterrupted, gatehouse.StatusRunning, gatehouse.StatusPending}
	commands := []string{"ls -la", "rm -rf build", "git push --force", "psql -c 'DELETE FROM t'", "echo 100%", "cat a_b", "make TEST"}
	intents := []string{"list files", "clean up", "ship it", "fix the data", "report", "read config", "run tests"}
	var out []spec
	for i := range 60 {
		// Every fourth action shares its time with the one before; ids
		// are assigned so that within a tie they sort against the
		// order of recording.
		at := filterT0.Add(time.Duration(i-i/4) * time.Minute)
		id := fmt.Sprintf("01JSTORE%04d", i)
		if i%4 == 3 {
			id = fmt.Sprintf("01JSTORA%04d", i) // sorts before its tie's "01JSTORE…"
		}
		s := spec{
			id: id, agent: agents[i%3], session: fmt.Sprintf("s%d", i%4+1), system: systems[(i/2)%3],
			command: commands[i%len(commands)], intent: intents[(i/2)%len(intents)],
			at: at, status: statuses[i%len(statuses)], risk: (i * 37) % 96, trace: TraceOf(id),
		}
		if i%5 == 0 {
			s.trace = sharedTrace
		}
		if s.status == gatehouse.StatusPending && i%12 == 5 {
			s.noAnalysis = true
		}
		out = append(out, s)
	}
	return out
}

func event(t *testing.T, at time.Time, typ gatehouse.EventType, subject string, data any) gatehouse.Event {
	t.Helper()
	e, err := gatehouse.NewEvent(at, typ, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// record appends a's events as the gateway would: request and decision
// (and start) in one call, the end in another.
func (a spec) record(t *testing.T, s gatehouse.Store) {
	t.Helper()
	ctx := context.Background()
	first := []gatehouse.Event{event(t, a.at, gatehouse.EventActionRequested, a.id, gatehouse.ActionRequested{
		Agent: a.agent, Session: a.session, Kind: gatehouse.KindShell, Argv: []string{"/bin/sh", "-c", a.command},
		Command: a.command, Shell: true, Cwd: "/work", System: a.system, Intent: a.intent, TraceID: a.trace,
	})}
	if !a.noAnalysis {
		d := gatehouse.DefaultDecision
		switch a.status {
		case gatehouse.StatusDenied:
			d = gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "r", Reason: "no"}
		case gatehouse.StatusPending:
			d = gatehouse.Decision{Effect: gatehouse.EffectReview, Rule: "r", Reason: "look first"}
		}
		first = append(first, event(t, a.at, gatehouse.EventActionDecided, a.id, gatehouse.ActionDecided{Decision: d,
			Analysis: &gatehouse.Analysis{Class: gatehouse.ClassRead, Risk: a.risk, Reasons: []string{"test"}}}))
	}
	var last []gatehouse.Event
	switch a.status {
	case gatehouse.StatusPending:
	case gatehouse.StatusDenied:
		last = append(last, event(t, a.at.Add(time.Millisecond), gatehouse.EventActionFinished, a.id,
			gatehouse.ActionFinished{Status: gatehouse.StatusDenied}))
	default:
		first = append(first, event(t, a.at.Add(time.Millisecond), gatehouse.EventActionStarted, a.id, gatehouse.ActionStarted{}))
		if a.status != gatehouse.StatusRunning {
			code := 0
			last = append(last, event(t, a.at.Add(2*time.Millisecond), gatehouse.EventActionFinished, a.id,
				gatehouse.ActionFinished{Status: a.status, ExitCode: &code}))
		}
	}
	if _, err := s.Append(ctx, first...); err != nil {
		t.Fatalf("Append(%s): %v", a.id, err)
	}
	if len(last) > 0 {
		if _, err := s.Append(ctx, last...); err != nil {
			t.Fatalf("Append(%s end): %v", a.id, err)
		}
	}
}

// want is the reference answer: every action the store holds, in (Time,
// ID) order, filtered by f.Match and cut to f's limit at the end f says.
func want(all []*gatehouse.Action, f gatehouse.ActionFilter) []string {
	var m []string
	for _, a := range all {
		if f.Match(a) {
			m = append(m, a.ID)
		}
	}
	limit := f.Limit
	if limit == 0 {
		limit = gatehouse.DefaultLimit
	}
	if len(m) > limit {
		if f.Oldest {
			m = m[:limit]
		} else {
			m = m[len(m)-limit:]
		}
	}
	return m
}

func ids(as []*gatehouse.Action) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// ActionFilters records the corpus into s, which must be empty, and
// checks Actions against ActionFilter.Match: each condition alone and in
// combination, limits from both ends, cursors inside, between and outside
// the actions, and whole listings paged by cursor in both directions.
func ActionFilters(t *testing.T, s gatehouse.Store) {
	ctx := context.Background()
	cs := corpus()
	for _, a := range cs {
		a.record(t, s)
	}
	var all []*gatehouse.Action
	if err := s.ScanActions(ctx, func(a *gatehouse.Action) error {
		all = append(all, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(cs) {
		t.Fatalf("store holds %d actions, recorded %d", len(all), len(cs))
	}
	slices.SortFunc(all, func(a, b *gatehouse.Action) int { return a.Cursor().Compare(b.Cursor()) })
	// The corpus must exercise what it claims to.
	var ties, noAnalysis int
	for i, a := range all {
		if i > 0 && a.Time.Equal(all[i-1].Time) {
			ties++
		}
		if a.Analysis == nil {
			noAnalysis++
		}
	}
	if ties == 0 || noAnalysis == 0 {
		t.Fatalf("corpus has %d time ties and %d actions without analysis; want some of each", ties, noAnalysis)
	}

	min := func(n int) time.Time { return filterT0.Add(time.Duration(n) * time.Minute) }
	mid := all[len(all)/2].Cursor()
	tie := gatehouse.Cursor{} // a cursor on an action that shares its time
	for i := 1; i < len(all); i++ {
		if all[i].Time.Equal(all[i-1].Time) {
			tie = all[i].Cursor()
			break
		}
	}
	filters := map[string]gatehouse.ActionFilter{
		"all":                     {},
		"agent":                   {Agent: "bob"},
		"unknown agent":           {Agent: "mallory"},
		"session":                 {Session: "s3"},
		"system":                  {System: "prod-db"},
		"system matches exactly":  {System: "prod"},
		"status pending":          {Status: gatehouse.StatusPending},
		"status running":          {Status: gatehouse.StatusRunning},
		"status interrupted":      {Status: gatehouse.StatusInterrupted},
		"risk 0 does not filter":  {MinRisk: 0},
		"risk at least 1":         {MinRisk: 1},
		"risk at least 50":        {MinRisk: 50},
		"risk at least 95":        {MinRisk: 95},
		"risk 100":                {MinRisk: 100},
		"since inclusive":         {Since: min(10)},
		"until exclusive":         {Until: min(10)},
		"since until":             {Since: min(5), Until: min(20)},
		"empty range":             {Since: min(7), Until: min(7)},
		"grep command":            {Grep: "rm -rf"},
		"grep intent":             {Grep: "config"},
		"grep case-sensitive":     {Grep: "test"},
		"grep percent literal":    {Grep: "%"},
		"grep underscore literal": {Grep: "_"},
		"limit newest":            {Limit: 5},
		"limit oldest":            {Limit: 5, Oldest: true},
		"oldest without limit":    {Oldest: true},
		"before mid":              {Before: mid},
		"after mid":               {After: mid},
		"before mid limit":        {Before: mid, Limit: 4},
		"after mid oldest limit":  {After: mid, Limit: 4, Oldest: true},
		"after mid newest limit":  {After: mid, Limit: 4},
		"before a tie":            {Before: tie, Limit: 3},
		"after a tie":             {After: tie, Limit: 3, Oldest: true},
		"window":                  {After: all[10].Cursor(), Before: all[20].Cursor()},
		"empty window":            {After: all[20].Cursor(), Before: all[10].Cursor()},
		"cursor between ids":      {Before: gatehouse.Cursor{Time: all[30].Time, ID: all[30].ID + "0"}, Limit: 3},
		"cursor before all":       {Before: gatehouse.Cursor{Time: filterT0.Add(-time.Hour), ID: "x"}},
		"cursor after all":        {After: gatehouse.Cursor{Time: filterT0.Add(24 * time.Hour), ID: ""}},
		"trace":                   {Trace: cs[1].trace},
		"shared trace":            {Trace: sharedTrace},
		"unknown trace":           {Trace: TraceOf("nobody's")},
		"shared trace and agent":  {Trace: sharedTrace, Agent: "bob"},
		"shared trace limit":      {Trace: sharedTrace, Limit: 3, Oldest: true},
		"agent system status":     {Agent: "alice", System: "staging", Status: gatehouse.StatusSucceeded},
		"agent risk since":        {Agent: "carol", MinRisk: 30, Since: min(3)},
		"session grep before":     {Session: "s2", Grep: "i", Before: mid, Limit: 2},
		"system risk after":       {System: "prod-db", MinRisk: 10, After: all[5].Cursor(), Oldest: true, Limit: 3},
		"everything":              {Agent: "alice", Session: "s1", System: "", Status: gatehouse.StatusSucceeded, MinRisk: 1, Since: min(1), Until: min(50), Grep: "l", Limit: 10},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			as, err := s.Actions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got, w := ids(as), want(all, f)
			if !slices.Equal(got, w) {
				t.Errorf("Actions(%+v)\n got %v\nwant %v", f, got, w)
			}
			for _, a := range as {
				if !f.Match(a) {
					t.Errorf("Actions returned %s, which the filter does not match", a.ID)
				}
			}
		})
	}

	// Brief selects as a full read does and leaves out exactly what it
	// says it leaves out.
	for name, f := range map[string]gatehouse.ActionFilter{"all": {}, "agent": {Agent: "carol"}, "trace": {Trace: sharedTrace}} {
		t.Run("brief "+name, func(t *testing.T) {
			full, err := s.Actions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			f.Brief = true
			brief, err := s.Actions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(brief), ids(full)) {
				t.Fatalf("Brief selects %v, a full read %v", ids(brief), ids(full))
			}
			for i, a := range full {
				if a.Argv == nil {
					t.Fatalf("%s has no argv: the corpus must give the check something to leave out", a.ID)
				}
				w := *a
				w.Argv, w.Stdout, w.Stderr, w.Response, w.Input = nil, "", "", "", nil
				if w.Analysis != nil {
					an := *w.Analysis
					an.Commands = nil
					w.Analysis = &an
				}
				if !reflect.DeepEqual(brief[i], &w) {
					t.Errorf("brief %s:\n got %+v\nwant %+v", a.ID, brief[i], &w)
				}
			}
		})
	}

	// Paging through whole listings: backwards from the newest with
	// Before, forwards from the oldest with After, with and without other
	// conditions; each action exactly once.
	for name, base := range map[string]gatehouse.ActionFilter{
		"all": {}, "agent": {Agent: "alice"}, "risk": {MinRisk: 40}, "system": {System: "staging"},
	} {
		t.Run("paging "+name, func(t *testing.T) {
			w := want(all, gatehouse.ActionFilter{Agent: base.Agent, MinRisk: base.MinRisk, System: base.System, Limit: gatehouse.MaxLimit})
			f := base
			f.Limit = 7
			var back []string
			for range len(all) + 1 {
				as, err := s.Actions(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(as) == 0 {
					break
				}
				back = append(ids(as), back...)
				f.Before = as[0].Cursor()
			}
			if !slices.Equal(back, w) {
				t.Errorf("paging back:\n got %v\nwant %v", back, w)
			}
			f = base
			f.Limit, f.Oldest = 7, true
			var fwd []string
			for range len(all) + 1 {
				as, err := s.Actions(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(as) == 0 {
					break
				}
				fwd = append(fwd, ids(as)...)
				f.After = as[len(as)-1].Cursor()
			}
			if !slices.Equal(fwd, w) {
				t.Errorf("paging forward:\n got %v\nwant %v", fwd, w)
			}
		})
	}

	// What Validate refuses, the store refuses.
	for name, f := range map[string]gatehouse.ActionFilter{
		"negative limit": {Limit: -1}, "limit too large": {Limit: gatehouse.MaxLimit + 1},
		"unknown status": {Status: "done"}, "until < since": {Since: filterT0, Until: filterT0.Add(-time.Second)},
		"negative risk": {MinRisk: -1}, "risk over 100": {MinRisk: 101},
		"trace not hex": {Trace: "t-" + all[0].ID}, "trace in capitals": {Trace: strings.ToUpper(all[0].TraceID)},
		"trace all zero": {Trace: strings.Repeat("0", 32)},
	} {
		t.Run("invalid "+name, func(t *testing.T) {
			_, err := s.Actions(ctx, f)
			if code := gatehouse.ErrorCode(err); code != gatehouse.EINVALID {
				t.Errorf("Actions(%+v) = %v (%s), want EINVALID", f, err, code)
			}
		})
	}
}
