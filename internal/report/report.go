// Package report builds the incident report (`gatehouse incident`): from
// the actions and events of a window of the journal, what happened, in
// what order, to which systems, on whose authority, what a halt stopped,
// and where it first went wrong. It is pure: Build computes a Report from
// an Input it is given, and the renderers (Markdown, HTML, JSON) write a
// Report to a writer they are given. It reads no store and no clock.
//
// Each section is one function over the Input (sections.go), so that a
// capability that journals more — file effects, credentials, undo plans —
// adds its section as one more function and one more field; until then
// the Report lists it in Omitted (see Omitted).
package report

import (
	"sort"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// Format names the JSON schema of a Report. A change that removes or
// retypes a field gets a new name; adding fields does not.
const Format = "gatehouse.incident.v1"

// Query is what a report covers: actions requested in [Since, Until) — a
// zero bound is open — of one agent and one session if set.
type Query struct {
	Since, Until time.Time
	Agent        string
	Session      string
}

// Input is what Build reads. The gateway fills it from the store; tests
// fill it from a fixed journal.
type Input struct {
	Query Query
	// Now is when the report is made: the end of the bars of actions
	// still open, and the report's generated_at.
	Now time.Time
	// Actions are those the query selects, oldest first (Store.Actions).
	Actions []*gatehouse.Action
	// Truncated says the window holds more actions than Actions: they are
	// the newest.
	Truncated bool
	// Events are the journal's halt.issued, halt.lifted and session.event
	// events, by seq. Build keeps those the query concerns; passing more
	// (the whole journal's) is fine.
	Events []gatehouse.Event
	// Related are actions outside Actions that halts name (killed,
	// cancelled, evidence), by id: requested before the window, or by
	// another agent. Missing ones are shown by id alone.
	Related map[string]*gatehouse.Action
}

// Report is the incident report. Its JSON form is the stable contract of
// `gatehouse incident -o json` and GET /v1/incident (docs/API.md).
type Report struct {
	Format      string    `json:"format"`
	GeneratedAt time.Time `json:"generated_at"`
	Query       QueryJSON `json:"query"`
	// Truncated: the window held more actions than a report takes
	// (gatehouse.MaxLimit); the report covers the newest.
	Truncated bool    `json:"truncated"`
	Summary   Summary `json:"summary"`
	// FirstWrong is the first thing that looked wrong — a denial, a
	// failure or a tripwire — by journal order; nil if nothing did.
	FirstWrong *Signal     `json:"first_wrong"`
	Timeline   []Entry     `json:"timeline"`
	Systems    []System    `json:"systems"`
	Dangerous  []Dangerous `json:"dangerous"`
	Denials    []Entry     `json:"denials"`
	Failures   []Entry     `json:"failures"`
	Retries    []Retry     `json:"retries"`
	Reviews    Reviews     `json:"reviews"`
	Halts      []HaltEntry `json:"halts"`
	Sessions   []Session   `json:"sessions"`
	// FilesChanged, Credentials and RollbackPlan come from what recovery
	// journals (recovery.go): workspace effects, injected credentials,
	// and the plan `gatehouse rollback` would follow.
	FilesChanged []FileChanged             `json:"files_changed"`
	Credentials  []gatehouse.CredentialUse `json:"credentials"`
	RollbackPlan *gatehouse.RollbackPlan   `json:"rollback_plan"`
	// Omitted names the sections the issue asks for that this build cannot
	// compute because the journal does not record their data yet:
	// "files_changed" (file effects of actions), "credentials" (credentials
	// granted and used), "rollback_plan" (restorable files and undo
	// commands). When a capability journals that data, its section becomes
	// a field of Report computed by one more function in sections.go, and
	// its name leaves this list.
	Omitted []string `json:"omitted"`
}

// omitted is Report.Omitted; see there.
var omitted = []string{}

// QueryJSON is the query as the report states it.
type QueryJSON struct {
	Since   *time.Time `json:"since"`
	Until   *time.Time `json:"until"`
	Agent   string     `json:"agent,omitempty"`
	Session string     `json:"session,omitempty"`
}

// Summary counts the window at a glance.
type Summary struct {
	Actions int `json:"actions"`
	// First is the first action's request, Last the latest request or end
	// of any action; nil when there are none.
	First    *time.Time               `json:"first"`
	Last     *time.Time               `json:"last"`
	Agents   []string                 `json:"agents"`
	Sessions int                      `json:"sessions"`
	Systems  int                      `json:"systems"`
	ByStatus map[gatehouse.Status]int `json:"by_status"`
	ByKind   map[gatehouse.Kind]int   `json:"by_kind"`
	// Counts of the sections below.
	Destructive  int `json:"destructive"`
	Irreversible int `json:"irreversible"`
	Denials      int `json:"denials"`
	Failures     int `json:"failures"`
	Retries      int `json:"retries"`
	Reviews      int `json:"reviews"`
	Halts        int `json:"halts"`
	Killed       int `json:"killed"`
}

// Entry is one action as the report shows it.
type Entry struct {
	ID         string           `json:"id"`
	Time       time.Time        `json:"time"` // requested
	StartedAt  *time.Time       `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at"`
	Agent      string           `json:"agent"`
	Session    string           `json:"session"`
	Kind       gatehouse.Kind   `json:"kind"`
	Command    string           `json:"command"`
	System     string           `json:"system"`
	Decision   gatehouse.Effect `json:"decision"`
	Rule       string           `json:"rule"`
	Status     gatehouse.Status `json:"status"`
	Error      string           `json:"error,omitempty"`
	ExitCode   *int             `json:"exit_code"`
	Signal     string           `json:"signal,omitempty"`
	DurationMS *float64         `json:"duration_ms"`
	// Class and Risk are the analysis's; Class is "" for an action that
	// was refused before it was analysed (a halt).
	Class   gatehouse.Class `json:"class"`
	Risk    int             `json:"risk"`
	TraceID string          `json:"trace_id"`
}

// Signal is something that looked wrong.
type Signal struct {
	Kind string    `json:"kind"` // "denial", "failure" or "tripwire"
	Seq  int64     `json:"seq"`  // the journal event that recorded it
	Time time.Time `json:"time"`
	// Action is the denied or failed action, or the first action of a
	// tripwire's evidence; nil if that is not known.
	Action   *Entry `json:"action"`
	Halt     string `json:"halt,omitempty"`     // tripwire: the halt it issued
	Tripwire string `json:"tripwire,omitempty"` // tripwire: its name
	Reason   string `json:"reason"`
}

// System is how the actions touched one system (the clients' claim;
// "" for actions that named none).
type System struct {
	Name    string `json:"name"`
	Actions int    `json:"actions"`
	// ByClass counts by analysis class; "unanalysed" for actions refused
	// before analysis.
	ByClass  map[string]int           `json:"by_class"`
	ByRisk   RiskCounts               `json:"by_risk"`
	MaxRisk  int                      `json:"max_risk"`
	ByStatus map[gatehouse.Status]int `json:"by_status"`
	ByKind   map[gatehouse.Kind]int   `json:"by_kind"`
	Agents   []string                 `json:"agents"`
	First    time.Time                `json:"first"`
	Last     time.Time                `json:"last"`
}

// RiskCounts buckets analysis risk: low 0–29, medium 30–59, high 60–100
// (60 is the default threshold of the risky-action tripwires).
type RiskCounts struct {
	Low    int `json:"low"`
	Medium int `json:"medium"`
	High   int `json:"high"`
}

// Dangerous is an action whose analysis class is destructive or
// irreversible, with why.
type Dangerous struct {
	Entry
	Reasons []string `json:"reasons"`
	Targets []string `json:"targets"`
}

// Retry is an action that repeats the one before it of the same agent,
// session and command, after that one failed, was denied or was
// interrupted.
type Retry struct {
	Entry
	// Attempt counts the attempts in the run of unsuccessful ones it
	// follows: 2 for the first retry.
	Attempt     int              `json:"attempt"`
	After       string           `json:"after"` // the previous attempt
	AfterStatus gatehouse.Status `json:"after_status"`
}

// Reviews is who approved or denied what, and how fast.
type Reviews struct {
	Verdicts  []Verdict  `json:"verdicts"`
	Reviewers []Reviewer `json:"reviewers"`
	// Unreviewed are actions held for review that got no verdict: still
	// pending, timed out, or cancelled by a halt.
	Unreviewed []Entry `json:"unreviewed"`
}

// Verdict is one reviewer's verdict on an action of the report.
type Verdict struct {
	Action    string    `json:"action"`
	Agent     string    `json:"agent"`
	Session   string    `json:"session"`
	Command   string    `json:"command"`
	By        string    `json:"by"`
	Verdict   string    `json:"verdict"`
	Reason    string    `json:"reason,omitempty"`
	Learned   string    `json:"learned,omitempty"`
	Time      time.Time `json:"time"`
	LatencyMS int64     `json:"latency_ms"` // how long the action had waited
}

// Reviewer sums up one reviewer's verdicts.
type Reviewer struct {
	By              string `json:"by"`
	Approved        int    `json:"approved"`
	Denied          int    `json:"denied"`
	MedianLatencyMS int64  `json:"median_latency_ms"`
	MaxLatencyMS    int64  `json:"max_latency_ms"`
}

// HaltEntry is a halt or pause in force during the window.
type HaltEntry struct {
	ID        string             `json:"id"`
	Mode      gatehouse.HaltMode `json:"mode"`
	Scope     gatehouse.Scope    `json:"scope"`
	Reason    string             `json:"reason"`
	By        string             `json:"by"`
	Kill      bool               `json:"kill"`
	Tripwire  string             `json:"tripwire,omitempty"`
	Evidence  []string           `json:"evidence,omitempty"`
	IssuedAt  time.Time          `json:"issued_at"`
	ExpiresAt *time.Time         `json:"expires_at,omitempty"`
	LiftedAt  *time.Time         `json:"lifted_at"`
	LiftedBy  string             `json:"lifted_by,omitempty"`
	// Running are the actions of its scope that were running when it
	// came, each with whether it killed it.
	Running []HaltRun `json:"running"`
	// Cancelled are the pending approvals it closed.
	Cancelled []Entry `json:"cancelled"`
	// Refused counts the actions it refused while in force.
	Refused int `json:"refused"`
	// KilledTotal and CancelledTotal are what the halt recorded, over
	// every agent; Running and Cancelled list those the query selects.
	KilledTotal    int `json:"killed_total"`
	CancelledTotal int `json:"cancelled_total"`
}

// HaltRun is an action running when a halt came.
type HaltRun struct {
	Entry
	Killed bool `json:"killed"`
	// EndedAfterMS is how long after the halt the action ended; nil while
	// it has not.
	EndedAfterMS *float64 `json:"ended_after_ms"`
}

// Session is one session of the window: what its harness said (the
// person's prompts are its stated intent) and what its actions were.
type Session struct {
	ID       string                   `json:"id"` // "" for actions that named none
	Agents   []string                 `json:"agents"`
	First    time.Time                `json:"first"`
	Last     time.Time                `json:"last"`
	Actions  int                      `json:"actions"`
	ByStatus map[gatehouse.Status]int `json:"by_status"`
	Prompts  []Prompt                 `json:"prompts"`
	Events   []SessionMark            `json:"events"`
	// Intents are the distinct intents its actions claimed, in order.
	Intents []string `json:"intents"`
}

// Prompt is what the person asked, as the harness reported it.
type Prompt struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// SessionMark is any other session event (SessionStart, Stop, SessionEnd).
type SessionMark struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	Agent string    `json:"agent"`
}

