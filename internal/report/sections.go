package report

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Each function here computes one section of the report from the Input.
// A new section is a new function and a new field of Report, called from
// Build.
//
// Extension points for the sections whose data other capabilities add to
// the journal (see Report.Omitted): files_changed — a function over the
// actions' recorded effects; credentials — over the credential grants and
// their uses; rollback_plan — over the effects' restorability and the
// rules' undo templates, in reverse order of the timeline.

// timeline is every action, in the order requested.
func timeline(in *Input) []Entry {
	out := make([]Entry, len(in.Actions))
	for i, a := range in.Actions {
		out[i] = entry(a)
	}
	return out
}

// classKey is how a class is counted: "unanalysed" when there was no
// analysis.
func classKey(a *gatehouse.Action) string {
	if a.Analysis == nil || a.Analysis.Class == "" {
		return "unanalysed"
	}
	return string(a.Analysis.Class)
}

func riskOf(a *gatehouse.Action) int {
	if a.Analysis == nil {
		return 0
	}
	return a.Analysis.Risk
}

// systems counts, per system, the actions by class, risk, status and kind.
func systems(in *Input) []System {
	by := map[string]*System{}
	agents := map[string]map[string]bool{}
	for _, a := range in.Actions {
		s := by[a.System]
		if s == nil {
			s = &System{Name: a.System, ByClass: map[string]int{}, ByStatus: map[gatehouse.Status]int{},
				ByKind: map[gatehouse.Kind]int{}, First: a.Time}
			by[a.System] = s
			agents[a.System] = map[string]bool{}
		}
		s.Actions++
		s.ByClass[classKey(a)]++
		s.ByStatus[a.Status]++
		s.ByKind[a.Kind]++
		switch r := riskOf(a); {
		case r >= 60:
			s.ByRisk.High++
		case r >= 30:
			s.ByRisk.Medium++
		default:
			s.ByRisk.Low++
		}
		s.MaxRisk = max(s.MaxRisk, riskOf(a))
		if a.Time.Before(s.First) {
			s.First = a.Time
		}
		if a.Time.After(s.Last) {
			s.Last = a.Time
		}
		agents[a.System][a.Agent] = true
	}
	out := make([]System, 0, len(by))
	for name, s := range by {
		s.Agents = sortedSet(agents[name])
		out = append(out, *s)
	}
	// Most actions first; then by name, so that the order is fixed.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Actions != out[j].Actions {
			return out[i].Actions > out[j].Actions
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// dangerous lists the actions analysed as destructive or irreversible, in
// the order requested, whether they ran or not.
func dangerous(in *Input) []Dangerous {
	out := []Dangerous{}
	for _, a := range in.Actions {
		// An unknown class counts as irreversible (Severity fails closed).
		if a.Analysis == nil || a.Analysis.Class == "" || a.Analysis.Class.Severity() < gatehouse.ClassDestructive.Severity() {
			continue
		}
		d := Dangerous{Entry: entry(a), Reasons: a.Analysis.Reasons, Targets: a.Analysis.Targets}
		if d.Reasons == nil {
			d.Reasons = []string{}
		}
		if d.Targets == nil {
			d.Targets = []string{}
		}
		out = append(out, d)
	}
	return out
}

// withStatus lists the actions that ended with one of statuses.
func withStatus(in *Input, statuses ...gatehouse.Status) []Entry {
	out := []Entry{}
	for _, a := range in.Actions {
		if slices.Contains(statuses, a.Status) {
			out = append(out, entry(a))
		}
	}
	return out
}

func unsuccessful(s gatehouse.Status) bool {
	return s == gatehouse.StatusFailed || s == gatehouse.StatusDenied || s == gatehouse.StatusInterrupted
}

// retries finds the actions that repeat the previous action of the same
// agent, session and command after it ended unsuccessfully (failed,
// denied or interrupted) — ended at or before the repeat was requested,
// so that two concurrent attempts are not one the retry of the other.
func retries(in *Input) []Retry {
	type key struct{ agent, session, command string }
	type run struct {
		last    *gatehouse.Action
		attempt int // of last, in its run of unsuccessful attempts
	}
	prev := make(map[key]run, 1024)
	out := []Retry{}
	for _, a := range in.Actions {
		k := key{a.Agent, a.Session, a.Command}
		p, ok := prev[k]
		attempt := 1
		if ok && unsuccessful(p.last.Status) && p.last.FinishedAt != nil && !p.last.FinishedAt.After(a.Time) {
			attempt = p.attempt + 1
			out = append(out, Retry{Entry: entry(a), Attempt: attempt, After: p.last.ID, AfterStatus: p.last.Status})
		}
		prev[k] = run{last: a, attempt: attempt}
	}
	return out
}

// reviews lists every verdict on the actions, sums them up by reviewer,
// and lists the reviewed actions that got none.
func reviews(in *Input) Reviews {
	out := Reviews{Verdicts: []Verdict{}, Reviewers: []Reviewer{}, Unreviewed: []Entry{}}
	lat := map[string][]int64{}
	by := map[string]*Reviewer{}
	for _, a := range in.Actions {
		if a.Decision.Effect == gatehouse.EffectReview && len(a.Reviews) == 0 {
			out.Unreviewed = append(out.Unreviewed, entry(a))
		}
		for _, v := range a.Reviews {
			out.Verdicts = append(out.Verdicts, Verdict{Action: a.ID, Agent: a.Agent, Session: a.Session, Command: a.Command,
				By: v.By, Verdict: v.Verdict, Reason: v.Reason, Learned: v.Learned, Time: v.Time, LatencyMS: v.LatencyMS})
			r := by[v.By]
			if r == nil {
				r = &Reviewer{By: v.By}
				by[v.By] = r
			}
			if v.Verdict == gatehouse.VerdictApprove {
				r.Approved++
			} else {
				r.Denied++
			}
			lat[v.By] = append(lat[v.By], v.LatencyMS)
		}
	}
	sort.SliceStable(out.Verdicts, func(i, j int) bool { return out.Verdicts[i].Time.Before(out.Verdicts[j].Time) })
	for name, r := range by {
		l := lat[name]
		slices.Sort(l)
		r.MedianLatencyMS = median(l)
		r.MaxLatencyMS = l[len(l)-1]
		out.Reviewers = append(out.Reviewers, *r)
	}
	sort.Slice(out.Reviewers, func(i, j int) bool { return out.Reviewers[i].By < out.Reviewers[j].By })
	return out
}

// median of sorted, non-empty l: the lower middle for an even count, so
// that it is always a latency that happened.
func median(l []int64) int64 {
	return l[(len(l)-1)/2]
}

// matches reports whether an action is one the query selects by agent
// and session (the time bound applies to requests in the window only).
func (q Query) matches(agent, session string) bool {
	return (q.Agent == "" || q.Agent == agent) && (q.Session == "" || q.Session == session)
}

func (q Query) inWindow(t time.Time) bool {
	return (q.Since.IsZero() || !t.Before(q.Since)) && (q.Until.IsZero() || t.Before(q.Until))
}

// relevantHalts projects the halt events and keeps the halts and pauses
// that were in force at some time in the window and concern the query:
// every one when it names no agent or session; otherwise those of all
// agents, of its agent or session, and those whose scope covers one of
// its actions. Oldest first.
func relevantHalts(in *Input) []*gatehouse.Halt {
	all := map[string]*gatehouse.Halt{}
	var order []string
	for _, e := range in.Events {
		if e.Type != gatehouse.EventHaltIssued && e.Type != gatehouse.EventHaltLifted {
			continue
		}
		h := all[e.Subject]
		if h == nil {
			if e.Type != gatehouse.EventHaltIssued {
				continue // lifted, issued before the events given: not known
			}
			h = &gatehouse.Halt{}
			all[e.Subject] = h
			order = append(order, e.Subject)
		}
		if h.Apply(e) != nil {
			continue
		}
	}
	q := in.Query
	var out []*gatehouse.Halt
	for _, id := range order {
		h := all[id]
		end := h.LiftedAt
		if h.ExpiresAt != nil && (end == nil || h.ExpiresAt.Before(*end)) {
			end = h.ExpiresAt
		}
		if !q.Until.IsZero() && !h.IssuedAt.Before(q.Until) {
			continue // came after the window
		}
		if !q.Since.IsZero() && end != nil && end.Before(q.Since) {
			continue // over before the window
		}
		relevant := (q.Agent == "" && q.Session == "") || h.Scope.All ||
			(q.Agent != "" && h.Scope.Agent == q.Agent) || (q.Session != "" && h.Scope.Session == q.Session)
		for _, a := range in.Actions {
			if relevant {
				break
			}
			relevant = h.Scope.Covers(a.Agent, a.Session)
		}
		if relevant {
			out = append(out, h)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].IssuedAt.Before(out[j].IssuedAt) })
	return out
}

