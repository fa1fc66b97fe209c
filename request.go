package gatehouse

import (
	"encoding/json"
	"time"
)

// The gateway's requests and answers: what an agent, a reviewer or the
// admin asks of the gateway and what it answers, whatever carries them.
// Their JSON forms are the bodies of the HTTP API (docs/API.md), and the
// public client (package client) sends and receives them as they are.

// RunRequest is what an agent asks the gateway to run. Its JSON form is
// the body of POST /v1/run.
type RunRequest struct {
	// Argv is the command and its arguments, exec'd directly. With Shell,
	// Command is used instead.
	Argv []string `json:"argv,omitempty"`
	// Shell runs Command with /bin/sh -c.
	Shell   bool   `json:"shell,omitempty"`
	Command string `json:"command,omitempty"`
	// With Shell: ShellOptions are set options for /bin/sh, given before
	// -c as sh takes them ("-e", "+x", "-eu", "-o", "pipefail"), and Args
	// are what follows the command string: $0, then the positional
	// parameters $1, $2, … (sh -c COMMAND NAME ARG…). Neither changes
	// what policy matches (the command string) or what is analysed.
	ShellOptions []string `json:"shell_options,omitempty"`
	Args         []string `json:"args,omitempty"`

	Session   string            `json:"session,omitempty"`
	Model     string            `json:"model,omitempty"`
	Intent    string            `json:"intent,omitempty"`
	System    string            `json:"system,omitempty"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
	// Stdin says that the client sends the command's standard input (over
	// HTTP: as stdin frames after the request object). Without it the
	// command's stdin is empty.
	Stdin bool `json:"stdin,omitempty"`
}

// ExternalRequest is an action that the agent's own harness carries out
// once the gateway allows it — a Claude Code tool call seen by a hook. The
// gateway decides, journals and can refuse it; it does not execute it.
// Its JSON form is the body of POST /v1/external.
type ExternalRequest struct {
	Kind Kind `json:"kind"`
	// Tool is the harness's name for it ("Bash", "Write", "mcp__s__t").
	Tool string `json:"tool"`
	// Command is the exact command for a shell action; for the others a
	// one-line rendering that policy rules match on ("Write /src/a.go",
	// "WebFetch https://x", "mcp__github__create_issue").
	Command string `json:"command"`
	// Input is the tool's arguments as JSON (at most 64 KiB).
	Input   json.RawMessage   `json:"input,omitempty"`
	Session string            `json:"session,omitempty"`
	Model   string            `json:"model,omitempty"`
	Intent  string            `json:"intent,omitempty"`
	System  string            `json:"system,omitempty"`
	Cwd     string            `json:"cwd,omitempty"`
	Client  map[string]string `json:"client,omitempty"` // tool_use_id, permission_mode, transcript_path
}

// ExternalOutcome is what the harness reports once it carried an external
// action out. Its JSON form is the body of POST /v1/external/complete.
type ExternalOutcome struct {
	ID        string `json:"id,omitempty"`          // the action, or:
	ToolUseID string `json:"tool_use_id,omitempty"` // the harness's id of the call
	Failed    bool   `json:"failed,omitempty"`
	// Interrupted: the user or the harness stopped it.
	Interrupted bool     `json:"interrupted,omitempty"`
	Error       string   `json:"error,omitempty"`
	Response    string   `json:"response,omitempty"` // capped at the executor's output cap
	DurationMS  *float64 `json:"duration_ms,omitempty"`
}

// SessionEventRequest is what a harness says about its session; the body
// of POST /v1/session-events.
type SessionEventRequest struct {
	Session string            `json:"session"`
	Event   string            `json:"event"`
	Prompt  string            `json:"prompt,omitempty"`
	Cwd     string            `json:"cwd,omitempty"`
	Client  map[string]string `json:"client,omitempty"`
	// Reach is the harness's credential scan of its own process (names
	// and paths only), journaled with the event.
	Reach *CredentialReach `json:"reach,omitempty"`
}

// Standing is whether a halt covers an agent (and its session) now.
type Standing struct {
	Halted bool   `json:"halted"`
	Halt   *Halt  `json:"halt,omitempty"`
	Reason string `json:"reason,omitempty"` // the one line to tell the agent
}

// ReviewRequest is a reviewer's approval or denial of a pending action;
// the body of POST /v1/actions/{id}/approve and /deny. A denial needs a
// Reason.
type ReviewRequest struct {
	Reason   string    `json:"reason,omitempty"`
	Remember *Remember `json:"remember,omitempty"`
}

// Remember asks an approval to add a learned rule.
type Remember struct {
	Match string `json:"match"`           // exact, prefix or glob
	TTL   string `json:"ttl"`             // how long the rule lasts: a Go duration, e.g. 24h
	Scope string `json:"scope,omitempty"` // agent (the action's agent; the default) or all
	// Pattern is the prefix or glob; for exact it is the action's command
	// and may be left empty. Empty for prefix means the whole command.
	Pattern string `json:"pattern,omitempty"`
}

// LearnedRule is an "approve and remember" rule: a reviewer approved an
// action and asked that matching ones be allowed without review until it
// expires. It can only turn a review into an allow, never a deny.
type LearnedRule struct {
	ID         string    `json:"id"`
	Match      string    `json:"match"`   // exact, prefix or glob
	Pattern    string    `json:"pattern"` // the command, its prefix or a command glob
	Agent      string    `json:"agent"`   // the agent it applies to; "" for every agent
	CreatedBy  string    `json:"created_by"`
	FromAction string    `json:"from_action"` // the action whose approval created it
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"` // zero: never
}

