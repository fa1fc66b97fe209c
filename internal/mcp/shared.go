package mcp

import (
	"context"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// sharedServer builds the server for one agent session over a connection
// to the upstream that every session shares (the daemon's Hub, at
// /mcp/NAME): the tools, resources, resource templates and prompts the
// upstream lists now, each tools/call decided by the gateway first
// (callTool) and the rest passed on. Unlike Server, whose upstream session
// is the agent's own, it relays nothing the upstream sends by itself —
// sampling, elicitation, roots, notifications — since the connection
// belongs to no one agent; docs/MCP.md and docs/CONFIG.md say so.
func (p *Proxy) sharedServer(ctx context.Context, up *sdk.ClientSession) (*sdk.Server, error) {
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
			s.AddTool(t, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
				return p.callTool(ctx, up, req.Params)
			})
		}
	}
	if caps.Resources != nil {
		read := func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return up.ReadResource(ctx, req.Params)
		}
		for r, err := range up.Resources(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("listing the upstream's resources: %w", err)
			}
			s.AddResource(r, read)
		}
		for rt, err := range up.ResourceTemplates(ctx, nil) {
			if err != nil {
				return nil, fmt.Errorf("listing the upstream's resource templates: %w", err)
			}
			s.AddResourceTemplate(rt, read)
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