// lookup finds actions by id among the window's and the related ones,
// indexing the window's on first use: most reports never need it.
type lookup struct {
	in   *Input
	byID map[string]*gatehouse.Action
}

func (l *lookup) find(id string) *gatehouse.Action {
	if l.byID == nil {
		l.byID = make(map[string]*gatehouse.Action, len(l.in.Actions))
		for _, a := range l.in.Actions {
			l.byID[a.ID] = a
		}
	}
	if a := l.byID[id]; a != nil {
		return a
	}
	return l.in.Related[id]
}

// haltEntries says of each halt what was running in its scope when it
// came — those it named as killed, and those of the query's actions that
// had started and not yet ended — what it cancelled and how many actions
// it refused.
func haltEntries(in *Input, halts []*gatehouse.Halt) []HaltEntry {
	ids := &lookup{in: in}
	out := []HaltEntry{}
	for _, h := range halts {
		he := HaltEntry{ID: h.ID, Mode: h.Mode, Scope: h.Scope, Reason: h.Reason, By: h.By, Kill: h.Kill,
			Tripwire: h.Tripwire, Evidence: h.Evidence, IssuedAt: h.IssuedAt, ExpiresAt: h.ExpiresAt,
			LiftedAt: h.LiftedAt, LiftedBy: h.LiftedBy, Running: []HaltRun{}, Cancelled: []Entry{},
			KilledTotal: len(h.Killed), CancelledTotal: len(h.Cancelled)}
		killed := map[string]bool{}
		seen := map[string]bool{}
		add := func(a *gatehouse.Action, k bool) {
			if seen[a.ID] || !in.Query.matches(a.Agent, a.Session) {
				return
			}
			seen[a.ID] = true
			run := HaltRun{Entry: entry(a), Killed: k}
			if a.FinishedAt != nil {
				d := float64(a.FinishedAt.Sub(h.IssuedAt).Microseconds()) / 1000
				run.EndedAfterMS = &d
			}
			he.Running = append(he.Running, run)
		}
		for _, id := range h.Killed {
			killed[id] = true
			if a := ids.find(id); a != nil {
				add(a, true)
			} else if in.Query.Agent == "" && in.Query.Session == "" {
				he.Running = append(he.Running, HaltRun{Entry: Entry{ID: id}, Killed: true})
			}
		}
		for _, a := range in.Actions {
			if a.StartedAt != nil && !a.StartedAt.After(h.IssuedAt) &&
				(a.FinishedAt == nil || a.FinishedAt.After(h.IssuedAt)) && h.Scope.Covers(a.Agent, a.Session) {
				add(a, killed[a.ID])
			}
		}
		sort.SliceStable(he.Running, func(i, j int) bool { return he.Running[i].Time.Before(he.Running[j].Time) })
		for _, id := range h.Cancelled {
			if a := ids.find(id); a != nil {
				if in.Query.matches(a.Agent, a.Session) {
					he.Cancelled = append(he.Cancelled, entry(a))
				}
			} else if in.Query.Agent == "" && in.Query.Session == "" {
				he.Cancelled = append(he.Cancelled, Entry{ID: id})
			}
		}
		for _, a := range in.Actions {
			if a.Decision.Rule == "halt:"+h.ID {
				he.Refused++
			}
		}
		out = append(out, he)
	}
	return out
}

