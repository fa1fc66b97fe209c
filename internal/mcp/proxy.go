package mcp

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

// Proxy re-exposes an upstream MCP server's tools, resources and prompts
// unchanged, with every tools/call first decided by the gateway as an
// mcp_tool action — command "mcp__NAME__TOOL", system NAME, the arguments
// as its input — and journaled with its result. A call the gateway refuses
// is never forwarded: the agent gets a tool error with the reason.
//
// What is proxied is read from the upstream once, when the proxy starts.
type Proxy struct {
	Name     string // the upstream's name, as policy rules match it (system)
	Upstream *sdk.ClientSession
	Client   *client.Client // the agent's client of the daemon
	Opts     Options
}

// Server builds the proxying server.
func (p *Proxy) Server(ctx context.Context) (*sdk.Server, error) {
	up := p.Upstream
	info := up.InitializeResult()
	impl := &sdk.Implementation{Name: "gatehouse-proxy:" + p.Name, Version: p.Opts.Version}
	if info != nil && info.ServerInfo != nil {
		impl = &sdk.Implementation{Name: info.ServerInfo.Name, Version: info.ServerInfo.Version, Title: info.ServerInfo.Title}
	}
	s := sdk.NewServer(impl, nil)
	caps := &sdk.ServerCapabilities{}
	if info != nil && info.Capabilities != nil {
		caps = info.Capabilities
	}
	if caps.Tools != nil {
		for t, err := range up.Tools(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("listing the upstream's tools: %w", err)
			}
			s.AddTool(t, p.callTool(t.Name))
		}
	}
	if caps.Resources != nil {
		for r, err := range up.Resources(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("listing the upstream's resources: %w", err)
			}
			s.AddResource(r, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
				return up.ReadResource(ctx, req.Params)
			})
		}
		for rt, err := range up.ResourceTemplates(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("listing the upstream's resource templates: %w", err)
			}
			s.AddResourceTemplate(rt, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
				return up.ReadResource(ctx, req.Params)
			})
		}
	}
	if caps.Prompts != nil {
		for pr, err := range up.Prompts(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("listing the upstream's prompts: %w", err)
			}
			s.AddPrompt(pr, func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
				return up.GetPrompt(ctx, req.Params)
			})
		}
	}
	return s, nil
}

// callTool decides, forwards and records one tool's calls.
func (p *Proxy) callTool(name string) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		args := req.Params.Arguments
		if len(args) == 0 {
			args = json.RawMessage(`{}`)
		}
		a, err := p.Client.Request(ctx, gatehouse.ExternalRequest{Kind: gatehouse.KindMCPTool, Tool: name,
			Command: "mcp__" + p.Name + "__" + name, Input: args, System: p.Name, Session: p.Opts.Session,
			Model: p.Opts.Model, Cwd: p.Opts.Cwd, Client: map[string]string{"harness": "gatehouse-mcp-proxy"}}, nil)
		if err != nil {
			return toolError(refusal(a, err).Error()), nil
		}
		// The downstream request's _meta is not forwarded: it belongs to
		// that session (it carries the protocol version the agent
		// negotiated, which an HTTP upstream checks against its own).
		res, callErr := p.Upstream.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
		out := gatehouse.ExternalOutcome{ID: a.ID}
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
			return nil, callErr // the upstream's protocol error, passed on as one
		}
		return res, nil
	}
}

func toolError(msg string) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: msg}}}
}
