package mcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
)

type echoIn struct {
	Text string `json:"text"`
}

// upstream is a small MCP server of our own: two tools, a resource and a
// prompt. calls counts what reached it.
func upstream(calls *atomic.Int32) *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "up", Version: "1.0"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "echo"}, func(ctx context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
		calls.Add(1)
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "echo: " + in.Text}}}, nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "danger", Description: "drops everything"}, func(ctx context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
		calls.Add(1)
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "dropped"}}}, nil, nil
	})
	s.AddResource(&sdk.Resource{URI: "mem://greeting", Name: "greeting", MIMEType: "text/plain"},
		func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: "mem://greeting", MIMEType: "text/plain", Text: "hello from upstream"}}}, nil
		})
	s.AddPrompt(&sdk.Prompt{Name: "greet", Description: "a greeting"}, func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
		return &sdk.GetPromptResult{Messages: []*sdk.PromptMessage{{Role: "user", Content: &sdk.TextContent{Text: "say hello"}}}}, nil
	})
	return s
}

func TestProxy(t *testing.T) {
	dir := t.TempDir()
	pol := "version: 1\ndefault: allow\nrules:\n  - id: no-danger\n    effect: deny\n    reason: not that one\n    command: {exact: \"mcp__up__danger\"}\n"
	addr, admin := startDaemon(t, pol)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "proxied")
	if err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	upS, upC := sdk.NewInMemoryTransports()
	if _, err := upstream(&calls).Connect(ctx, upS, nil); err != nil {
		t.Fatal(err)
	}
	up, err := sdk.NewClient(&sdk.Implementation{Name: "gatehouse"}, nil).Connect(ctx, upC, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &mcp.Proxy{Name: "up", Upstream: up, Client: client.New("http://"+addr, tok.Token), Opts: mcp.Options{Session: "px", Cwd: dir}}
	srv, err := p.Server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pS, pC := sdk.NewInMemoryTransports()
	if _, err := srv.Connect(ctx, pS, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "agent"}, nil).Connect(ctx, pC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	if got := cs.InitializeResult().ServerInfo.Name; got != "up" {
		t.Errorf("server info %q, want the upstream's", got)
	}
	tl, _ := cs.ListTools(ctx, nil)
	if len(tl.Tools) != 2 {
		t.Fatalf("tools: %d, want the upstream's 2", len(tl.Tools))
	}
	got, isErr := call(t, cs, "echo", map[string]any{"text": "hi"})
	if isErr || got != "echo: hi" {
		t.Errorf("echo through the proxy: isError=%v %q", isErr, got)
	}
	got, isErr = call(t, cs, "danger", map[string]any{"text": "x"})
	if !isErr || !strings.Contains(got, `refused by rule "no-danger"`) {
		t.Errorf("denied tool: isError=%v %q", isErr, got)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the upstream got %d calls; the denied one must never be forwarded", n)
	}
	rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "mem://greeting"})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != "hello from upstream" {
		t.Errorf("resource through the proxy: %+v %v", rr, err)
	}
	gp, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "greet"})
	if err != nil || len(gp.Messages) != 1 {
		t.Errorf("prompt through the proxy: %+v %v", gp, err)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 {
		t.Fatalf("%d actions journaled, want 2", len(acts))
	}
	if a := acts[0]; a.Kind != gatehouse.KindMCPTool || a.System != "up" || a.Command != "mcp__up__echo" ||
		!strings.Contains(string(a.Input), `"text":"hi"`) || !strings.Contains(a.Response, "echo: hi") || a.Status != gatehouse.StatusSucceeded {
		t.Errorf("journaled call: %+v", a)
	}
	if acts[1].Status != gatehouse.StatusDenied {
		t.Errorf("denied call journaled as %s", acts[1].Status)
	}
}

// The upstream may be a streamable HTTP server (--url) just as well.
func TestProxyHTTPUpstream(t *testing.T) {
	dir := t.TempDir()
	addr, admin := startDaemon(t, "version: 1\ndefault: allow\n")
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "proxied")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	upSrv := upstream(&calls)
	hs := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return upSrv }, nil))
	defer hs.Close()
	up, err := sdk.NewClient(&sdk.Implementation{Name: "gatehouse"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	p := &mcp.Proxy{Name: "up", Upstream: up, Client: client.New("http://"+addr, tok.Token), Opts: mcp.Options{Cwd: dir}}
	srv, err := p.Server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pS, pC := sdk.NewInMemoryTransports()
	if _, err := srv.Connect(ctx, pS, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "agent"}, nil).Connect(ctx, pC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "over http"}); isErr || got != "echo: over http" {
		t.Errorf("echo through the proxy: isError=%v %q", isErr, got)
	}
	if calls.Load() != 1 {
		t.Errorf("upstream calls: %d", calls.Load())
	}
}
