package gatehouse

import (
	"encoding/json"
	"time"
)

// EventType names what an event records. Values are stored in the journal:
// the list is append-only and a value is never renamed.
type EventType string

const (
	EventActionRequested EventType = "action.requested" // data: ActionRequested
	EventActionDecided   EventType = "action.decided"   // data: ActionDecided
	EventActionReviewed  EventType = "action.reviewed"  // data: ActionReviewed
	EventActionEscalated EventType = "action.escalated" // data: ActionEscalated
	EventActionStarted   EventType = "action.started"   // data: ActionStarted
	EventActionFinished  EventType = "action.finished"  // data: ActionFinished
	EventAgentAdded      EventType = "agent.added"      // data: AgentAdded
	EventAgentRevoked    EventType = "agent.revoked"    // data: AgentRevoked
	EventDaemonStarted   EventType = "daemon.started"   // data: DaemonStarted
	EventDaemonStopped   EventType = "daemon.stopped"   // data: DaemonStopped
	EventRuleLearned     EventType = "rule.learned"     // data: RuleLearned
	EventRuleRemoved     EventType = "rule.removed"     // data: RuleRemoved
	EventPolicyLoaded    EventType = "policy.loaded"    // data: PolicyLoaded
	EventSession         EventType = "session.event"    // data: SessionEvent
	EventHaltIssued      EventType = "halt.issued"      // data: HaltIssued
	EventHaltLifted      EventType = "halt.lifted"      // data: HaltLifted
	EventSecretSet       EventType = "secret.set"       // data: SecretSet
	EventSecretRemoved   EventType = "secret.removed"   // data: SecretRemoved
	// A rollback: started (write-ahead, with its plan) before any file is
	// touched, finished once done; its subject is the rollback's id. Each
	// action whose file changes it restored gets action.rolled_back.
	EventRollbackStarted  EventType = "rollback.started"   // data: RollbackStarted
	EventRollbackFinished EventType = "rollback.finished"  // data: RollbackFinished
	EventActionRolledBack EventType = "action.rolled_back" // data: ActionRolledBack
)

// IsAction reports whether events of type t belong to the action named by
// their Subject.
func (t EventType) IsAction() bool {
	switch t {
	case EventActionRequested, EventActionDecided, EventActionReviewed, EventActionEscalated,
		EventActionStarted, EventActionFinished, EventActionRolledBack:
		return true
	}
	return false
}

// IsAgent reports whether events of type t belong to the agent named by
// their Subject.
func (t EventType) IsAgent() bool {
	return t == EventAgentAdded || t == EventAgentRevoked
}

// Event is one entry of the journal. Callers of Store.Append fill Time,
// Type, Subject and Data; the store assigns Seq, PrevHash and Hash.
//
// Data is compact JSON and is hashed byte for byte: a store must keep it
// exactly as given (bytes, not a re-encoded JSON column type).
type Event struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Type     EventType       `json:"type"`
	Subject  string          `json:"subject"` // action id, agent name, or "" for the daemon
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// NewEvent returns an event of type t about subject with payload data
// encoded as compact JSON, stamped with now truncated to microseconds (the
// finest time every store keeps exactly).
func NewEvent(now time.Time, t EventType, subject string, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, WrapError(EINTERNAL, "gatehouse.NewEvent", err, "")
	}
	return Event{Time: Timestamp(now), Type: t, Subject: subject, Data: b}, nil
}

