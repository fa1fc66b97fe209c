package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

var hookCmd = &command{
	name:    "hook",
	summary: "gate an agent's tool calls from its hooks (Claude Code)",
	help: `Usage: gatehouse hook claude [--timeout DUR] [--fail-open]

Claude Code runs this for its hook events (gatehouse install claude-code
sets that up). It reads one hook event as JSON on stdin and answers in
Claude Code's hook protocol:

  PreToolUse     the tool call becomes an action — Bash: shell with its
                 command; Write, Edit, MultiEdit, NotebookEdit: file_write
                 with the path; Read, Glob, Grep: file_read; WebFetch,
                 WebSearch: http; mcp__SERVER__TOOL: mcp_tool with its
                 arguments — decided by policy. Allowed: permissionDecision
                 allow. Denied or halted: permissionDecision deny with the
                 reason (and, for a halt, "continue": false, which ends the
                 session), exit 2. Reviewed: waits for a reviewer, telling
                 the user on stderr who must approve and how, up to
                 --timeout; then denied.
  PostToolUse,   the outcome is recorded on the same action, matched by
  PostToolUseFailure  tool_use_id.
  SessionStart,  journaled as session events (the prompt is the session's
  UserPromptSubmit,   stated intent). SessionStart also records which
  SessionEnd, Stop    credentials the session's process can reach — names of
                 credential-like variables and paths of readable credential
                 files, never a value (see gatehouse creds scan).
  Every event but PreToolUse answers {} — or, when a halt covers the agent,
  "continue": false with the halt's reason, which ends the Claude Code
  session.

The action records Claude Code's session_id as the session, and its
tool_use_id, cwd, permission_mode and transcript path.

Fail closed: Claude Code treats any exit status but 0 and 2 as "go ahead",
so this never crashes or exits otherwise. If the daemon is unreachable or
anything fails, it denies (deny JSON on stdout, the reason on stderr, exit
2), unless --fail-open or GATEHOUSE_FAIL_OPEN=1.

Flags:
  --timeout DUR   how long to wait for a reviewer (default 55s; keep it under
                  the hook's timeout in settings.json)
  --fail-open     let tool calls through when the gateway fails
`,
	run: runHook,
}

// hookEvent is the part of a Claude Code hook event this reads.
type hookEvent struct {
	Event          string          `json:"hook_event_name"`
	SessionID      string          `json:"session_id"`
	TranscriptPath string          `json:"transcript_path"`
	Cwd            string          `json:"cwd"`
	PermissionMode string          `json:"permission_mode"`
	ToolName       string          `json:"tool_name"`
	ToolInput      json.RawMessage `json:"tool_input"`
	ToolUseID      string          `json:"tool_use_id"`
	Prompt         string          `json:"prompt"`
	Source         string          `json:"source"`
	Reason         string          `json:"reason"`
	ToolResponse   json.RawMessage `json:"tool_response"`
	Error          string          `json:"error"`
	Interrupted    bool            `json:"is_interrupt"`
}

type hookOutput struct {
	Continue   *bool           `json:"continue,omitempty"`
	StopReason string          `json:"stopReason,omitempty"`
	Specific   *hookPermission `json:"hookSpecificOutput,omitempty"`
}

type hookPermission struct {
	Event    string `json:"hookEventName"`
	Decision string `json:"permissionDecision"`
	Reason   string `json:"permissionDecisionReason,omitempty"`
}

// Exit statuses Claude Code understands: 0 go on (read the JSON), 2 block.
const (
	hookOK    = 0
	hookBlock = 2
)

