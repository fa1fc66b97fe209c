package mcp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
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
	s := sdk.NewServer(&sdk.Implementation{Name: "up", Version: "1.0"}, &sdk.ServerOptions{Instructions: "call echo first"})
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

// inMemory connects srv anew for each agent session.
func inMemory(t *testing.T, srv *sdk.Server) func() sdk.Transport {
	return func() sdk.Transport {
		s, c := sdk.NewInMemoryTransports()
		if _, err := srv.Connect(context.Background(), s, nil); err != nil {
			t.Error(err)
		}
		return c
	}
}

// proxied starts a daemon with pol, a proxy named "up" in front of
// upstream, and an agent's session with the proxy (with opts).
func proxied(t *testing.T, pol string, upstream func() sdk.Transport, opts *sdk.ClientOptions) (*sdk.ClientSession, *client.Client) {
	t.Helper()
	addr, admin := startDaemon(t, pol)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "proxied")
	if err != nil {
		t.Fatal(err)
	}
	p := &mcp.Proxy{Name: "up", Upstream: upstream, Client: client.New("http://"+addr, tok.Token), Opts: mcp.Options{Session: "px", Cwd: t.TempDir()}}
	pS, pC := sdk.NewInMemoryTransports()
	if _, err := p.Server().Connect(ctx, pS, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "agent"}, opts).Connect(ctx, pC, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, admin
}

func TestProxy(t *testing.T) {
	pol := "version: 1\ndefault: allow\nrules:\n  - id: no-danger\n    effect: deny\n    reason: not that one\n    command: {exact: \"mcp__up__danger\"}\n"
	var calls atomic.Int32
	cs, admin := proxied(t, pol, inMemory(t, upstream(&calls)), nil)
	ctx := context.Background()

	init := cs.InitializeResult()
	if init.ServerInfo.Name != "up" || init.Instructions != "call echo first" {
		t.Errorf("server info %q, instructions %q: want the upstream's", init.ServerInfo.Name, init.Instructions)
	}
	if init.Capabilities.Tools == nil || init.Capabilities.Prompts == nil || init.Capabilities.Resources == nil || init.Capabilities.Completions != nil {
		t.Errorf("capabilities %+v, want the upstream's", init.Capabilities)
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
	// The upstream's protocol errors stay protocol errors, code and all.
	var werr *jsonrpc.Error
	if _, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "nope"}); !errors.As(err, &werr) || werr.Code != jsonrpc.CodeInvalidParams || !strings.Contains(werr.Message, `unknown prompt "nope"`) {
		t.Errorf("unknown prompt: %v, want the upstream's invalid-params error", err)
	}
	// A tool the upstream does not list is still decided and journaled,
	// and the upstream's answer passes through.
	if _, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "ghost", Arguments: map[string]any{}}); !errors.As(err, &werr) || werr.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("unknown tool: %v, want the upstream's invalid-params error", err)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 3 {
		t.Fatalf("%d actions journaled, want 3", len(acts))
	}
	if a := acts[0]; a.Kind != gatehouse.KindMCPTool || a.System != "up" || a.Command != "mcp__up__echo" ||
		!strings.Contains(string(a.Input), `"text":"hi"`) || !strings.Contains(a.Response, "echo: hi") || a.Status != gatehouse.StatusSucceeded {
		t.Errorf("journaled call: %+v", a)
	}
	if acts[1].Status != gatehouse.StatusDenied {
		t.Errorf("denied call journaled as %s", acts[1].Status)
	}
	if a := acts[2]; a.Command != "mcp__up__ghost" || a.Status != gatehouse.StatusFailed || !strings.Contains(a.Error, "unknown tool") {
		t.Errorf("unknown tool journaled as %+v", a)
	}
}

// The upstream may be a streamable HTTP server (--url) just as well.
func TestProxyHTTPUpstream(t *testing.T) {
	var calls atomic.Int32
	upSrv := upstream(&calls)
	hs := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return upSrv }, nil))
	t.Cleanup(hs.Close) // after the agent's session, and so the upstream's, has closed
	cs, _ := proxied(t, "version: 1\ndefault: allow\n", func() sdk.Transport { return &sdk.StreamableClientTransport{Endpoint: hs.URL} }, nil)
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "over http"}); isErr || got != "echo: over http" {
		t.Errorf("echo through the proxy: isError=%v %q", isErr, got)
	}
	if calls.Load() != 1 {
		t.Errorf("upstream calls: %d", calls.Load())
	}
}

// wait returns the value from ch, failing the test if none comes at all.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never came through the proxy", what)
		var zero T
		return zero
	}
}

