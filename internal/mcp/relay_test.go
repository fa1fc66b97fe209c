package mcp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
)

// A stdio agent reaches a configured upstream through the relay (gatehouse
// mcp proxy --upstream): same tools, same decisions, one action per call;
// when the upstream restarts, the agent's session goes on.
func TestRelay(t *testing.T) {
	addr, admin, alphaLog, _, _, _ := twoUpstreams(t)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "stdio-agent")
	must(t, err)
	r := &mcp.Relay{Endpoint: "http://" + addr + "/mcp/alpha", Token: tok.Token, Session: "relayed"}
	must(t, r.Check(ctx))
	for _, bad := range []*mcp.Relay{
		{Endpoint: "http://" + addr + "/mcp/nope", Token: tok.Token},
		{Endpoint: "http://" + addr + "/mcp/alpha", Token: "gat_nonsense"},
	} {
		if err := bad.Check(ctx); err == nil {
			t.Errorf("Check(%s) = nil, want an error", bad.Endpoint)
		}
	}
	// The upstream must be connected before the agent's first initialize.
	connectHTTP(t, r.Endpoint, tok.Token, "").Close()

	cs := relaySession(t, r)
	if got := cs.InitializeResult().ServerInfo.Name; got != "test-alpha" {
		t.Errorf("server info through the relay: %q", got)
	}
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "relayed"}); isErr || got != "alpha: relayed" {
		t.Errorf("echo through the relay: isError=%v %q", isErr, got)
	}
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "secret"}); !isErr || !strings.Contains(got, "no-secrets-to-alpha") {
		t.Errorf("denied echo through the relay: isError=%v %q", isErr, got)
	}

	// The upstream dies; the relay's next session is over its successor.
	if res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "exit", Arguments: map[string]any{}}); err == nil && !res.IsError {
		t.Fatal("exit succeeded; the upstream should have died mid-call")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "after"}})
		if err == nil && !res.IsError {
			if txt := res.Content[0].(*sdk.TextContent).Text; txt != "alpha: after" {
				t.Errorf("echo after the restart: %q", txt)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no echo through the relay after the upstream restarted: %v %+v", err, res)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if calls := readLog(t, alphaLog); !strings.Contains(strings.Join(calls, "|"), "echo relayed|exit|") || strings.Contains(strings.Join(calls, "|"), "echo secret") {
		t.Errorf("what reached alpha: %q", calls)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	must(t, err)
	var summary []string
	for _, a := range acts {
		if a.Agent != "stdio-agent" || a.Session != "relayed" || a.System != "alpha" {
			t.Errorf("action %s: agent %q session %q system %q", a.ID, a.Agent, a.Session, a.System)
		}
		summary = append(summary, strings.TrimPrefix(a.Command, "mcp__alpha__")+":"+string(a.Status))
	}
	if got := strings.Join(summary, " "); !strings.HasPrefix(got, "echo:succeeded echo:denied exit:failed") || !strings.HasSuffix(got, "echo:succeeded") {
		t.Errorf("journal through the relay: %s", got)
	}
}

// relaySession runs r for an agent of the Go SDK, over in-memory
// transports standing for stdio.
func relaySession(t *testing.T, r *mcp.Relay) *sdk.ClientSession {
	t.Helper()
	agentT, relayT := sdk.NewInMemoryTransports()
	rctx, cancel := context.WithCancel(context.Background())
	relayed := make(chan error, 1)
	go func() { relayed <- r.Run(rctx, relayT) }()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "stdio-agent"}, nil).Connect(context.Background(), agentT, nil)
	must(t, err)
	t.Cleanup(func() {
		cs.Close()
		cancel()
		<-relayed
	})
	return cs
}

// A call waiting for a reviewer does not hold up the agent's other calls
// through the relay.
func TestRelayConcurrentCalls(t *testing.T) {
	addr, admin, _, _, _, _ := twoUpstreams(t)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "busy")
	must(t, err)
	r := &mcp.Relay{Endpoint: "http://" + addr + "/mcp/alpha", Token: tok.Token}
	connectHTTP(t, r.Endpoint, tok.Token, "").Close() // the upstream is up
	cs := relaySession(t, r)

	waited := make(chan string, 1)
	go func() {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "wait for me"}})
		switch {
		case err != nil:
			waited <- "error: " + err.Error()
		case res.IsError:
			waited <- "tool error: " + res.Content[0].(*sdk.TextContent).Text
		default:
			waited <- res.Content[0].(*sdk.TextContent).Text
		}
	}()
	var pending []*gatehouse.Action
	deadline := time.Now().Add(30 * time.Second)
	for len(pending) == 0 {
		if pending, err = admin.Pending(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the reviewed call never became pending")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "meanwhile"}); isErr || got != "alpha: meanwhile" {
		t.Errorf("a call while another waits: isError=%v %q", isErr, got)
	}
	select {
	case got := <-waited:
		t.Fatalf("the reviewed call ended before its review: %q", got)
	default:
	}
	if _, err := admin.Review(ctx, pending[0].ID, "approve", gatehouse.ReviewRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := <-waited; got != "alpha: wait for me" {
		t.Errorf("the reviewed call after approval: %q", got)
	}
}