func runHook(ctx context.Context, c *command, e *Env, args []string) (code int) {
	// Whatever happens, answer in the protocol: a crash would be read as
	// "go ahead".
	failOpen := e.Getenv("GATEHOUSE_FAIL_OPEN") == "1"
	defer func() {
		if r := recover(); r != nil {
			code = hookFail(e, failOpen, fmt.Sprintf("gatehouse hook: internal error: %v", r))
		}
	}()
	if len(args) == 0 || args[0] != "claude" {
		return hookFail(e, failOpen, "gatehouse hook: usage: gatehouse hook claude (see 'gatehouse help hook')")
	}
	fs := newFlags(c)
	timeout := fs.Duration("timeout", 55*time.Second, "")
	fs.BoolVar(&failOpen, "fail-open", failOpen, "")
	if err := fs.Parse(args[1:]); err != nil {
		return hookFail(e, failOpen, "gatehouse hook: "+err.Error())
	}
	var ev hookEvent
	dec := json.NewDecoder(io.LimitReader(e.Stdin, 4<<20))
	if err := dec.Decode(&ev); err != nil {
		return hookFail(e, failOpen, "gatehouse hook: malformed hook event: "+err.Error())
	}
	e.hookEvent = ev.Event
	cl := e.client()
	switch ev.Event {
	case "PreToolUse":
		return hookPreToolUse(ctx, e, cl, &ev, *timeout, failOpen)
	case "PostToolUse", "PostToolUseFailure":
		out := gatehouse.ExternalOutcome{ToolUseID: ev.ToolUseID, Failed: ev.Event == "PostToolUseFailure" || ev.Error != "",
			Interrupted: ev.Interrupted, Error: ev.Error, Response: string(ev.ToolResponse)}
		if _, err := cl.Complete(ctx, out); err != nil && gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
			// The call already ran; say why the record is missing, do not block.
			fmt.Fprintln(e.Stderr, "gatehouse: could not record the outcome:", errorLine(err))
		}
		st, err := cl.Standing(ctx, ev.SessionID)
		if err != nil {
			return hookFail(e, failOpen, errorLine(err))
		}
		return hookStanding(e, st)
	}
	// Session events: journaled (the prompt is the session's stated
	// intent); a halt ends the session. At its start, the session's
	// credential scan goes with it: this hook runs in Claude Code's
	// process tree with its environment, so what it reaches, the agent's
	// tools reach.
	req := gatehouse.SessionEventRequest{Session: ev.SessionID, Event: ev.Event, Prompt: ev.Prompt, Cwd: ev.Cwd,
		Client: map[string]string{"harness": "claude-code", "transcript_path": ev.TranscriptPath, "permission_mode": ev.PermissionMode,
			"source": ev.Source, "reason": ev.Reason}}
	if ev.Event == "SessionStart" {
		r := scanSelf(e, ev.Cwd, e.Getenv("CLAUDE_PROJECT_DIR")) // creds.go
		req.Reach = &r
	}
	st, err := cl.SessionEvent(ctx, req)
	if err != nil {
		return hookFail(e, failOpen, errorLine(err))
	}
	return hookStanding(e, st)
}

// hookStanding answers a non-tool event: {} normally, "continue": false
// with the reason when a halt covers the agent, which ends the session.
func hookStanding(e *Env, st *gatehouse.Standing) int {
	if !st.Halted {
		fmt.Fprintln(e.Stdout, "{}")
		return hookOK
	}
	no := false
	writeHookJSON(e, hookOutput{Continue: &no, StopReason: "gatehouse: " + st.Reason})
	fmt.Fprintln(e.Stderr, "gatehouse: "+st.Reason)
	return hookOK
}

func hookPreToolUse(ctx context.Context, e *Env, cl *client.Client, ev *hookEvent, timeout time.Duration, failOpen bool) int {
	req := claudeAction(ev)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := cl.Request(ctx, req, func(a *gatehouse.Action) {
		fmt.Fprintf(e.Stderr, "gatehouse: %s %s waits for approval by %s (rule %q: %s); approve with: gatehouse approve %s\n",
			ev.ToolName, a.ID, approvers(a), a.Decision.Rule, oneLine(a.Decision.Reason), a.ID)
	})
	if gatehouse.ErrorCode(err) == gatehouse.EREFUSED && a != nil {
		err = nil // denied: answered below, with the reason
	}
	switch {
	case err != nil && a != nil && a.Status == gatehouse.StatusPending:
		return hookDeny(e, fmt.Sprintf("no reviewer approved action %s within %s; it stays pending: approve it, then retry", a.ID, timeout), false)
	case err != nil:
		return hookFail(e, failOpen, errorLine(err))
	case a.Status == gatehouse.StatusRunning:
		out := hookOutput{Specific: &hookPermission{Event: "PreToolUse", Decision: "allow",
			Reason: fmt.Sprintf("gatehouse: allowed by rule %q (action %s)", a.Decision.Rule, a.ID)}}
		writeHookJSON(e, out)
		return hookOK
	}
	halted := strings.HasPrefix(a.Decision.Rule, "halt:") || strings.Contains(a.Error, " halted by ")
	reason := a.Error
	if reason == "" {
		reason = fmt.Sprintf("refused by rule %q: %s", a.Decision.Rule, a.Decision.Reason)
	}
	return hookDeny(e, fmt.Sprintf("gatehouse: %s (action %s)", oneLine(reason), a.ID), halted)
}