// What the upstream sends the agent and asks of it in a session passes
// through the proxy both ways: progress, log messages, sampling,
// elicitation, roots, list changes and resource updates, completions,
// pages of lists, cancellation.
func TestProxyForwards(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	var subscribed atomic.Value
	rootsChanged := make(chan struct{}, 1)
	up := sdk.NewServer(&sdk.Implementation{Name: "up", Version: "1.0"}, &sdk.ServerOptions{
		PageSize: 1,
		RootsListChangedHandler: func(ctx context.Context, req *sdk.RootsListChangedRequest) {
			select {
			case rootsChanged <- struct{}{}:
			default:
			}
		},
		CompletionHandler: func(ctx context.Context, req *sdk.CompleteRequest) (*sdk.CompleteResult, error) {
			return &sdk.CompleteResult{Completion: sdk.CompletionResultDetails{Values: []string{req.Params.Argument.Value + "-done"}}}, nil
		},
		SubscribeHandler: func(ctx context.Context, req *sdk.SubscribeRequest) error {
			subscribed.Store(req.Params.URI)
			return nil
		},
		UnsubscribeHandler: func(ctx context.Context, req *sdk.UnsubscribeRequest) error { return nil },
	})
	up.AddResource(&sdk.Resource{URI: "mem://a", Name: "a"}, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
		return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: "mem://a", Text: "a"}}}, nil
	})
	up.AddResource(&sdk.Resource{URI: "mem://b", Name: "b"}, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
		return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: "mem://b", Text: "b"}}}, nil
	})
	sdk.AddTool(up, &sdk.Tool{Name: "work"}, func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		for i := range 3 {
			if err := req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: float64(i + 1), Total: 3}); err != nil {
				return nil, nil, err
			}
		}
		if err := req.Session.Log(ctx, &sdk.LoggingMessageParams{Level: "warning", Logger: "up", Data: "working"}); err != nil {
			return nil, nil, err
		}
		if err := req.Session.Log(ctx, &sdk.LoggingMessageParams{Level: "debug", Data: "below the level"}); err != nil {
			return nil, nil, err
		}
		msg, err := req.Session.CreateMessage(ctx, &sdk.CreateMessageParams{MaxTokens: 10, Messages: []*sdk.SamplingMessage{{Role: "user", Content: &sdk.TextContent{Text: "2+2?"}}}})
		if err != nil {
			return nil, nil, err
		}
		el, err := req.Session.Elicit(ctx, &sdk.ElicitParams{Message: "sure?", RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}}}})
		if err != nil {
			return nil, nil, err
		}
		roots, err := req.Session.ListRoots(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		text := msg.Content.(*sdk.TextContent).Text + " " + el.Action + " " + roots.Roots[0].URI
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}, nil, nil
	})
	sdk.AddTool(up, &sdk.Tool{Name: "hang"}, func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, nil, ctx.Err()
	})

	progress := make(chan float64, 10)
	logs := make(chan string, 10)
	toolsChanged := make(chan struct{}, 1)
	updated := make(chan string, 1)
	opts := &sdk.ClientOptions{
		ProgressNotificationHandler: func(ctx context.Context, req *sdk.ProgressNotificationClientRequest) {
			if req.Params.ProgressToken == "tok-1" {
				progress <- req.Params.Progress
			}
		},
		LoggingMessageHandler: func(ctx context.Context, req *sdk.LoggingMessageRequest) {
			logs <- string(req.Params.Level) + ":" + req.Params.Data.(string)
		},
		CreateMessageHandler: func(ctx context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
			return &sdk.CreateMessageResult{Model: "m", Role: "assistant", Content: &sdk.TextContent{Text: "four for " + req.Params.Messages[0].Content.(*sdk.TextContent).Text}}, nil
		},
		ElicitationHandler: func(ctx context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
			return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"ok": true}}, nil
		},
		ToolListChangedHandler: func(ctx context.Context, req *sdk.ToolListChangedRequest) {
			select {
			case toolsChanged <- struct{}{}:
			default:
			}
		},
		ResourceUpdatedHandler: func(ctx context.Context, req *sdk.ResourceUpdatedNotificationRequest) { updated <- req.Params.URI },
	}
	agent := sdk.NewClient(&sdk.Implementation{Name: "agent"}, opts)
	agent.AddRoots(&sdk.Root{URI: "file:///work", Name: "work"})
	addr, admin := startDaemon(t, "version: 1\ndefault: allow\n")
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "proxied")
	if err != nil {
		t.Fatal(err)
	}
	p := &mcp.Proxy{Name: "up", Upstream: inMemory(t, up), Client: client.New("http://"+addr, tok.Token), Opts: mcp.Options{Cwd: t.TempDir()}}
	pS, pC := sdk.NewInMemoryTransports()
	if _, err := p.Server().Connect(ctx, pS, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := agent.Connect(ctx, pC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	if caps := cs.InitializeResult().Capabilities; caps.Completions == nil || caps.Resources == nil || !caps.Resources.Subscribe {
		t.Errorf("capabilities %+v: want the upstream's completions and subscriptions", caps)
	}
	if err := cs.SetLoggingLevel(ctx, &sdk.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	params := &sdk.CallToolParams{Name: "work", Arguments: map[string]any{}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Content[0].(*sdk.TextContent).Text; got != "four for 2+2? accept file:///work" {
		t.Errorf("sampling, elicitation and roots through the proxy: %q", got)
	}
	for i := range 3 {
		if got := wait(t, progress, "progress"); got != float64(i+1) {
			t.Errorf("progress %d: %v", i, got)
		}
	}
	if got := wait(t, logs, "the log message"); got != "warning:working" {
		t.Errorf("log message: %q (the upstream filters by the level the agent set)", got)
	}

	// Pages: the upstream's cursors pass through.
	page, err := cs.ListResources(ctx, nil)
	if err != nil || len(page.Resources) != 1 || page.NextCursor == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	page2, err := cs.ListResources(ctx, &sdk.ListResourcesParams{Cursor: page.NextCursor})
	if err != nil || len(page2.Resources) != 1 || page2.Resources[0].URI == page.Resources[0].URI {
		t.Errorf("second page: %+v %v", page2, err)
	}

	comp, err := cs.Complete(ctx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/resource", URI: "mem://a"}, Argument: sdk.CompleteParamsArgument{Name: "x", Value: "ab"}})
	if err != nil || len(comp.Completion.Values) != 1 || comp.Completion.Values[0] != "ab-done" {
		t.Errorf("completion: %+v %v", comp, err)
	}

	if err := cs.Subscribe(ctx, &sdk.SubscribeParams{URI: "mem://a"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := subscribed.Load().(string); got != "mem://a" {
		t.Errorf("the upstream saw a subscription to %q", got)
	}
	if err := up.ResourceUpdated(ctx, &sdk.ResourceUpdatedNotificationParams{URI: "mem://a"}); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, updated, "the resource update"); got != "mem://a" {
		t.Errorf("updated %q", got)
	}
	if err := cs.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: "mem://a"}); err != nil {
		t.Error(err)
	}

	sdk.AddTool(up, &sdk.Tool{Name: "new"}, func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{}, nil, nil
	})
	wait(t, toolsChanged, "tools/list_changed")
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "hang,new,work" {
		t.Errorf("tools after the change, page by page: %v", names)
	}

	// The agent's notifications go upstream too.
	agent.AddRoots(&sdk.Root{URI: "file:///more", Name: "more"})
	wait(t, rootsChanged, "roots/list_changed")

	// Cancelling a call cancels it upstream.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(cctx, &sdk.CallToolParams{Name: "hang", Arguments: map[string]any{}})
		errc <- err
	}()
	<-started
	cancel()
	wait(t, cancelled, "the cancellation")
	if err := wait(t, errc, "the cancelled call's end"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Command != "mcp__up__work" || acts[0].Status != gatehouse.StatusSucceeded || acts[1].Command != "mcp__up__hang" {
		t.Errorf("journal: %+v", acts)
	}
}

// Over streamable HTTP (--listen), what the upstream sends outside any of
// the agent's requests reaches the agent on its own stream.
func TestProxyListenOutsideRequests(t *testing.T) {
	release := make(chan struct{})
	roots := make(chan string, 1)
	up := sdk.NewServer(&sdk.Implementation{Name: "up", Version: "1.0"}, nil)
	sdk.AddTool(up, &sdk.Tool{Name: "later"}, func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		go func() {
			<-release
			res, err := req.Session.ListRoots(context.Background(), nil)
			if err != nil {
				roots <- "error: " + err.Error()
				return
			}
			roots <- res.Roots[0].URI
		}()
		return &sdk.CallToolResult{}, nil, nil
	})
	addr, admin := startDaemon(t, "version: 1\ndefault: allow\n")
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "proxied")
	if err != nil {
		t.Fatal(err)
	}
	p := &mcp.Proxy{Name: "up", Upstream: inMemory(t, up), Client: client.New("http://"+addr, tok.Token), Opts: mcp.Options{Cwd: t.TempDir()}}
	hs := httptest.NewServer(p.Handler())
	t.Cleanup(hs.Close)
	agent := sdk.NewClient(&sdk.Implementation{Name: "agent"}, nil)
	agent.AddRoots(&sdk.Root{URI: "file:///outside", Name: "outside"})
	cs, err := agent.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if _, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "later", Arguments: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if got := wait(t, roots, "the roots request"); got != "file:///outside" {
		t.Errorf("roots asked outside a request: %s", got)
	}
}
