package gatehouse

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Kind is what sort of operation an action is.
type Kind string

// Kinds of action. A shell action is executed by the gateway (gatehouse
// run) or, when External, by the agent's own harness after the gateway
// allowed it (a Claude Code hook); the other kinds are always external.
const (
	KindShell     Kind = "shell"
	KindFileWrite Kind = "file_write"
	KindFileRead  Kind = "file_read"
	KindHTTP      Kind = "http"
	KindMCPTool   Kind = "mcp_tool"
)

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindShell, KindFileWrite, KindFileRead, KindHTTP, KindMCPTool:
		return true
	}
	return false
}

// Status is where an action is in its life. The values are part of the
// public contract.
type Status string

const (
	StatusPending     Status = "pending"     // requested, not started (awaiting a decision)
	StatusRunning     Status = "running"     // started, not finished
	StatusSucceeded   Status = "succeeded"   // exited 0
	StatusFailed      Status = "failed"      // exited non-zero, was killed by a signal or timeout, or could not start
	StatusDenied      Status = "denied"      // refused by the gateway; never started
	StatusInterrupted Status = "interrupted" // stopped from outside: client gone, daemon stopped or restarted
)

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusRunning, StatusSucceeded, StatusFailed, StatusDenied, StatusInterrupted:
		return true
	}
	return false
}

// Final reports whether no further change of status can follow s.
func (s Status) Final() bool {
	return s != StatusPending && s != StatusRunning && s != ""
}

// Effect is what a decision lets happen.
type Effect string

const (
	EffectAllow  Effect = "allow"
	EffectReview Effect = "review"
	EffectDeny   Effect = "deny"
)