// Build computes the report of in.
func Build(in *Input) *Report {
	halts := relevantHalts(in)
	r := &Report{
		Format:       Format,
		GeneratedAt:  in.Now.UTC(),
		Query:        queryJSON(in.Query),
		Truncated:    in.Truncated,
		Timeline:     timeline(in),
		Systems:      systems(in),
		Dangerous:    dangerous(in),
		Denials:      withStatus(in, gatehouse.StatusDenied),
		Failures:     withStatus(in, gatehouse.StatusFailed, gatehouse.StatusInterrupted),
		Retries:      retries(in),
		Reviews:      reviews(in),
		Halts:        haltEntries(in, halts),
		Sessions:     sessions(in),
		FirstWrong:   firstWrong(in, halts),
		FilesChanged: filesChanged(in),
		Credentials:  credentials(in),
		RollbackPlan: rollbackPlan(in),
		Omitted:      append([]string(nil), omitted...),
	}
	r.Summary = summary(in, r)
	return r
}

func queryJSON(q Query) QueryJSON {
	out := QueryJSON{Agent: q.Agent, Session: q.Session}
	if !q.Since.IsZero() {
		t := q.Since.UTC()
		out.Since = &t
	}
	if !q.Until.IsZero() {
		t := q.Until.UTC()
		out.Until = &t
	}
	return out
}

