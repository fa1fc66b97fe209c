package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// DefaultURL is where the daemon listens unless told otherwise
// (gatehouse serve --listen), and what FromEnv uses when GATEHOUSE_URL is
// unset.
const DefaultURL = "http://127.0.0.1:7780"

// Client talks to one Gatehouse daemon with one token. It is safe for
// concurrent use.
type Client struct {
	url   string
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc instead of a
// client of its own. Do not give hc a Timeout: a run streams for as long
// as its command runs, and a review can take minutes; bound calls with
// their context instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// New returns a client of the daemon at baseURL (e.g.
// "http://127.0.0.1:7780") that authenticates with token: an agent's token
// to run actions, a reviewer's or the admin's to review and read the
// journal. New does not contact the daemon; an unusable URL shows at the
// first call, as EINVALID.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{url: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// FromEnv returns a client configured as the gatehouse CLI is: the daemon
// at $GATEHOUSE_URL (DefaultURL if unset) and the token in
// $GATEHOUSE_TOKEN. It returns EINVALID if GATEHOUSE_TOKEN is unset or
// empty.
func FromEnv(opts ...Option) (*Client, error) {
	token := os.Getenv("GATEHOUSE_TOKEN")
	if token == "" {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "GATEHOUSE_TOKEN is not set: use an agent token from `gatehouse agent add`")
	}
	u := os.Getenv("GATEHOUSE_URL")
	if u == "" {
		u = DefaultURL
	}
	return New(u, token, opts...), nil
}

// URL returns the daemon's base URL.
func (c *Client) URL() string { return c.url }

// Health returns nil if the daemon is up and ready, EUNAVAILABLE if it
// cannot be reached or is not ready. It needs no token.
func (c *Client) Health(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/healthz", nil, nil)
}

// RunOptions connects a run to its caller. Every field may be left zero.
type RunOptions struct {
	// Stdin, if not nil, is sent as the command's standard input, from the
	// moment the command starts, as fast as the command reads it; its end
	// (io.EOF) is the command's end of file. A Read that fails with
	// another error interrupts the action. Run does not wait for a Read of
	// Stdin that blocks: once Run has returned, what such a Read returns
	// is dropped. Without Stdin (and without RunRequest.Stdin) the
	// command's stdin is empty.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output as it arrives; nil
	// discards it. Writes happen on Run's goroutine and before it returns.
	Stdout, Stderr io.Writer
	// Pending is called when the action waits for review; Started once
	// it is journaled as started and its process is about to start.
	Pending, Started func(*gatehouse.Action)
}

// Run asks the gateway to run req as the token's agent and streams the
// command's output to o.Stdout and o.Stderr as it runs. It returns the
// finished action: the command's exit code, signal, output hashes.
//
// A command that ran and failed (exit 3, a signal, not found, timed out)
// is not an error: it is returned with its status and exit code. Errors:
// EREFUSED, with the action (status denied), when policy, a reviewer, an
// expired review or a halt refused it — it never ran; EINVALID for a bad
// request and EFORBIDDEN for a token that is not an agent's (nothing is
// journaled); EUNAUTHORIZED for a bad token; EUNAVAILABLE when the daemon
// cannot be reached or the stream broke before the end (with the action
// as far as it was known: a pending action stays pending, see Attach), or
// when ctx was cancelled (errors.Is(err, context.Canceled) holds; the
// daemon then interrupts the command).
func (c *Client) Run(ctx context.Context, req gatehouse.RunRequest, o RunOptions) (*gatehouse.Action, error) {
	return c.stream(ctx, "/v1/run", req, o)
}

// Attach resumes waiting for a pending action whose wait was cut off (the
// daemon restarted, the connection broke), with the original request —
// environment values are never journaled, so they are sent again — and
// streams it as Run does once it is approved. Errors as Run's, and
// ENOTFOUND for an action that is not the agent's, ECONFLICT for one that
// is not pending or already has a client waiting, EINVALID for a request
// that does not match the action.
func (c *Client) Attach(ctx context.Context, id string, req gatehouse.RunRequest, o RunOptions) (*gatehouse.Action, error) {
	return c.stream(ctx, "/v1/actions/"+url.PathEscape(id)+"/attach", req, o)
}

