package mcp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse/client"
)

type withToken struct {
	token string
	next  http.RoundTripper
}

func (w withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+w.token)
	return w.next.RoundTrip(r)
}

// The daemon serves MCP over streamable HTTP at /mcp: the agent's token in
// the Authorization header, the same tools, the same journal.
func TestStreamableHTTP(t *testing.T) {
	dir := t.TempDir()
	addr, adminTok := startDaemonToken(t, policy)
	admin := client.New("http://"+addr, adminTok)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "http-agent")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + addr + "/mcp"

	// No token, or the admin's: refused.
	for _, bad := range []string{"", "gat_nonsense", adminTok} {
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
		req.Header.Set("Content-Type", "application/json")
		if bad != "" {
			req.Header.Set("Authorization", "Bearer "+bad)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 403 {
			t.Errorf("token %q: status %d, want 401 or 403", bad, resp.StatusCode)
		}
	}

	tr := &sdk.StreamableClientTransport{Endpoint: endpoint,
		HTTPClient: &http.Client{Transport: withToken{tok.Token, http.DefaultTransport}}}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	got, isErr := call(t, cs, "run_command", map[string]any{"command": "echo over http", "cwd": dir})
	if isErr || !strings.Contains(got, "over http") {
		t.Fatalf("run_command: isError=%v %q", isErr, got)
	}
	got, isErr = call(t, cs, "run_command", map[string]any{"command": "rm -rf x", "cwd": dir})
	if !isErr || !strings.Contains(got, "no-rm") {
		t.Fatalf("denied run_command: isError=%v %q", isErr, got)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].Agent != "http-agent" {
		t.Fatalf("journal: %d actions, first by %q", len(acts), acts[0].Agent)
	}

	// Another agent's token cannot use this session.
	other, _ := admin.AddAgent(ctx, "other")
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+other.Token)
	req.Header.Set("Mcp-Session-Id", cs.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another token on the session: status %d, want 404", resp.StatusCode)
	}
}
