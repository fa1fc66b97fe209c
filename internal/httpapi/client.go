package httpapi

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
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// Client talks to a Gatehouse daemon. Its methods return *gatehouse.Error
// values with the daemon's codes, and EUNAVAILABLE when the daemon cannot
// be reached.
type Client struct {
	URL   string // e.g. http://127.0.0.1:7780
	Token string
	HTTP  *http.Client
}

// NewClient returns a client for the daemon at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{URL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{}}
}

// Health returns nil if the daemon answers /healthz with 200.
func (c *Client) Health(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return checkStatus(resp)
}

// AddAgent registers an agent and returns its token.
func (c *Client) AddAgent(ctx context.Context, name string) (*AgentToken, error) {
	return c.AddIdentity(ctx, name, gatehouse.RoleAgent)
}

// AddIdentity registers an agent or a reviewer and returns its token.
func (c *Client) AddIdentity(ctx context.Context, name string, role gatehouse.Role) (*AgentToken, error) {
	var out AgentToken
	if err := c.call(ctx, http.MethodPost, "/v1/agents", addAgentRequest{Name: name, Role: role}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddAgentWorkspaces registers an agent with workspaces (absolute
// directories on the daemon's machine) and returns its token.
func (c *Client) AddAgentWorkspaces(ctx context.Context, name string, workspaces []string) (*AgentToken, error) {
	var out AgentToken
	if err := c.call(ctx, http.MethodPost, "/v1/agents", addAgentRequest{Name: name, Role: gatehouse.RoleAgent, Workspaces: workspaces}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Diff returns what an action changed in its workspaces.
func (c *Client) Diff(ctx context.Context, id string) (*gateway.DiffResult, error) {
	var out gateway.DiffResult
	if err := c.call(ctx, http.MethodGet, "/v1/actions/"+url.PathEscape(id)+"/diff", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rollback plans (DryRun) or carries out a rollback.
func (c *Client) Rollback(ctx context.Context, req gateway.RollbackRequest) (*gateway.RollbackResult, error) {
	var out gateway.RollbackResult
	if err := c.call(ctx, http.MethodPost, "/v1/rollback", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Agents lists the registered agents and reviewers.
func (c *Client) Agents(ctx context.Context) ([]*gatehouse.Agent, error) {
	return c.Identities(ctx, "")
}

// Identities lists the registered identities of a role ("" for all).
func (c *Client) Identities(ctx context.Context, role gatehouse.Role) ([]*gatehouse.Agent, error) {
	path := "/v1/agents"
	if role != "" {
		path += "?role=" + url.QueryEscape(string(role))
	}
	var out []*gatehouse.Agent
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// RevokeAgent revokes an agent's token.
func (c *Client) RevokeAgent(ctx context.Context, name string) error {
	return c.RevokeIdentity(ctx, name, gatehouse.RoleAgent)
}

// RevokeIdentity revokes the token of an agent or reviewer.
func (c *Client) RevokeIdentity(ctx context.Context, name string, role gatehouse.Role) error {
	return c.call(ctx, http.MethodDelete, "/v1/agents/"+url.PathEscape(name)+"?role="+url.QueryEscape(string(role)), nil, nil)
}

// Pending lists the actions waiting for review.
func (c *Client) Pending(ctx context.Context) ([]*gatehouse.Action, error) {
	var out []*gatehouse.Action
	return out, c.call(ctx, http.MethodGet, "/v1/pending", nil, &out)
}

// Review approves or denies a pending action (verdict "approve" or
// "deny").
func (c *Client) Review(ctx context.Context, id, verdict string, req ReviewRequest) (*gatehouse.Action, error) {
	var out gatehouse.Action
	if err := c.call(ctx, http.MethodPost, "/v1/actions/"+url.PathEscape(id)+"/"+verdict, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LearnedRules lists the learned rules in force.
func (c *Client) LearnedRules(ctx context.Context) ([]policy.LearnedRule, error) {
	var out []policy.LearnedRule
	return out, c.call(ctx, http.MethodGet, "/v1/rules", nil, &out)
}

// RemoveLearnedRule revokes a learned rule.
func (c *Client) RemoveLearnedRule(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/rules/"+url.PathEscape(id), nil, nil)
}

// Halt puts a halt or a pause in force.
func (c *Client) Halt(ctx context.Context, req gateway.HaltRequest) (*gatehouse.Halt, error) {
	var out gatehouse.Halt
	return &out, c.call(ctx, http.MethodPost, "/v1/halts", req, &out)
}

// Resume lifts the halts and pauses of a scope.
func (c *Client) Resume(ctx context.Context, scope gatehouse.Scope) ([]*gatehouse.Halt, error) {
	var out []*gatehouse.Halt
	return out, c.call(ctx, http.MethodPost, "/v1/resume", ResumeRequest{Scope: scope}, &out)
}

// Status returns the halts, pauses, running actions and pending approvals.
func (c *Client) Status(ctx context.Context) (*gateway.Status, error) {
	var out gateway.Status
	return &out, c.call(ctx, http.MethodGet, "/v1/status", nil, &out)
}

// Policy describes the policy in force.
func (c *Client) Policy(ctx context.Context) (*gateway.PolicyInfo, error) {
	var out gateway.PolicyInfo
	return &out, c.call(ctx, http.MethodGet, "/v1/policy", nil, &out)
}

// ReloadPolicy makes the daemon load its policy file again.
func (c *Client) ReloadPolicy(ctx context.Context) (*gateway.PolicyInfo, error) {
	var out gateway.PolicyInfo
	return &out, c.call(ctx, http.MethodPost, "/v1/policy/reload", nil, &out)
}

// TestPolicy asks how the policy in force decides req, without running it.
func (c *Client) TestPolicy(ctx context.Context, req gateway.PolicyTestRequest) (*gateway.PolicyTestResult, error) {
	var out gateway.PolicyTestResult
	return &out, c.call(ctx, http.MethodPost, "/v1/policy/test", req, &out)
}

// ReplayPolicy decides the recorded history again by a candidate policy.
func (c *Client) ReplayPolicy(ctx context.Context, req ReplayRequest) (*gateway.ReplayReport, error) {
	var out gateway.ReplayReport
	return &out, c.call(ctx, http.MethodPost, "/v1/policy/replay", req, &out)
}

// Actions queries actions. The query's keys are those of GET /v1/actions
// (since, until, agent, session, status, grep, limit); time bounds are
// passed as typed and resolved by the daemon.
func (c *Client) Actions(ctx context.Context, query url.Values) ([]*gatehouse.Action, error) {
	path := "/v1/actions"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	var out []*gatehouse.Action
	return out, c.call(ctx, http.MethodGet, path, nil, &out)
}

// Action returns one action.
func (c *Client) Action(ctx context.Context, id string) (*gatehouse.Action, error) {
	var out gatehouse.Action
	if err := c.call(ctx, http.MethodGet, "/v1/actions/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Verify asks the daemon to verify its journal.
func (c *Client) Verify(ctx context.Context) (*gatehouse.VerifyReport, error) {
	var out gatehouse.VerifyReport
	if err := c.call(ctx, http.MethodGet, "/v1/verify", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Run asks the daemon to run req and copies the command's output to stdout
// and stderr as it arrives. started, if not nil, is called once the action
// is journaled and its process is about to start. It returns the finished
// action. If the stream breaks before the end, it returns EUNAVAILABLE and
// the action as far as it was known.
func (c *Client) Run(ctx context.Context, req gateway.RunRequest, stdout, stderr io.Writer, hooks Hooks) (*gatehouse.Action, error) {
	return c.stream(ctx, "/v1/run", req, stdout, stderr, hooks)
}

// Hooks are told a run's progress. Nil fields are skipped.
type Hooks struct {
	Pending func(*gatehouse.Action) // the action waits for review
	Started func(*gatehouse.Action) // the action is journaled and about to start
}

// Request asks the gateway to decide an action that the caller's harness
// carries out itself. It waits through a review (hooks.Pending is told)
// and returns the action: status running means go ahead and report the
// outcome with Complete; denied means do not.
func (c *Client) Request(ctx context.Context, req gateway.ExternalRequest, hooks Hooks) (*gatehouse.Action, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/external", req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return nil, err
	}
	return readFrames(resp.Body, io.Discard, io.Discard, hooks)
}

// SessionEvent reports what the harness says about a session, and learns
// whether a halt covers it.
func (c *Client) SessionEvent(ctx context.Context, req gateway.SessionEventRequest) (*gateway.Standing, error) {
	var out gateway.Standing
	return &out, c.call(ctx, http.MethodPost, "/v1/session-events", req, &out)
}

// Standing asks whether a halt covers the caller (in session).
func (c *Client) Standing(ctx context.Context, session string) (*gateway.Standing, error) {
	var out gateway.Standing
	return &out, c.call(ctx, http.MethodGet, "/v1/standing?session="+url.QueryEscape(session), nil, &out)
}

// Complete reports the outcome of an external action.
func (c *Client) Complete(ctx context.Context, out gateway.ExternalOutcome) (*gatehouse.Action, error) {
	var a gatehouse.Action
	if err := c.call(ctx, http.MethodPost, "/v1/external/complete", out, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Attach resumes waiting for a pending action, with the original request,
// and streams it as Run does.
func (c *Client) Attach(ctx context.Context, id string, req gateway.RunRequest, stdout, stderr io.Writer, hooks Hooks) (*gatehouse.Action, error) {
	return c.stream(ctx, "/v1/actions/"+url.PathEscape(id)+"/attach", req, stdout, stderr, hooks)
}

func (c *Client) stream(ctx context.Context, path string, req gateway.RunRequest, stdout, stderr io.Writer, hooks Hooks) (*gatehouse.Action, error) {
	resp, err := c.do(ctx, http.MethodPost, path, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return nil, err
	}
	return readFrames(resp.Body, stdout, stderr, hooks)
}

// readFrames reads a stream of frames to its end.
func readFrames(body io.Reader, stdout, stderr io.Writer, hooks Hooks) (*gatehouse.Action, error) {
	var last *gatehouse.Action
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var f Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return last, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "httpapi.Run", err, "malformed frame from the gateway")
		}
		switch f.Type {
		case FramePending:
			last = f.Action
			if hooks.Pending != nil {
				hooks.Pending(f.Action)
			}
		case FrameStarted:
			last = f.Action
			if hooks.Started != nil {
				hooks.Started(f.Action)
			}
		case FrameStdout:
			_, _ = stdout.Write(f.Data)
		case FrameStderr:
			_, _ = stderr.Write(f.Data)
		case FrameFinished:
			return f.Action, nil
		case FrameError:
			if f.Action != nil {
				last = f.Action
			}
			return last, &gatehouse.Error{Code: f.Error.Code, Message: f.Error.Message}
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return last, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "httpapi.Run", err, "the connection to the gateway broke before the action finished")
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.do(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "httpapi.call", err, "malformed answer from the gateway")
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, gatehouse.WrapError(gatehouse.EINTERNAL, "httpapi.do", err, "")
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EINVALID, "httpapi.do", err, fmt.Sprintf("invalid gateway URL %q", c.URL))
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "httpapi.do", err, "cannot reach the gateway at "+c.URL)
	}
	return resp, nil
}

// checkStatus turns a non-2xx answer into the *gatehouse.Error its body
// carries.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var er errorResponse
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if json.Unmarshal(b, &er) != nil || er.Error.Code == "" {
		return gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the gateway answered %s", resp.Status)
	}
	return &gatehouse.Error{Code: er.Error.Code, Message: er.Error.Message}
}
