package mcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
)

// actionByTrace finds the one action a traceparent names, as
// `gatehouse log --trace` does.
func actionByTrace(t *testing.T, admin *httpapi.Client, traceparent string) *gatehouse.Action {
	t.Helper()
	acts, err := admin.Actions(context.Background(), url.Values{"trace": {traceparent}})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 {
		t.Fatalf("%d actions with the trace of %q, want 1", len(acts), traceparent)
	}
	return acts[0]
}

// http_request sends the action's traceparent — not one the caller set —
// so that the server's spans join the action's trace.
func TestHTTPRequestCarriesTraceparent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent")+"|"+r.Header.Get("tracestate"))
		mu.Unlock()
	}))
	defer srv.Close()
	cs, admin, _ := session(t)
	if _, isErr := call(t, cs, "http_request", map[string]any{"url": srv.URL,
		"headers": map[string]string{"Traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "x=1"}}); isErr {
		t.Fatal("http_request failed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d requests arrived", len(got))
	}
	tp := got[0][:len(got[0])-1] // the tracestate went with the caller's trace
	if got[0][len(got[0])-1] != '|' {
		t.Errorf("tracestate %q was forwarded with a traceparent it does not belong to", got[0])
	}
	a := actionByTrace(t, admin, tp)
	if a.Kind != gatehouse.KindHTTP || a.Traceparent() != tp {
		t.Errorf("the request's traceparent %q is not its action's (%s, %q)", tp, a.Kind, a.Traceparent())
	}
}

// The proxy's forwarded tools/call carries the action's traceparent in
// _meta.
func TestProxyCarriesTraceparent(t *testing.T) {
	addr, admin := startDaemon(t, "version: 1\ndefault: allow\n")
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "proxied")
	if err != nil {
		t.Fatal(err)
	}
	var meta sdk.Meta
	up := sdk.NewServer(&sdk.Implementation{Name: "up"}, nil)
	sdk.AddTool(up, &sdk.Tool{Name: "ping"}, func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		meta = req.Params.Meta
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "pong"}}}, nil, nil
	})
	upS, upC := sdk.NewInMemoryTransports()
	if _, err := up.Connect(ctx, upS, nil); err != nil {
		t.Fatal(err)
	}
	upc, err := sdk.NewClient(&sdk.Implementation{Name: "gatehouse"}, nil).Connect(ctx, upC, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &mcp.Proxy{Name: "up", Upstream: upc, Client: httpapi.NewClient("http://"+addr, tok.Token), Opts: mcp.Options{Session: "px", Cwd: t.TempDir()}}
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
	if out, isErr := call(t, cs, "ping", map[string]any{}); isErr || out != "pong" {
		t.Fatalf("ping: %q %v", out, isErr)
	}
	tp, _ := meta["traceparent"].(string)
	a := actionByTrace(t, admin, tp)
	if a.Command != "mcp__up__ping" || a.Traceparent() != tp {
		t.Errorf("_meta.traceparent %q is not its action's (%s %q)", tp, a.Command, a.Traceparent())
	}
}