// sessions gathers each session of the window from its actions and the
// session events its harness reported in the window: who, when, the
// prompts (its stated intent) and its actions' claimed intents.
func sessions(in *Input) []Session {
	by := map[string]*Session{}
	agents := map[string]map[string]bool{}
	intents := map[string]map[string]bool{}
	get := func(id string, t time.Time) *Session {
		s := by[id]
		if s == nil {
			s = &Session{ID: id, First: t, Last: t, ByStatus: map[gatehouse.Status]int{},
				Prompts: []Prompt{}, Events: []SessionMark{}, Intents: []string{}}
			by[id] = s
			agents[id] = map[string]bool{}
			intents[id] = map[string]bool{}
		}
		if t.Before(s.First) {
			s.First = t
		}
		if t.After(s.Last) {
			s.Last = t
		}
		return s
	}
	for _, a := range in.Actions {
		s := get(a.Session, a.Time)
		s.Actions++
		s.ByStatus[a.Status]++
		agents[a.Session][a.Agent] = true
		if a.Intent != "" && !intents[a.Session][a.Intent] {
			intents[a.Session][a.Intent] = true
			s.Intents = append(s.Intents, a.Intent)
		}
	}
	for _, e := range in.Events {
		if e.Type != gatehouse.EventSession {
			continue
		}
		var p gatehouse.SessionEvent
		if json.Unmarshal(e.Data, &p) != nil || !in.Query.matches(p.Agent, e.Subject) || !in.Query.inWindow(e.Time) {
			continue
		}
		s := get(e.Subject, e.Time)
		agents[e.Subject][p.Agent] = true
		if p.Prompt != "" {
			s.Prompts = append(s.Prompts, Prompt{Time: e.Time, Text: p.Prompt})
		} else {
			s.Events = append(s.Events, SessionMark{Time: e.Time, Event: p.Event, Agent: p.Agent})
		}
	}
	out := make([]Session, 0, len(by))
	for id, s := range by {
		s.Agents = sortedSet(agents[id])
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].First.Equal(out[j].First) {
			return out[i].First.Before(out[j].First)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// firstWrong is the earliest, by journal sequence, of: an action of the
// window denied, an action of the window that failed, and a tripwire that
// fired in the window. An action's signal is the event that ended it; a
// tripwire's is the halt it issued.
func firstWrong(in *Input, halts []*gatehouse.Halt) *Signal {
	var best *Signal
	consider := func(s *Signal) {
		if best == nil || s.Seq < best.Seq {
			best = s
		}
	}
	for _, a := range in.Actions {
		if (a.Status != gatehouse.StatusDenied && a.Status != gatehouse.StatusFailed) || len(a.Seq) == 0 || a.FinishedAt == nil {
			continue
		}
		e := entry(a)
		s := &Signal{Kind: "failure", Seq: a.Seq[len(a.Seq)-1], Time: *a.FinishedAt, Action: &e}
		if a.Status == gatehouse.StatusDenied {
			s.Kind = "denial"
			s.Reason = a.Error
			if s.Reason == "" {
				s.Reason = fmt.Sprintf("denied by rule %q: %s", a.Decision.Rule, a.Decision.Reason)
			}
		} else {
			s.Reason = failureReason(a)
		}
		consider(s)
	}
	ids := &lookup{in: in}
	for _, h := range halts {
		if h.Tripwire == "" || len(h.Seq) == 0 || !in.Query.inWindow(h.IssuedAt) {
			continue
		}
		s := &Signal{Kind: "tripwire", Seq: h.Seq[0], Time: h.IssuedAt, Halt: h.ID, Tripwire: h.Tripwire, Reason: h.Reason}
		for _, id := range h.Evidence {
			if a := ids.find(id); a != nil {
				e := entry(a)
				s.Action = &e
				break
			}
		}
		consider(s)
	}
	return best
}

func failureReason(a *gatehouse.Action) string {
	switch {
	case a.Error != "":
		return a.Error
	case a.Signal != "":
		return "ended by " + a.Signal
	case a.ExitCode != nil:
		return fmt.Sprintf("exit status %d", *a.ExitCode)
	}
	return "failed"
}

// summary counts the report's sections.
func summary(in *Input, r *Report) Summary {
	s := Summary{Actions: len(in.Actions), ByStatus: map[gatehouse.Status]int{}, ByKind: map[gatehouse.Kind]int{},
		Sessions: len(r.Sessions), Systems: len(r.Systems), Denials: len(r.Denials), Failures: len(r.Failures),
		Retries: len(r.Retries), Reviews: len(r.Reviews.Verdicts), Halts: len(r.Halts)}
	agents := map[string]bool{}
	for _, a := range in.Actions {
		agents[a.Agent] = true
		s.ByStatus[a.Status]++
		s.ByKind[a.Kind]++
		if s.First == nil || a.Time.Before(*s.First) {
			t := a.Time
			s.First = &t
		}
		last := a.Time
		if a.FinishedAt != nil && a.FinishedAt.After(last) {
			last = *a.FinishedAt
		}
		if s.Last == nil || last.After(*s.Last) {
			s.Last = &last
		}
	}
	s.Agents = sortedSet(agents)
	for _, d := range r.Dangerous {
		if d.Class == gatehouse.ClassDestructive {
			s.Destructive++
		} else {
			s.Irreversible++
		}
	}
	for _, h := range r.Halts {
		for _, run := range h.Running {
			if run.Killed {
				s.Killed++
			}
		}
	}
	return s
}