// claudeAction maps a Claude Code tool call to the action the gateway
// decides.
func claudeAction(ev *hookEvent) gatehouse.ExternalRequest {
	var in map[string]any
	_ = json.Unmarshal(ev.ToolInput, &in)
	str := func(k string) string { s, _ := in[k].(string); return s }
	req := gatehouse.ExternalRequest{Tool: ev.ToolName, Session: ev.SessionID, Cwd: ev.Cwd, Input: ev.ToolInput,
		Client: map[string]string{"tool_use_id": ev.ToolUseID, "permission_mode": ev.PermissionMode,
			"transcript_path": ev.TranscriptPath, "harness": "claude-code"}}
	if len(req.Input) == 0 {
		req.Input = nil
	}
	switch t := ev.ToolName; {
	case t == "Bash":
		req.Kind, req.Command = gatehouse.KindShell, str("command")
		req.Intent = str("description")
	case t == "Write" || t == "Edit" || t == "MultiEdit":
		req.Kind, req.Command = gatehouse.KindFileWrite, t+" "+str("file_path")
	case t == "NotebookEdit":
		req.Kind, req.Command = gatehouse.KindFileWrite, t+" "+str("notebook_path")
	case t == "Read":
		req.Kind, req.Command = gatehouse.KindFileRead, t+" "+str("file_path")
	case t == "Glob" || t == "Grep":
		req.Kind, req.Command = gatehouse.KindFileRead, strings.TrimSpace(t+" "+str("pattern")+" "+str("path"))
	case t == "WebFetch":
		req.Kind, req.Command = gatehouse.KindHTTP, t+" "+str("url")
	case t == "WebSearch":
		req.Kind, req.Command = gatehouse.KindHTTP, t+" "+str("query")
	case strings.HasPrefix(t, "mcp__"):
		req.Kind, req.Command = gatehouse.KindMCPTool, t
		if parts := strings.SplitN(t, "__", 3); len(parts) == 3 {
			req.System = parts[1]
		}
	default:
		// Claude Code's own bookkeeping tools (TodoWrite, Task, …) change
		// nothing outside the session: recorded as reads.
		req.Kind, req.Command = gatehouse.KindFileRead, t
	}
	if strings.TrimSpace(req.Command) == "" {
		req.Command = ev.ToolName
	}
	return req
}

func hookDeny(e *Env, reason string, stop bool) int {
	out := hookOutput{Specific: &hookPermission{Event: "PreToolUse", Decision: "deny", Reason: reason}}
	if stop {
		no := false
		out.Continue, out.StopReason = &no, reason
	}
	writeHookJSON(e, out)
	fmt.Fprintln(e.Stderr, reason)
	return hookBlock
}

// hookFail answers a failure of the gateway itself: deny (fail closed), or
// let the call through if the user chose fail-open. For a tool call the
// answer is a deny; for any other event (the gateway cannot record the
// session) "continue": false, which ends the session.
func hookFail(e *Env, failOpen bool, reason string) int {
	if failOpen {
		fmt.Fprintln(e.Stderr, reason+" (failing open)")
		fmt.Fprintln(e.Stdout, "{}")
		return hookOK
	}
	if e.hookEvent != "" && e.hookEvent != "PreToolUse" {
		reason += " — the gateway fails closed: the session stops"
		no := false
		writeHookJSON(e, hookOutput{Continue: &no, StopReason: reason})
		fmt.Fprintln(e.Stderr, reason)
		return hookBlock
	}
	return hookDeny(e, reason+" — the gateway fails closed: the tool call is denied", false)
}

func writeHookJSON(e *Env, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(e.Stdout, string(b))
}