func entry(a *gatehouse.Action) Entry {
	e := Entry{
		ID: a.ID, Time: a.Time, StartedAt: a.StartedAt, FinishedAt: a.FinishedAt,
		Agent: a.Agent, Session: a.Session, Kind: a.Kind, Command: a.Command, System: a.System,
		Decision: a.Decision.Effect, Rule: a.Decision.Rule, Status: a.Status, Error: a.Error,
		ExitCode: a.ExitCode, Signal: a.Signal, DurationMS: a.DurationMS, TraceID: a.TraceID,
	}
	if a.Analysis != nil {
		e.Class, e.Risk = a.Analysis.Class, a.Analysis.Risk
	}
	return e
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HaltActions returns the ids of the actions that the halts and pauses of
// events name (killed, cancelled, evidence) among those in force at some
// time in q's window, sorted: the actions Input.Related should hold, as
// far as the store has them.
func HaltActions(events []gatehouse.Event, q Query) []string {
	in := &Input{Query: Query{Since: q.Since, Until: q.Until}, Events: events}
	ids := map[string]bool{}
	for _, h := range relevantHalts(in) {
		for _, list := range [][]string{h.Killed, h.Cancelled, h.Evidence} {
			for _, id := range list {
				ids[id] = true
			}
		}
	}
	return sortedSet(ids)
}
