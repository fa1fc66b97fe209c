package gatehouse

import (
	"encoding/json"
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
	// External is set when the agent's harness, not the gateway, carries
	// the action out once allowed (hooks); Tool names the harness's tool
	// ("Bash", "Write", "mcp__github__create_issue"), Input holds its
	// arguments as JSON, and Client what the harness said about the call
	// (tool_use_id, permission_mode, transcript_path).
	External bool              `json:"external,omitempty"`
	Tool     string            `json:"tool,omitempty"`
	Input    json.RawMessage   `json:"input,omitempty"`
	Client   map[string]string `json:"client,omitempty"`

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

// ActionFilter selects actions. Zero fields do not filter.
type ActionFilter struct {
	Since, Until time.Time // on Time; Since inclusive, Until exclusive
	Agent        string
	Session      string
	Status       Status
	Grep         string // substring of Command or Intent
	// Limit caps the result to the newest Limit matching actions; 0 means
	// the store's default (DefaultLimit). The result is still oldest first.
	Limit int
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