// Decision is the outcome of deciding whether an action may run, with its
// provenance: the rule (a policy rule's id, "learned:ID" or "default") and
// the revision of the policy in force.
type Decision struct {
	Effect Effect `json:"effect"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	Policy string `json:"policy,omitempty"` // revision (SHA-256) of the policy that decided
	// For review: how many distinct reviewers must approve, how long they
	// have, and what happens then ("deny" or "escalate").
	Approvals int      `json:"approvals,omitempty"`
	TimeoutMS int64    `json:"timeout_ms,omitempty"`
	OnTimeout string   `json:"on_timeout,omitempty"`
	Reviewers []string `json:"reviewers,omitempty"` // groups to escalate to
}

// Review is one reviewer's verdict on an action.
type Review struct {
	By      string    `json:"by"`
	Time    time.Time `json:"time"`
	Verdict string    `json:"verdict"` // "approve" or "deny"
	Reason  string    `json:"reason,omitempty"`
	Learned string    `json:"learned,omitempty"`
	// LatencyMS is how long the action had waited for this verdict.
	LatencyMS int64 `json:"latency_ms"`
}

// DefaultDecision is the decision made for every action until policy
// exists (issue 3): allow, by the rule named "default".
var DefaultDecision = Decision{Effect: EffectAllow, Rule: "default", Reason: "allowed by default"}

// Action is one operation an agent asked the gateway to perform, as
// projected from the journal's events. Its JSON field names are the public
// contract of `gatehouse log -o json`, `show` and GET /v1/actions.
type Action struct {
	ID      string    `json:"id"`   // ULID: sortable by request time
	Time    time.Time `json:"time"` // when it was requested
	Agent   string    `json:"agent"`
	Session string    `json:"session"` // the client's claim
	Model   string    `json:"model"`   // the client's claim
	Kind    Kind      `json:"kind"`
	Argv    []string  `json:"argv"`    // what is exec'd (for --shell: /bin/sh -c STRING)
	Command string    `json:"command"` // the exact command string
	Shell   bool      `json:"shell"`
	Cwd     string    `json:"cwd"`
	System  string    `json:"system"`
	Intent  string    `json:"intent"` // the client's claim
	// EnvNames lists the environment variables the client set. Values are
	// never recorded: they may be secrets.
	EnvNames  []string `json:"env_names,omitempty"`
	TimeoutMS int64    `json:"timeout_ms,omitempty"`
	TraceID   string   `json:"trace_id"`
	// Stdin is set when the client sent the command's standard input
	// (gatehouse sh, gatehouse run with stdin). Its content is never
	// recorded — it may hold secrets —; StdinBytes says how much of it
	// the command was given.
	Stdin bool `json:"stdin,omitempty"`
	// Credentials are the secrets the configuration grants the action (by
	// agent and system), each with the environment variable it is put in:
	// fixed when it is requested, so reviewers see them; received by its
	// process only if it starts (see Injected). Names only.
	Credentials []CredentialRef `json:"credentials,omitempty"`
	// External is set when the agent's harness, not the gateway, carries
	// the action out once allowed (hooks); Tool names the harness's tool
	// ("Bash", "Write", "mcp__github__create_issue"), Input holds its
	// arguments as JSON, and Client what the harness said about the call
	// (tool_use_id, permission_mode, transcript_path).
	External bool              `json:"external,omitempty"`
	Tool     string            `json:"tool,omitempty"`
	Input    json.RawMessage   `json:"input,omitempty"`
	Client   map[string]string `json:"client,omitempty"`
	// Replica is the gateway replica in charge of the action when several
	// share the journal: the one that started it (and runs it), or until
	// it starts the one that took the request. Empty for a single daemon.
	Replica string `json:"replica,omitempty"`

	Decision Decision  `json:"decision"`
	Analysis *Analysis `json:"analysis,omitempty"`
	// Undo holds the undo commands the deciding rule attached, rendered
	// for this action; Irreversible is set when its class says it cannot
	// be taken back. Both feed rollback plans.
	Undo         []Undo   `json:"undo,omitempty"`
	Irreversible bool     `json:"irreversible,omitempty"`
	Reviews      []Review `json:"reviews,omitempty"`
	// EscalatedUntil is set when a review timed out once and was extended.
	EscalatedUntil *time.Time `json:"escalated_until,omitempty"`
	Status         Status     `json:"status"`
	// Error says why the gateway could not run the action to its own end
	// ("command not found", "timed out after 5s", "interrupted: daemon
	// restarted"). Empty when the command ran and exited by itself.
	Error      string     `json:"error,omitempty"`
	ExitCode   *int       `json:"exit_code"`
	Signal     string     `json:"signal"` // e.g. "SIGKILL" when the process was ended by a signal
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS *float64   `json:"duration_ms"`

	Stdout       string `json:"stdout"` // the first OutputCap bytes
	Stderr       string `json:"stderr"`
	StdoutBytes  int64  `json:"stdout_bytes"`  // total, including what was not kept
	StderrBytes  int64  `json:"stderr_bytes"`  // total, including what was not kept
	StdoutSHA256 string `json:"stdout_sha256"` // of the full stream
	StderrSHA256 string `json:"stderr_sha256"` // of the full stream
	StdinBytes   int64  `json:"stdin_bytes,omitempty"`
	// Response is what an external action's harness reported as its
	// result (the tool's response, capped).
	Response string `json:"response,omitempty"`
	// Effects is what the action changed in its agent's workspaces (files
	// created, modified, deleted, renamed, mode changes), recorded by
	// snapshots before and after it; nil when no workspace was recorded.
	Effects *Effects `json:"effects,omitempty"`
	// RolledBack is set once a rollback restored its file changes.
	RolledBack *RolledBack `json:"rolled_back,omitempty"`

	// Seq lists the journal sequence numbers of the events this action was
	// projected from, oldest first.
	Seq []int64 `json:"seq"`
}

// ActionFilter selects actions. Zero fields do not filter; the fields that
// are set must all hold (AND). The semantics below are the contract of
// every Store: Match is their reference implementation, and a store's
// tests compare its query with Match.
//
// Actions are listed in one total order, by (Time, ID): by request time,
// ties broken by comparing IDs as byte strings. Cursors (Before, After)
// are positions in that order, so paging by cursor never skips or repeats
// an action, whatever else is appended meanwhile.
type ActionFilter struct {
	// Since and Until bound Time (the request time): Since inclusive,
	// Until exclusive.
	Since, Until time.Time
	Agent        string // Action.Agent equals it
	Session      string // Action.Session equals it
	System       string // Action.System equals it (the client's claim)
	Status       Status // Action.Status equals it
	// MinRisk keeps the actions whose analysed risk (Analysis.Risk, 0 to
	// 100) is at least MinRisk. An action without an analysis has risk 0,
	// so it is kept only when MinRisk is 0 — which does not filter.
	MinRisk int
	// Grep keeps the actions whose Command or Intent contains it: a
	// literal, case-sensitive substring (no wildcards, no folding).
	Grep string
	// Before keeps the actions strictly before the cursor in the (Time,
	// ID) order; After those strictly after it. A zero Cursor does not
	// filter.
	Before, After Cursor
	// Trace selects the actions whose TraceID equals it exactly. It must
	// be empty or a valid trace id (ValidTraceID: 32 lowercase hex digits;
	// turn user input into one with ParseTraceID); a store returns
	// EINVALID for anything else. Several actions may share a trace id
	// only if the journal was written so; the gateway gives each action
	// its own.
	Trace string
	// Brief leaves out of each action what can be large and a summary of
	// many actions does not need: Argv, Stdout, Stderr, Response, Input and
	// Analysis.Commands come back empty (Command still holds the command,
	// Analysis its class, risk, reasons and targets, and the output sizes
	// and hashes are there). The incident report reads so. Brief does not
	// select: Match ignores it.
	Brief bool
	// Limit caps the result at Limit actions; 0 means the store's default
	// (DefaultLimit). Which ones: the newest that match — the page just
	// before Before, or the newest of all — unless Oldest is set, when the
	// oldest that match are kept (the page just after After). Either way
	// the result is listed oldest first.
	Limit  int
	Oldest bool
}

// Validate returns EINVALID if f cannot be a query: a limit out of range
// (below 0 or over MaxLimit), an unknown status, a risk outside 0 to 100,
// a Trace that is not a trace id, or Until before Since. Filters that merely select nothing (an empty
// time range, Before not after After) are valid.
func (f ActionFilter) Validate() error {
	switch {
	case f.Limit < 0 || f.Limit > MaxLimit:
		return Errorf(EINVALID, "limit %d is out of range (0 to %d)", f.Limit, MaxLimit)
	case f.Status != "" && !f.Status.Valid():
		return Errorf(EINVALID, "unknown status %q", f.Status)
	case f.MinRisk < 0 || f.MinRisk > MaxRisk:
		return Errorf(EINVALID, "risk %d is out of range (0 to %d)", f.MinRisk, MaxRisk)
	case f.Trace != "" && !ValidTraceID(f.Trace):
		return Errorf(EINVALID, "trace %q is not a trace id (32 lowercase hex digits)", f.Trace)
	case !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since):
		return Errorf(EINVALID, "until (%s) is before since (%s)",
			f.Until.UTC().Format(time.RFC3339Nano), f.Since.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// MaxRisk is the highest risk an analysis gives.
const MaxRisk = 100

// Match reports whether a passes every condition of f but Limit and
// Oldest, which choose among the matches rather than test one, and Brief,
// which shapes what is returned.
func (f ActionFilter) Match(a *Action) bool {
	switch {
	case !f.Since.IsZero() && a.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !a.Time.Before(f.Until):
		return false
	case f.Agent != "" && a.Agent != f.Agent:
		return false
	case f.Session != "" && a.Session != f.Session:
		return false
	case f.System != "" && a.System != f.System:
		return false
	case f.Status != "" && a.Status != f.Status:
		return false
	case f.MinRisk > 0 && a.Risk() < f.MinRisk:
		return false
	case f.Grep != "" && !strings.Contains(a.Command, f.Grep) && !strings.Contains(a.Intent, f.Grep):
		return false
	case f.Trace != "" && a.TraceID != f.Trace:
		return false
	case !f.Before.IsZero() && a.Cursor().Compare(f.Before) >= 0:
		return false
	case !f.After.IsZero() && a.Cursor().Compare(f.After) <= 0:
		return false
	}
	return true
}

// Risk is the action's analysed risk, 0 without an analysis.
func (a *Action) Risk() int {
	if a.Analysis == nil {
		return 0
	}
	return a.Analysis.Risk
}

// Cursor is a position in the order actions are listed in: (Time, ID).
// The zero Cursor is no position.
type Cursor struct {
	Time time.Time
	ID   string
}

// Cursor returns a's position in the listing order.
func (a *Action) Cursor() Cursor { return Cursor{Time: a.Time, ID: a.ID} }

// IsZero reports whether c is no position.
func (c Cursor) IsZero() bool { return c.Time.IsZero() && c.ID == "" }

// Compare orders c and d by Time, then by ID as byte strings: -1 if c is
// before d, 0 if they are the same position, +1 if c is after d.
func (c Cursor) Compare(d Cursor) int {
	if n := c.Time.Compare(d.Time); n != 0 {
		return n
	}
	return strings.Compare(c.ID, d.ID)
}

// String encodes c for a URL or a page: Unix nanoseconds, a dot, the ID.
// The zero Cursor encodes as "".
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.Time.UnixNano(), 10) + "." + c.ID
}

// ParseCursor decodes what Cursor.String encodes; "" is the zero Cursor.
// It returns EINVALID for anything else.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	ns, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, Errorf(EINVALID, "invalid cursor %q", s)
	}
	return Cursor{Time: time.Unix(0, n).UTC(), ID: id}, nil
}

// Approved counts the distinct reviewers who approved a.
func (a *Action) Approved() int {
	seen := map[string]bool{}
	for _, r := range a.Reviews {
		if r.Verdict == VerdictApprove {
			seen[r.By] = true
		}
	}
	return len(seen)
}

// ApprovalsNeeded is how many distinct approvals a reviewed action needs.
func (a *Action) ApprovalsNeeded() int {
	return max(1, a.Decision.Approvals)
}

// DefaultLimit is the number of actions a query returns when its filter
// sets no limit. MaxLimit is the most it may ask for.
const (
	DefaultLimit = 1000
	MaxLimit     = 100000
)
