package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

// Proxy re-exposes an upstream MCP server unchanged — its capabilities,
// instructions, tools, resources, prompts, completions, logging,
// subscriptions and notifications, and its requests to the agent
// (sampling, elicitation, roots) — with every tools/call first decided by
// the gateway as an mcp_tool action — command "mcp__NAME__TOOL", system
// NAME, the arguments as its input — and journaled with its result. A call
// the gateway refuses is never forwarded: the agent gets a tool error with
// the reason.
//
// Each agent session gets its own upstream session, opened when the agent
// initializes, with the agent's protocol version and capabilities, and
// closed when the agent's session ends (see proxy_forward.go). The proxy
// speaks the session-based protocol (versions up to 2025-11-25).
type Proxy struct {
	Name string // the upstream's name, as policy rules match it (system)
	// Upstream returns a new transport to the upstream for one agent
	// session: a new process for a command, a new connection for a URL.
	Upstream func() sdk.Transport
	Client   *client.Client // the agent's client of the daemon
	Opts     Options
	Logger   *slog.Logger // nil: no logging
}

// sessionTimeout closes an HTTP agent session, and its upstream session,
// after this long without a request from the agent.
const sessionTimeout = 30 * time.Minute

// Server returns a server for one agent session (over stdio, say). It
// connects to the upstream when the agent initializes.
func (p *Proxy) Server() *sdk.Server {
	return newLink(p).server
}

// Handler serves the proxy over streamable HTTP, each agent session with
// its own upstream session.
func (p *Proxy) Handler() http.Handler {
	// The handler asks for a server at every request, to check the
	// protocol version; only a request without a session starts one.
	idle := p.Server()
	return sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		if r.Header.Get("Mcp-Session-Id") != "" {
			return idle
		}
		return p.Server()
	}, &sdk.StreamableHTTPOptions{SessionTimeout: sessionTimeout, Logger: p.logger()})
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return p.Logger
}

// callTool decides one tools/call, forwards it to up if allowed, and
// records its outcome. A refusal is a tool error (isError) and never
// reaches the upstream; an upstream's protocol error stays one.
func (p *Proxy) callTool(ctx context.Context, up *sdk.ClientSession, params *sdk.CallToolParamsRaw) (*sdk.CallToolResult, error) {
	name := params.Name
	args := params.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage(`{}`)
	}
	a, err := p.Client.Request(ctx, gatehouse.ExternalRequest{Kind: gatehouse.KindMCPTool, Tool: name,
		Command: "mcp__" + p.Name + "__" + name, Input: args, System: p.Name, Session: p.Opts.Session,
		Model: p.Opts.Model, Cwd: p.Opts.Cwd, Client: map[string]string{"harness": "gatehouse-mcp-proxy"}}, nil)
	if err != nil {
		return toolError(refusal(a, err).Error()), nil
	}
	if a.Status != gatehouse.StatusRunning {
		return toolError(fmt.Sprintf("gatehouse: %s (action %s)", a.Error, a.ID)), nil
	}
	start := time.Now()
	// The agent's _meta goes on as hopMeta leaves it, with the action's
	// traceparent instead of any the agent sent, so that the upstream's
	// spans join the action's trace.
	meta := hopMeta(params.Meta)
	if tp := a.Traceparent(); tp != "" {
		if meta == nil {
			meta = sdk.Meta{}
		}
		meta["traceparent"] = tp
		delete(meta, "tracestate") // it belongs to the agent's trace
	}
	res, callErr := up.CallTool(ctx, &sdk.CallToolParams{Meta: meta, Name: name, Arguments: args})
	d := float64(time.Since(start).Microseconds()) / 1000
	out := gatehouse.ExternalOutcome{ID: a.ID, DurationMS: &d}
	switch {
	case callErr != nil:
		out.Failed, out.Error = true, callErr.Error()
	case res.IsError:
		out.Failed = true
	}
	if res != nil {
		b, _ := json.Marshal(res)
		out.Response = string(b)
	}
	if _, err := p.Client.Complete(context.WithoutCancel(ctx), out); err != nil {
		return toolError("gatehouse: the outcome could not be journaled: " + gatehouse.ErrorMessage(err)), nil
	}
	if callErr != nil {
		return nil, upstreamError(callErr)
	}
	if res.Content == nil {
		res.Content = []sdk.Content{} // "content" is required
	}
	return res, nil
}

func toolError(msg string) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: msg}}}
}
