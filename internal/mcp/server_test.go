package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
)

const policy = `version: 1
default: allow
rules:
  - id: no-rm
    effect: deny
    reason: no deleting
    command: {prefix: "rm "}
  - id: no-etc
    effect: deny
    reason: not in /etc
    command: {prefix: "write_file /etc/"}
`

// startDaemon starts a real daemon on loopback with policy pol and returns
// its address and an admin client.
func startDaemon(t *testing.T, pol string) (string, *client.Client) {
	t.Helper()
	addr, adminTok := startDaemonToken(t, pol)
	return addr, client.New("http://"+addr, adminTok)
}

// startDaemonToken is startDaemon, returning the admin token.
func startDaemonToken(t *testing.T, pol string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(cfg.Policy, []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	adminTok, err := daemon.ReadAdminToken(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	return d.Addr(), adminTok
}

// session connects a Go SDK client to a Gatehouse MCP server whose agent
// acts through a real daemon on loopback.
func session(t *testing.T) (*sdk.ClientSession, *client.Client, string) {
	t.Helper()
	dir := t.TempDir()
	addr, admin := startDaemon(t, policy)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "mcp-agent")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(client.New("http://"+addr, tok.Token), mcp.Options{Session: "mcp-1", Cwd: work})
	st, ct := sdk.NewInMemoryTransports()
	if _, err := srv.Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, admin, work
}

func call(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v (refusals must be tool errors)", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func TestTools(t *testing.T) {
	cs, admin, work := session(t)
	ctx := context.Background()
	tl, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tl.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "http_request,list_directory,read_file,run_command,write_file" {
		t.Errorf("tools: %v", names)
	}
	if err := os.WriteFile(filepath.Join(work, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tool    string
		args    map[string]any
		isError bool
		want    string
	}{
		{"run_command", map[string]any{"command": "echo hello"}, false, `"stdout":"hello\n"`},
		{"run_command", map[string]any{"command": "rm keep"}, true, `refused by rule "no-rm"`},
		{"write_file", map[string]any{"path": "notes.txt", "content": "hi there"}, false, "wrote 8 bytes"},
		{"read_file", map[string]any{"path": "notes.txt"}, false, "hi there"},
		{"list_directory", map[string]any{"path": "."}, false, "keep\nnotes.txt"},
		{"write_file", map[string]any{"path": "/etc/gatehouse-test", "content": "x"}, true, `refused by rule "no-etc"`},
		{"read_file", map[string]any{"path": "missing.txt"}, true, "no such file"},
	}
	for _, tt := range tests {
		got, isErr := call(t, cs, tt.tool, tt.args)
		if isErr != tt.isError || !strings.Contains(got, tt.want) {
			t.Errorf("%s %v: isError=%v %q; want isError=%v containing %q", tt.tool, tt.args, isErr, got, tt.isError, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "keep")); err != nil {
		t.Error("a denied command ran")
	}
	if _, err := os.Stat("/etc/gatehouse-test"); err == nil {
		t.Error("a denied write happened")
	}
	// Every call is journaled as an action of the agent, in the session.
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[gatehouse.Kind]int{}
	for _, a := range acts {
		if a.Agent != "mcp-agent" || a.Session != "mcp-1" {
			t.Errorf("action %s: agent %q session %q", a.ID, a.Agent, a.Session)
		}
		kinds[a.Kind]++
	}
	if kinds[gatehouse.KindShell] != 2 || kinds[gatehouse.KindFileWrite] != 2 || kinds[gatehouse.KindFileRead] != 3 {
		t.Errorf("kinds journaled: %v", kinds)
	}
	for _, a := range acts {
		if a.Kind == gatehouse.KindFileRead && strings.Contains(a.Command, "missing.txt") && a.Status != gatehouse.StatusFailed {
			t.Errorf("a failed read is journaled as %s", a.Status)
		}
	}
	// A halt turns every tool into a tool error naming it.
	if _, err := admin.Halt(ctx, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: "mcp-agent"}, Reason: "incident"}); err != nil {
		t.Fatal(err)
	}
	for tool, args := range map[string]map[string]any{"run_command": {"command": "echo x"}, "read_file": {"path": "notes.txt"}} {
		got, isErr := call(t, cs, tool, args)
		if !isErr || !strings.Contains(got, "halted by admin") {
			t.Errorf("%s under a halt: isError=%v %q", tool, isErr, got)
		}
	}
	rep, err := admin.Verify(ctx)
	if err != nil || !rep.OK() {
		b, _ := json.Marshal(rep)
		t.Fatalf("verify: %s %v", b, err)
	}
}