// Timestamp normalises t to what the journal stores: UTC, microseconds.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// ActionRequested is the payload of action.requested: what was asked, by
// whom (Agent comes from the token), with the client's claims.
type ActionRequested struct {
	Agent     string   `json:"agent"`
	Session   string   `json:"session"`
	Model     string   `json:"model"`
	Kind      Kind     `json:"kind"`
	Argv      []string `json:"argv"`
	Command   string   `json:"command"`
	Shell     bool     `json:"shell"`
	Cwd       string   `json:"cwd"`
	System    string   `json:"system"`
	Intent    string   `json:"intent"`
	EnvNames  []string `json:"env_names,omitempty"`
	TimeoutMS int64    `json:"timeout_ms,omitempty"`
	TraceID   string   `json:"trace_id"`
	Stdin     bool     `json:"stdin,omitempty"` // the client sends the command's stdin
	// Credentials granted to it (see Action): names only.
	Credentials []CredentialRef `json:"credentials,omitempty"`
	// For external actions (see Action).
	External bool              `json:"external,omitempty"`
	Tool     string            `json:"tool,omitempty"`
	Input    json.RawMessage   `json:"input,omitempty"`
	Client   map[string]string `json:"client,omitempty"`
	// Replica is the gateway replica that took the request, when several
	// share the journal (see Action.Replica).
	Replica string `json:"replica,omitempty"`
}

// ActionDecided is the payload of action.decided: the decision and the
// analysis it was made on, the undo commands the deciding rule attached,
// and whether the action's class makes it irreversible.
type ActionDecided struct {
	Decision     Decision  `json:"decision"`
	Analysis     *Analysis `json:"analysis,omitempty"`
	Undo         []Undo    `json:"undo,omitempty"`
	Irreversible bool      `json:"irreversible,omitempty"`
}

// ActionStarted is the payload of action.started. The event's time is the
// action's started_at; the event is durable before the process starts.
type ActionStarted struct {
	// Replica is the gateway replica that started the action and runs it
	// (or handed it to its harness), when several share the journal: the
	// one whose restart closes it if it is left running, and whose death
	// lets another replica close it.
	Replica string `json:"replica,omitempty"`
}

// ActionFinished is the payload of action.finished. The event's time is the
// action's finished_at.
type ActionFinished struct {
	Status       Status   `json:"status"`
	Error        string   `json:"error,omitempty"`
	ExitCode     *int     `json:"exit_code"`
	Signal       string   `json:"signal,omitempty"`
	DurationMS   *float64 `json:"duration_ms"`
	Stdout       string   `json:"stdout"`
	Stderr       string   `json:"stderr"`
	StdoutBytes  int64    `json:"stdout_bytes"`
	StderrBytes  int64    `json:"stderr_bytes"`
	StdoutSHA256 string   `json:"stdout_sha256"`
	StderrSHA256 string   `json:"stderr_sha256"`
	StdinBytes   int64    `json:"stdin_bytes,omitempty"`
	Response     string   `json:"response,omitempty"`
	// Effects is what the action changed in its agent's workspaces; nil
	// when none was recorded.
	Effects *Effects `json:"effects,omitempty"`
}

// AgentAdded is the payload of agent.added.
type AgentAdded struct {
	Role      Role   `json:"role,omitempty"` // "" means RoleAgent
	TokenHash string `json:"token_hash"`     // SHA-256 of the token, hex
	By        string `json:"by"`             // the principal who added it
	// Workspaces are the directories given with agent add --workspace.
	Workspaces []string `json:"workspaces,omitempty"`
}

// AgentRevoked is the payload of agent.revoked.
type AgentRevoked struct {
	By string `json:"by"`
}

// DaemonStarted is the payload of daemon.started.
type DaemonStarted struct {
	Version string `json:"version"`
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	// Interrupted counts the actions this start closed as interrupted
	// because the previous daemon ended while they ran.
	Interrupted int `json:"interrupted"`
	// Replica is the replica id of this daemon when several share the
	// journal; its Interrupted counts only its own actions.
	Replica string `json:"replica,omitempty"`
}

// DaemonStopped is the payload of daemon.stopped, appended by a clean
// shutdown once the actions it interrupted have journaled their end. A
// daemon.started without a daemon.stopped before it means the previous
// daemon died.
type DaemonStopped struct {
	Interrupted int    `json:"interrupted"`       // actions the shutdown interrupted
	Replica     string `json:"replica,omitempty"` // as in DaemonStarted
}

