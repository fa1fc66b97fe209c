package mcp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
)

// actionByTrace finds the one action a traceparent names, as
// `gatehouse log --trace` does.
func actionByTrace(t *testing.T, admin *client.Client, traceparent string) *gatehouse.Action {
	t.Helper()
	acts, err := admin.Actions(context.Background(), client.ActionQuery{Trace: traceparent})
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
// _meta, in place of one the agent sent (and without the agent's
// tracestate, which belongs to the agent's trace); the agent's other _meta
// goes on.
func TestProxyCarriesTraceparent(t *testing.T) {
	var meta sdk.Meta
	up := sdk.NewServer(&sdk.Implementation{Name: "up"}, nil)
	sdk.AddTool(up, &sdk.Tool{Name: "ping"}, func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		meta = req.Params.Meta
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "pong"}}}, nil, nil
	})
	cs, admin := proxied(t, "version: 1\ndefault: allow\n", inMemory(t, up), nil)
	agents := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "ping", Arguments: map[string]any{},
		Meta: sdk.Meta{"traceparent": agents, "tracestate": "x=1", "mine": "kept"}})
	if err != nil || res.IsError {
		t.Fatalf("ping: %+v %v", res, err)
	}
	tp, _ := meta["traceparent"].(string)
	if tp == agents {
		t.Fatalf("the agent's traceparent was forwarded: %v", meta)
	}
	if _, ok := meta["tracestate"]; ok || meta["mine"] != "kept" {
		t.Errorf("forwarded _meta %v: want the agent's own fields but no tracestate", meta)
	}
	a := actionByTrace(t, admin, tp)
	if a.Command != "mcp__up__ping" || a.Traceparent() != tp {
		t.Errorf("_meta.traceparent %q is not its action's (%s %q)", tp, a.Command, a.Traceparent())
	}
}