// HaltRequest asks for a halt or a pause; the body of POST /v1/halts.
type HaltRequest struct {
	Mode   HaltMode `json:"mode"` // halt (default) or pause
	Scope  Scope    `json:"scope"`
	Reason string   `json:"reason"`
	NoKill bool     `json:"no_kill,omitempty"` // halt: refuse new actions but let running ones finish
	For    string   `json:"for,omitempty"`     // a duration after which it lifts by itself
}

// StatusReport is what `gatehouse status` shows at a glance: the answer
// to GET /v1/status.
type StatusReport struct {
	Halts   []*Halt   `json:"halts"`
	Held    int       `json:"held"`    // requests a pause holds
	Running []*Action `json:"running"` // started, not finished
	Pending []*Action `json:"pending"` // waiting for review
}

// RuleInfo describes one rule of a policy, for `policy show`, replay and
// reviewers. For review rules the approval settings are the effective
// ones (the policy's defaults filled in); for allow and deny rules they
// are zero.
type RuleInfo struct {
	ID         string        `json:"id"`
	Effect     Effect        `json:"effect"`
	Reason     string        `json:"reason"`
	Approvals  int           `json:"approvals,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"` // in nanoseconds
	OnTimeout  string        `json:"on_timeout,omitempty"`
	EscalateTo []string      `json:"escalate_to,omitempty"`
	Undo       []string      `json:"undo,omitempty"` // the rule's undo templates
	Line       int           `json:"line"`           // of the rule in the policy file (1-based)
}

// PolicyInfo describes the policy in force: the answer to GET /v1/policy.
type PolicyInfo struct {
	Revision string     `json:"revision"`
	Source   string     `json:"source"`
	Default  RuleInfo   `json:"default"`
	Rules    []RuleInfo `json:"rules"`
}

// PolicyTestRequest is an action to decide without running it; the body
// of POST /v1/policy/test.
type PolicyTestRequest struct {
	RunRequest
	Agent string `json:"agent,omitempty"` // the agent to decide for ("" for a placeholder)
}

// PolicyTestResult explains a decision.
type PolicyTestResult struct {
	Effect   Effect    `json:"effect"`
	Rule     string    `json:"rule"`
	Reason   string    `json:"reason"`
	Decision Decision  `json:"decision"`
	Analysis *Analysis `json:"analysis"`
	// Undo is the deciding rule's undo commands, rendered for the action.
	Undo []Undo `json:"undo,omitempty"`
}

// ReplayRequest asks how a candidate policy would have decided the
// recorded history; the body of POST /v1/policy/replay.
type ReplayRequest struct {
	Policy string `json:"policy"` // the candidate policy's YAML
	Since  string `json:"since"`  // a duration before now or an RFC 3339 time
}

// ReplayChange is one recorded action a candidate policy decides
// differently.
type ReplayChange struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Agent     string    `json:"agent"`
	Command   string    `json:"command"`
	Recorded  Decision  `json:"recorded"`
	Candidate Decision  `json:"candidate"`
}

// ReplayReport is the result of a policy replay.
type ReplayReport struct {
	Revision  string         `json:"revision"`  // of the candidate
	Evaluated int            `json:"evaluated"` // actions decided again
	Changed   []ReplayChange `json:"changed"`
}

// FileDiff is one change of an action with what it did to the content.
type FileDiff struct {
	FileChange
	// Diff is a unified diff of the content, for text.
	Diff string `json:"diff,omitempty"`
	// Note says why there is no diff: a directory, a mode change, binary
	// content, content not stored.
	Note string `json:"note,omitempty"`
}

// DiffResult is what an action changed in its workspaces; the answer to
// GET /v1/actions/{id}/diff.
type DiffResult struct {
	Action string `json:"action"`
	// Recorded is false when no workspace was recorded for the action.
	Recorded  bool       `json:"recorded"`
	Files     []FileDiff `json:"files"`
	Truncated int        `json:"truncated,omitempty"`
	Ambiguous []string   `json:"ambiguous,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// RollbackRequest asks to roll back one action, a session's actions, or
// those since a time (of one agent, if Agent is set). Its JSON form is
// the body of POST /v1/rollback.
type RollbackRequest struct {
	Action  string `json:"action,omitempty"`
	Session string `json:"session,omitempty"`
	Since   string `json:"since,omitempty"` // RFC 3339, or a duration before now
	Agent   string `json:"agent,omitempty"`
	DryRun  bool   `json:"dry_run,omitempty"`
	Force   bool   `json:"force,omitempty"`
}

// Rollback statuses beyond the journal's (RollbackDone, …).
const (
	RollbackPlanned = "planned" // a dry run
	RollbackRefused = "refused" // problems, and not forced: nothing was touched
	RollbackNothing = "nothing" // no file to restore
)

// RollbackResult is the answer to a rollback: the plan as checked against
// the disk, and what was done.
type RollbackResult struct {
	// ID is the rollback's id in the journal (the subject of its events);
	// empty for a dry run or a refusal.
	ID     string `json:"id,omitempty"`
	Status string `json:"status"` // planned, refused, nothing, done, partial, failed
	// Problems are what refused it (or, forced, what it went past).
	Problems []string      `json:"problems,omitempty"`
	Plan     *RollbackPlan `json:"plan"`
	Restored int           `json:"restored"`
}

// CredentialScan is the credential scan a hooked agent's harness reported
// for its session: what its own process can reach.
type CredentialScan struct {
	Session string    `json:"session"`
	Agent   string    `json:"agent"`
	Event   string    `json:"event"` // the session event it came with (SessionStart)
	Time    time.Time `json:"time"`
	Seq     int64     `json:"seq"` // of the session.event in the journal
	CredentialReach
}