// ActionReviewed is the payload of action.reviewed: one reviewer's verdict
// on a pending action. A deny is followed by action.finished (denied);
// enough approves by distinct reviewers by action.started.
type ActionReviewed struct {
	By      string `json:"by"`
	Verdict string `json:"verdict"` // "approve" or "deny"
	Reason  string `json:"reason,omitempty"`
	// Learned names the rule this approval added ("approve and remember").
	Learned string `json:"learned,omitempty"`
	// LatencyMS is how long the action had waited for this verdict.
	LatencyMS int64 `json:"latency_ms"`
}

// Review verdicts.
const (
	VerdictApprove = "approve"
	VerdictDeny    = "deny"
)

// ActionEscalated is the payload of action.escalated: the approval timed
// out once, was sent to more reviewers and extended until Until.
type ActionEscalated struct {
	To    []string  `json:"to,omitempty"`
	Until time.Time `json:"until"`
}

// RuleLearned is the payload of rule.learned: a rule a reviewer added by
// approving and remembering. Its subject is the rule's id.
type RuleLearned struct {
	Match      string    `json:"match"` // exact, prefix or glob
	Pattern    string    `json:"pattern"`
	Agent      string    `json:"agent,omitempty"` // "" for every agent
	CreatedBy  string    `json:"created_by"`
	FromAction string    `json:"from_action"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// RuleRemoved is the payload of rule.removed.
type RuleRemoved struct {
	By string `json:"by"`
}

// PolicyLoaded is the payload of policy.loaded: which policy is in force
// from now on. Decisions name its revision.
type PolicyLoaded struct {
	Revision string `json:"revision"`
	Source   string `json:"source"` // the file it came from
	Rules    int    `json:"rules"`
	By       string `json:"by"` // "start", "file change", "SIGHUP" or the principal that asked
}

// SessionEvent is the payload of session.event: what an agent's harness
// said about its session (started, the person's prompt — the session's
// stated intent —, ended). The subject is the session id.
type SessionEvent struct {
	Agent  string            `json:"agent"`
	Event  string            `json:"event"` // the harness's name: SessionStart, UserPromptSubmit, SessionEnd, Stop
	Prompt string            `json:"prompt,omitempty"`
	Cwd    string            `json:"cwd,omitempty"`
	Client map[string]string `json:"client,omitempty"`
	// Reach is what the harness's scan found its process can reach
	// (SessionStart of `gatehouse hook claude`): names and paths only.
	Reach *CredentialReach `json:"reach,omitempty"`
}

// RollbackSelector is what a rollback was asked to undo: one action, a
// session's actions or those since a time (optionally of one agent).
type RollbackSelector struct {
	Action  string     `json:"action,omitempty"`
	Session string     `json:"session,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	Agent   string     `json:"agent,omitempty"`
}

// RollbackStarted is the payload of rollback.started, journaled before the
// rollback touches any file: who asked, for what, whether forced past
// problems, and the plan as checked against the disk.
type RollbackStarted struct {
	By       string           `json:"by"`
	Selector RollbackSelector `json:"selector"`
	Force    bool             `json:"force,omitempty"`
	Plan     *RollbackPlan    `json:"plan"`
}

// Rollback outcomes.
const (
	RollbackDone        = "done"        // every planned restore was made
	RollbackPartial     = "partial"     // forced: some restores were skipped or failed
	RollbackFailed      = "failed"      // it stopped at an error
	RollbackInterrupted = "interrupted" // the daemon stopped during it
)

// RollbackFinished is the payload of rollback.finished.
type RollbackFinished struct {
	Status   string `json:"status"` // RollbackDone, RollbackPartial, RollbackFailed, RollbackInterrupted
	Restored int    `json:"restored"`
	// Failed lists the restores that were not made, each with its problem.
	Failed []FileRestore `json:"failed,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// ActionRolledBack is the payload of action.rolled_back: a rollback
// restored the action's file changes.
type ActionRolledBack struct {
	Rollback string `json:"rollback"`
	By       string `json:"by"`
	Partial  bool   `json:"partial,omitempty"`
}