// Request asks the gateway to decide an action that the caller carries
// out itself (a harness's tool call: a file write, an HTTP request). It
// waits through a review, telling pending (if not nil), and returns the
// action: status running means go ahead, then report the outcome with
// Complete. Errors as Run's: EREFUSED, with the action, when it is
// refused — do not carry it out.
func (c *Client) Request(ctx context.Context, req gatehouse.ExternalRequest, pending func(*gatehouse.Action)) (*gatehouse.Action, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "client.Request", err, "the request cannot be encoded")
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/external", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readFrames(ctx, resp.Body, RunOptions{Pending: pending}, nil)
}

// Complete reports the outcome of an external action that Request let the
// caller carry out, by its id or the harness's tool_use_id, and returns
// the action as ended. ENOTFOUND for an unknown action (or another
// agent's), ECONFLICT for one that is not running.
func (c *Client) Complete(ctx context.Context, out gatehouse.ExternalOutcome) (*gatehouse.Action, error) {
	var a gatehouse.Action
	if err := c.call(ctx, http.MethodPost, "/v1/external/complete", out, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// SessionEvent journals what a harness says about a session (it started,
// the user's prompt, it ended) and returns whether a halt covers it, so
// that the harness can end the session. EINVALID for a bad event.
func (c *Client) SessionEvent(ctx context.Context, req gatehouse.SessionEventRequest) (*gatehouse.Standing, error) {
	var out gatehouse.Standing
	if err := c.call(ctx, http.MethodPost, "/v1/session-events", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Standing returns whether a halt covers the token's agent (in session,
// if not "") now.
func (c *Client) Standing(ctx context.Context, session string) (*gatehouse.Standing, error) {
	var out gatehouse.Standing
	if err := c.call(ctx, http.MethodGet, "/v1/standing?session="+url.QueryEscape(session), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ActionQuery selects actions for Actions. Zero fields do not filter.
type ActionQuery struct {
	// Since and Until are RFC 3339 times or durations before now ("90s",
	// "15m", "7d"), resolved by the daemon; Since inclusive, Until
	// exclusive.
	Since, Until string
	Agent        string
	Session      string
	System       string // the system the action claimed (run --system)
	Status       gatehouse.Status
	MinRisk      int    // analysed risk at least this (0 to 100; 0 does not filter)
	Grep         string // substring of the command or the intent
	// Trace is an application's trace id (32 hex digits) or a whole
	// traceparent header: the action whose trace it is.
	Trace string
	// Before and After page through the journal: the actions strictly
	// before or after a cursor in (time, id) order (Action.Cursor); zero
	// cursors do not filter.
	Before, After gatehouse.Cursor
	// Limit keeps the newest Limit matches — or, with Oldest, the oldest
	// (the page just after After); 0 for the daemon's default (1000).
	// Either way the result is oldest first.
	Limit  int
	Oldest bool
}

func (q ActionQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("since", q.Since)
	set("until", q.Until)
	set("agent", q.Agent)
	set("session", q.Session)
	set("system", q.System)
	set("status", string(q.Status))
	if q.MinRisk != 0 {
		v.Set("risk", strconv.Itoa(q.MinRisk))
	}
	set("grep", q.Grep)
	set("trace", q.Trace)
	set("before", q.Before.String())
	set("after", q.After.String())
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Oldest {
		v.Set("oldest", "true")
	}
	return v
}

// Actions returns the actions q selects, oldest first. It needs a reader's
// token (a reviewer's or the admin's): EFORBIDDEN otherwise; EINVALID for
// a bad time, status, risk, trace, cursor or limit.
func (c *Client) Actions(ctx context.Context, q ActionQuery) ([]*gatehouse.Action, error) {
	path := "/v1/actions"
	if v := q.values(); len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []*gatehouse.Action
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// Action returns one action; ENOTFOUND if there is none with id. It needs
// a reader's token.
func (c *Client) Action(ctx context.Context, id string) (*gatehouse.Action, error) {
	var out gatehouse.Action
	if err := c.call(ctx, http.MethodGet, "/v1/actions/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Pending returns the actions waiting for review, oldest first. It needs a
// reader's token.
func (c *Client) Pending(ctx context.Context) ([]*gatehouse.Action, error) {
	var out []*gatehouse.Action
	return out, c.call(ctx, http.MethodGet, "/v1/pending", nil, &out)
}

// Review approves (verdict gatehouse.VerdictApprove) or denies
// (gatehouse.VerdictDeny, which needs req.Reason) a pending action, and
// returns it. EFORBIDDEN for an agent's token, or for a reviewer reviewing
// its own action; ENOTFOUND for an unknown action; ECONFLICT if its review
// is over; EINVALID for a bad verdict or Remember.
func (c *Client) Review(ctx context.Context, id, verdict string, req gatehouse.ReviewRequest) (*gatehouse.Action, error) {
	if verdict != gatehouse.VerdictApprove && verdict != gatehouse.VerdictDeny {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "verdict %q: use approve or deny", verdict)
	}
	var out gatehouse.Action
	if err := c.call(ctx, http.MethodPost, "/v1/actions/"+url.PathEscape(id)+"/"+verdict, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LearnedRules returns the learned rules in force. It needs a reader's
// token.
func (c *Client) LearnedRules(ctx context.Context) ([]gatehouse.LearnedRule, error) {
	var out []gatehouse.LearnedRule
	return out, c.call(ctx, http.MethodGet, "/v1/rules", nil, &out)
}

// RemoveLearnedRule revokes a learned rule; ENOTFOUND if none with id is
// in force.
func (c *Client) RemoveLearnedRule(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/rules/"+url.PathEscape(id), nil, nil)
}

// Halt puts a halt or a pause in force and returns it. It needs a
// reviewer's or the admin's token (EFORBIDDEN otherwise); EINVALID for a
// bad scope, mode or duration.
func (c *Client) Halt(ctx context.Context, req gatehouse.HaltRequest) (*gatehouse.Halt, error) {
	var out gatehouse.Halt
	if err := c.call(ctx, http.MethodPost, "/v1/halts", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Halts returns the halts and pauses in force.
func (c *Client) Halts(ctx context.Context) ([]*gatehouse.Halt, error) {
	var out []*gatehouse.Halt
	return out, c.call(ctx, http.MethodGet, "/v1/halts", nil, &out)
}

// Resume lifts the halts and pauses of scope (gatehouse.Scope{All: true}
// lifts every one) and returns those lifted.
func (c *Client) Resume(ctx context.Context, scope gatehouse.Scope) ([]*gatehouse.Halt, error) {
	var out []*gatehouse.Halt
	return out, c.call(ctx, http.MethodPost, "/v1/resume", ResumeRequest{Scope: scope}, &out)
}

// Status returns the halts, pauses, running actions and pending approvals.
func (c *Client) Status(ctx context.Context) (*gatehouse.StatusReport, error) {
	var out gatehouse.StatusReport
	if err := c.call(ctx, http.MethodGet, "/v1/status", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Policy describes the policy in force.
func (c *Client) Policy(ctx context.Context) (*gatehouse.PolicyInfo, error) {
	var out gatehouse.PolicyInfo
	if err := c.call(ctx, http.MethodGet, "/v1/policy", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReloadPolicy makes the daemon load its policy file again and describes
// the policy then in force. It needs the admin token. EINVALID, naming
// each problem's line and column, if the file does not load: the policy in
// force stays.
func (c *Client) ReloadPolicy(ctx context.Context) (*gatehouse.PolicyInfo, error) {
	var out gatehouse.PolicyInfo
	if err := c.call(ctx, http.MethodPost, "/v1/policy/reload", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TestPolicy returns how the policy in force (and the learned rules)
// decide req, without journaling or running anything.
func (c *Client) TestPolicy(ctx context.Context, req gatehouse.PolicyTestRequest) (*gatehouse.PolicyTestResult, error) {
	var out gatehouse.PolicyTestResult
	if err := c.call(ctx, http.MethodPost, "/v1/policy/test", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplayPolicy decides the recorded actions since req.Since again by the
// candidate policy req.Policy and reports those it decides otherwise.
// EINVALID if the candidate does not load.
func (c *Client) ReplayPolicy(ctx context.Context, req gatehouse.ReplayRequest) (*gatehouse.ReplayReport, error) {
	var out gatehouse.ReplayReport
	if err := c.call(ctx, http.MethodPost, "/v1/policy/replay", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddAgent registers an agent and returns its token (shown only here). It
// needs the admin token; ECONFLICT if the name is taken.
func (c *Client) AddAgent(ctx context.Context, name string) (*AgentToken, error) {
	return c.AddIdentity(ctx, name, gatehouse.RoleAgent)
}

// AddIdentity registers an agent or a reviewer and returns its token, as
// AddAgent does.
func (c *Client) AddIdentity(ctx context.Context, name string, role gatehouse.Role) (*AgentToken, error) {
	var out AgentToken
	if err := c.call(ctx, http.MethodPost, "/v1/agents", AddAgentRequest{Name: name, Role: role}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Identities returns the registered identities of role ("" for agents and
// reviewers alike), revoked ones included. It needs the admin token.
func (c *Client) Identities(ctx context.Context, role gatehouse.Role) ([]*gatehouse.Agent, error) {
	path := "/v1/agents"
	if role != "" {
		path += "?role=" + url.QueryEscape(string(role))
	}
	var out []*gatehouse.Agent
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// RevokeIdentity revokes the token of the agent or reviewer name; it
// stops working at once. ENOTFOUND if no such identity is active.
func (c *Client) RevokeIdentity(ctx context.Context, name string, role gatehouse.Role) error {
	return c.call(ctx, http.MethodDelete, "/v1/agents/"+url.PathEscape(name)+"?role="+url.QueryEscape(string(role)), nil, nil)
}

// Verify asks the daemon to verify its journal's hash chain and
// projections. It needs the admin token. Damage is reported in the
// result, not as an error.
func (c *Client) Verify(ctx context.Context) (*gatehouse.VerifyReport, error) {
	var out gatehouse.VerifyReport
	if err := c.call(ctx, http.MethodGet, "/v1/verify", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyAnchored is Verify, and also checks that the journal still holds
// the anchor's event with the anchor's hash (VerifyReport.Checkpoint). It
// needs the admin token. The anchor's signature is the caller's to check
// first.
func (c *Client) VerifyAnchored(ctx context.Context, a gatehouse.Anchor) (*gatehouse.VerifyReport, error) {
	var out gatehouse.VerifyReport
	q := url.Values{"seq": {strconv.FormatInt(a.Seq, 10)}, "hash": {a.Hash}}
	if err := c.call(ctx, http.MethodGet, "/v1/verify?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Head returns the journal's newest event, as a checkpoint signs it. It
// needs the admin token; ENOTFOUND if the journal is empty.
func (c *Client) Head(ctx context.Context) (*Head, error) {
	var out Head
	if err := c.call(ctx, http.MethodGet, "/v1/head", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IncidentQuery selects the window of an incident report. Zero fields do
// not filter.
type IncidentQuery struct {
	// Since and Until are RFC 3339 times or durations before now ("90s",
	// "15m", "7d"), resolved by the daemon; Since inclusive, Until
	// exclusive. An empty Since is the daemon's default (the last hour).
	Since, Until string
	Agent        string
	Session      string
	// Format is md, html or json ("" for json).
	Format string
}

// Incident writes the incident report of q's window to w as the daemon
// streams it, rendered in q.Format. It needs a reader's token. A report
// cut off in transit is EUNAVAILABLE: w then holds a prefix.
func (c *Client) Incident(ctx context.Context, q IncidentQuery, w io.Writer) error {
	v := url.Values{}
	setNonEmpty(v, "since", q.Since)
	setNonEmpty(v, "until", q.Until)
	setNonEmpty(v, "agent", q.Agent)
	setNonEmpty(v, "session", q.Session)
	setNonEmpty(v, "format", q.Format)
	return c.copyBody(ctx, "/v1/incident", v, w, "the report")
}

// ExportQuery selects the events Export streams. Zero fields do not
// filter.
type ExportQuery struct {
	// Since and Until bound each event's own time, in the forms of
	// ActionQuery's; Since inclusive, Until exclusive.
	Since, Until string
	Agent        string // only events concerning this agent
	After        int64  // only events after this sequence number
}

// Export writes the journal's events q selects to w, one JSON object a
// line (see GET /v1/export in docs/API.md), as they arrive. It needs the
// admin token. An export cut off in transit is EUNAVAILABLE: w then holds
// a prefix.
func (c *Client) Export(ctx context.Context, q ExportQuery, w io.Writer) error {
	v := url.Values{}
	setNonEmpty(v, "since", q.Since)
	setNonEmpty(v, "until", q.Until)
	setNonEmpty(v, "agent", q.Agent)
	if q.After != 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	return c.copyBody(ctx, "/v1/export", v, w, "the export")
}

func setNonEmpty(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// copyBody copies the body of a GET to w. A failure of w is returned as
// it is; one of the connection is EUNAVAILABLE.
func (c *Client) copyBody(ctx context.Context, path string, query url.Values, w io.Writer, what string) error {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(taggedWriter{w}, resp.Body); err != nil {
		var we *writeError
		switch {
		case errors.As(err, &we):
			return we.err // our side: stdout closed, disk full
		case ctx.Err() != nil:
			return cancelled(ctx)
		}
		return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client", err, what+" was cut off before its end")
	}
	return nil
}

// writeError is a failure of the writer a body is copied to, told apart
// from the connection's.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type taggedWriter struct{ w io.Writer }

func (t taggedWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// AddAgentWorkspaces registers an agent with workspaces (absolute
// directories on the daemon's machine, whose changes the gateway records
// for diff and rollback) and returns its token, as AddAgent does.
func (c *Client) AddAgentWorkspaces(ctx context.Context, name string, workspaces []string) (*AgentToken, error) {
	var out AgentToken
	if err := c.call(ctx, http.MethodPost, "/v1/agents", AddAgentRequest{Name: name, Role: gatehouse.RoleAgent, Workspaces: workspaces}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Diff returns what an action changed in its workspaces. ENOTFOUND for an
// unknown action.
func (c *Client) Diff(ctx context.Context, id string) (*gatehouse.DiffResult, error) {
	var out gatehouse.DiffResult
	if err := c.call(ctx, http.MethodGet, "/v1/actions/"+url.PathEscape(id)+"/diff", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rollback plans (req.DryRun) or carries out a rollback. A refusal for
// problems is a result (Status RollbackRefused), not an error.
func (c *Client) Rollback(ctx context.Context, req gatehouse.RollbackRequest) (*gatehouse.RollbackResult, error) {
	var out gatehouse.RollbackResult
	if err := c.call(ctx, http.MethodPost, "/v1/rollback", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetSecret stores a secret's value in the daemon. It needs the admin
// token.
func (c *Client) SetSecret(ctx context.Context, name string, value []byte) (*gatehouse.SealedSecret, error) {
	var out gatehouse.SealedSecret
	if err := c.call(ctx, http.MethodPut, "/v1/secrets/"+url.PathEscape(name), SecretRequest{Value: value}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveSecret removes a secret.
func (c *Client) RemoveSecret(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/v1/secrets/"+url.PathEscape(name), nil, nil)
}

// Secrets lists the secrets the daemon holds: names and times.
func (c *Client) Secrets(ctx context.Context) ([]*gatehouse.SealedSecret, error) {
	var out []*gatehouse.SealedSecret
	return out, c.call(ctx, http.MethodGet, "/v1/secrets", nil, &out)
}

// Credentials lists the credentials agents hold (agent "" for all) and
// their last use.
func (c *Client) Credentials(ctx context.Context, agent string) ([]gatehouse.CredentialHolding, error) {
	path := "/v1/credentials"
	if agent != "" {
		path += "?agent=" + url.QueryEscape(agent)
	}
	var out []gatehouse.CredentialHolding
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// CredentialScan returns the credential scan a hooked session reported.
// ENOTFOUND if the session has none.
func (c *Client) CredentialScan(ctx context.Context, session string) (*gatehouse.CredentialScan, error) {
	var out gatehouse.CredentialScan
	if err := c.call(ctx, http.MethodGet, "/v1/credentials/scan?session="+url.QueryEscape(session), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// stream sends a run or attach request, with the stdin frames after it if
// o.Stdin is set, and reads the frames of the answer.
func (c *Client) stream(ctx context.Context, path string, req gatehouse.RunRequest, o RunOptions) (*gatehouse.Action, error) {
	if o.Stdin != nil {
		req.Stdin = true
	}
	head, err := json.Marshal(req)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "client.Run", err, "the request cannot be encoded")
	}
	if !req.Stdin {
		resp, err := c.send(ctx, http.MethodPost, path, bytes.NewReader(head))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return readFrames(ctx, resp.Body, o, nil)
	}
	// Full duplex: the body is the request object, then — once the action
	// has started — the stdin frames; its end is the command's EOF.
	pr, pw := io.Pipe()
	in := &stdinPump{src: o.Stdin, w: pw, start: make(chan struct{}), stop: make(chan struct{}), answered: make(chan struct{}),
		answerTimeout: answerTimeout}
	go in.run(ctx, head)
	defer in.close(pr)
	resp, err := c.send(ctx, http.MethodPost, path, pr)
	if err != nil {
		if in.timedOut() {
			return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the gateway at %s did not answer within %s", c.url, in.answerTimeout)
		}
		return nil, err
	}
	close(in.answered)
	defer resp.Body.Close()
	a, err := readFrames(ctx, resp.Body, o, in.started)
	if err != nil && gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE {
		if serr := in.err(); serr != nil {
			return a, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client.Run", serr, "reading stdin failed, so the action was interrupted: "+serr.Error())
		}
	}
	return a, err
}

// stdinPump writes a run's request body: the request object at once, the
// stdin frames once the action has started.
type stdinPump struct {
	src      io.Reader // nil: empty stdin
	w        *io.PipeWriter
	start    chan struct{} // closed when the started frame arrives
	stop     chan struct{} // closed when the stream is over
	answered chan struct{} // closed when the answer has begun
	// answerTimeout is the package's, read when the pump is made.
	answerTimeout time.Duration
	startOnce     sync.Once
	stopOnce      sync.Once
	mu            sync.Mutex
	readErr       error
	timeout       bool // no answer came in time
}

// answerTimeout bounds the wait for the answer of a run with stdin to
// begin. The gateway begins it as soon as it has read the request: one
// that does not within this time is taken for gone. (The transport waits
// for the request body's Read before it reports a broken connection, so
// without a bound a gateway that died before answering would hang the
// client.)
var answerTimeout = 30 * time.Second

func (p *stdinPump) timedOut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.timeout
}

func (p *stdinPump) started() { p.startOnce.Do(func() { close(p.start) }) }

func (p *stdinPump) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readErr
}

// close ends the pump: the body is cut off (the transport stops sending)
// and a Read of the source that returns later is dropped.
func (p *stdinPump) close(pr *io.PipeReader) {
	p.stopOnce.Do(func() { close(p.stop) })
	_ = pr.CloseWithError(errStreamOver)
}

var errStreamOver = errors.New("client: the run is over")

func (p *stdinPump) run(ctx context.Context, head []byte) {
	if _, err := p.w.Write(append(head, '\n')); err != nil {
		return
	}
	// The gateway reads stdin only once the command runs: sending it
	// earlier would only fill buffers, and a gateway that is reading
	// sees at once a client that goes away while its action waits.
	// Until then the body stays open; it is cut off if ctx ends or the
	// answer does not begin in time, since the transport waits for this
	// body before it gives up on a broken connection.
	timer := time.NewTimer(p.answerTimeout)
	defer timer.Stop()
	answered := p.answered
	for waiting := true; waiting; {
		select {
		case <-p.start:
			waiting = false
		case <-p.stop:
			_ = p.w.Close()
			return
		case <-ctx.Done():
			_ = p.w.CloseWithError(context.Cause(ctx))
			return
		case <-answered:
			timer.Stop()
			answered = nil
		case <-timer.C:
			p.mu.Lock()
			p.timeout = true
			p.mu.Unlock()
			_ = p.w.CloseWithError(errors.New("client: no answer from the gateway"))
			return
		}
	}
	if p.src == nil {
		_ = p.w.Close()
		return
	}
	buf := make([]byte, 32<<10)
	enc := json.NewEncoder(p.w)
	for {
		n, err := p.src.Read(buf)
		if n > 0 {
			select {
			case <-p.stop:
				return // Run has returned: drop it
			default:
			}
			if enc.Encode(Frame{Type: FrameStdin, Data: buf[:n]}) != nil {
				return // the stream is over
			}
		}
		switch {
		case err == io.EOF:
			_ = p.w.Close()
			return
		case err != nil:
			p.mu.Lock()
			p.readErr = err
			p.mu.Unlock()
			// Cut the body off mid-stream: the gateway interrupts the
			// action rather than let it run on a truncated input.
			_ = p.w.CloseWithError(err)
			return
		}
	}
}

// readFrames reads a stream of frames to its end. started, if not nil, is
// called when the action starts.
func readFrames(ctx context.Context, body io.Reader, o RunOptions, started func()) (*gatehouse.Action, error) {
	var last *gatehouse.Action
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var f Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return last, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client.Run", err, "malformed frame from the gateway")
		}
		switch f.Type {
		case FramePending:
			last = f.Action
			if o.Pending != nil {
				o.Pending(f.Action)
			}
		case FrameStarted:
			last = f.Action
			if started != nil {
				started()
			}
			if o.Started != nil {
				o.Started(f.Action)
			}
		case FrameStdout:
			if o.Stdout != nil {
				_, _ = o.Stdout.Write(f.Data)
			}
		case FrameStderr:
			if o.Stderr != nil {
				_, _ = o.Stderr.Write(f.Data)
			}
		case FrameFinished:
			if f.Action == nil {
				return last, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "malformed frame from the gateway: finished without the action")
			}
			return f.Action, refused(f.Action)
		case FrameError:
			if f.Action != nil {
				last = f.Action
			}
			if f.Error == nil || f.Error.Code == "" {
				return last, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "malformed frame from the gateway: error without a code")
			}
			return last, &gatehouse.Error{Code: f.Error.Code, Message: f.Error.Message}
		}
	}
	err := sc.Err()
	if ctx.Err() != nil {
		return last, cancelled(ctx)
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return last, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client.Run", err, "the connection to the gateway broke before the action finished")
}

// refused is the error of an action that ended denied: EREFUSED, with the
// gateway's reason.
func refused(a *gatehouse.Action) error {
	if a.Status != gatehouse.StatusDenied {
		return nil
	}
	msg := a.Error
	if msg == "" {
		msg = fmt.Sprintf("refused by rule %q: %s", a.Decision.Rule, a.Decision.Reason)
	}
	return &gatehouse.Error{Code: gatehouse.EREFUSED, Message: msg}
}

func cancelled(ctx context.Context) error {
	return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client", context.Cause(ctx), "interrupted: "+context.Cause(ctx).Error())
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EINVALID, "client", err, "the request cannot be encoded")
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return cancelled(ctx)
		}
		return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client", err, "malformed answer from the gateway")
	}
	return nil
}

// send sends a request and returns the response if its status is 2xx;
// otherwise the *gatehouse.Error its body carries.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, body)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "client", err, fmt.Sprintf("invalid gateway URL %q", c.url))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, cancelled(ctx)
		}
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "client", err, "cannot reach the gateway at "+c.url)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var er ErrorResponse
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &er) != nil || er.Error.Code == "" {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the gateway answered %s", resp.Status)
	}
	return nil, &gatehouse.Error{Code: er.Error.Code, Message: er.Error.Message}
}
