package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// TestMain lets the test binary be a stdio MCP upstream of its own: with
// GATEHOUSE_TEST_UPSTREAM=NAME it serves stdioUpstream and exits.
func TestMain(m *testing.M) {
	if name := os.Getenv("GATEHOUSE_TEST_UPSTREAM"); name != "" {
		if err := stdioUpstream(name, os.Getenv("GATEHOUSE_TEST_UPSTREAM_LOG")).Run(context.Background(), &sdk.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "test upstream:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// stdioUpstream is a server run as a program: echo answers with its name,
// so a test sees which upstream answered; every call and the process's
// pid are appended to logPath, so a test sees what reached it; exit ends
// the process without an answer.
func stdioUpstream(name, logPath string) *sdk.Server {
	note := func(line string) {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	note("pid " + strconv.Itoa(os.Getpid()))
	fmt.Fprintln(os.Stderr, "test upstream "+name+" ready")
	s := sdk.NewServer(&sdk.Implementation{Name: "test-" + name, Version: "1.0"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "echo"}, func(ctx context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
		note("echo " + in.Text)
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: name + ": " + in.Text}}}, nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "exit", Description: "ends the server"}, func(ctx context.Context, _ *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		note("exit")
		os.Exit(3)
		return nil, nil, nil
	})
	s.AddResource(&sdk.Resource{URI: "mem://name", Name: "name", MIMEType: "text/plain"},
		func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: "mem://name", MIMEType: "text/plain", Text: name}}}, nil
		})
	return s
}

// startDaemonConfig starts a daemon with policy pol and configuration
// file conf; stop stops it and returns what Wait returned.
func startDaemonConfig(t testing.TB, pol, conf string) (addr string, admin *adminClient, logf string, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	cfg.ConfigFile = filepath.Join(dir, "config.yaml")
	must(t, os.WriteFile(cfg.Policy, []byte(pol), 0o600))
	must(t, os.WriteFile(cfg.ConfigFile, []byte(conf), 0o600))
	logf = filepath.Join(dir, "daemon.log")
	lf, err := os.Create(logf)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(lf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	var stopped error
	var once atomic.Bool
	stop = func() error {
		if once.CompareAndSwap(false, true) {
			cancel()
			stopped = <-done
			lf.Close()
		}
		return stopped
	}
	t.Cleanup(func() { _ = stop() })
	tok, err := daemon.ReadAdminToken(cfg.StateDir)
	must(t, err)
	return d.Addr(), &adminClient{Client: client.New("http://"+d.Addr(), tok), Token: tok}, logf, stop
}

// adminClient is a client with the admin token, and the token, for the
// requests a test makes by hand.
type adminClient struct {
	*client.Client
	Token string
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// connectHTTP opens an MCP session at endpoint with token, trying again
// while the upstream is not connected yet (503), for up to 30s.
func connectHTTP(t testing.TB, endpoint, token, session string) *sdk.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: withToken{token, withSession{session, http.DefaultTransport}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "agent"}, nil).Connect(context.Background(),
			&sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
		if err == nil {
			t.Cleanup(func() { cs.Close() })
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("connecting to %s: %v", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type withSession struct {
	session string
	next    http.RoundTripper
}

func (w withSession) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Gatehouse-Session", w.session)
	return w.next.RoundTrip(r)
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func pids(lines []string) []int {
	var out []int
	for _, l := range lines {
		if p, ok := strings.CutPrefix(l, "pid "); ok {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
	}
	return out
}

// mcpPolicy denies, on alpha only, echoing anything with "secret" in it:
// a rule over the upstream's name, the tool and the arguments.
const mcpPolicy = `version: 1
default: allow
rules:
  - id: no-secrets-to-alpha
    effect: deny
    reason: secrets stay away from alpha
    system: alpha
    when: 'mcp.tool == "echo" && has(mcp.arguments.text) && mcp.arguments.text.contains("secret")'
    examples:
      match: [{command: mcp__alpha__echo, arguments: {text: my secret}}]
      no_match: [{command: mcp__alpha__echo, arguments: {text: hello}}, {command: mcp__beta__echo, arguments: {text: my secret}}]
  - id: wait-for-me
    effect: review
    reason: this one waits for a reviewer
    system: alpha
    when: 'has(mcp.arguments.text) && mcp.arguments.text == "wait for me"'
`

// twoUpstreams starts a daemon fronting alpha (this test binary as a
// program) and beta (a streamable HTTP server in this process, whose
// calls are counted).
func twoUpstreams(t testing.TB) (addr string, admin *adminClient, alphaLog, daemonLog string, betaCalls *atomic.Int32, stop func() error) {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	alphaLog = filepath.Join(t.TempDir(), "alpha.log")
	betaCalls = new(atomic.Int32)
	betaSrv := upstream(betaCalls)
	hs := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return betaSrv }, nil))
	t.Cleanup(hs.Close)
	conf := fmt.Sprintf(`upstreams:
  - name: alpha
    command: [%q, "-test.run=^$"]
    env: {GATEHOUSE_TEST_UPSTREAM: alpha, GATEHOUSE_TEST_UPSTREAM_LOG: %q}
  - name: beta
    url: %q
    headers: {X-Test: beta}
`, exe, alphaLog, hs.URL)
	addr, admin, daemonLog, stop = startDaemonConfig(t, mcpPolicy, conf)
	return addr, admin, alphaLog, daemonLog, betaCalls, stop
}

// One daemon fronts two upstreams, each at /mcp/NAME with its own tools
// under their own names; each call is an action of system NAME, decided
// by a rule over the upstream, the tool and the arguments; a denied call
// never reaches the upstream.
func TestUpstreamsThroughDaemon(t *testing.T) {
	addr, admin, alphaLog, daemonLog, betaCalls, stop := twoUpstreams(t)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "fronted")
	must(t, err)
	alpha := connectHTTP(t, "http://"+addr+"/mcp/alpha", tok.Token, "s-alpha")
	beta := connectHTTP(t, "http://"+addr+"/mcp/beta", tok.Token, "s-beta")

	if got := alpha.InitializeResult().ServerInfo.Name; got != "test-alpha" {
		t.Errorf("alpha's server info %q, want the upstream's", got)
	}
	for cs, want := range map[*sdk.ClientSession]string{alpha: "echo exit", beta: "danger echo"} {
		tl, err := cs.ListTools(ctx, nil)
		must(t, err)
		var names []string
		for _, tool := range tl.Tools {
			names = append(names, tool.Name)
		}
		if got := strings.Join(sortStrings(names), " "); got != want {
			t.Errorf("tools %q, want %q: the upstream's own names", got, want)
		}
	}
	rr, err := alpha.ReadResource(ctx, &sdk.ReadResourceParams{URI: "mem://name"})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != "alpha" {
		t.Errorf("alpha's resource: %+v %v", rr, err)
	}

	if got, isErr := call(t, alpha, "echo", map[string]any{"text": "hello"}); isErr || got != "alpha: hello" {
		t.Errorf("alpha echo: isError=%v %q", isErr, got)
	}
	got, isErr := call(t, alpha, "echo", map[string]any{"text": "my secret"})
	if !isErr || !strings.Contains(got, `refused by rule "no-secrets-to-alpha"`) {
		t.Errorf("alpha echo of a secret: isError=%v %q, want a refusal", isErr, got)
	}
	if got, isErr := call(t, beta, "echo", map[string]any{"text": "my secret"}); isErr || got != "echo: my secret" {
		t.Errorf("beta echo of a secret (the rule is alpha's): isError=%v %q", isErr, got)
	}
	if calls := readLog(t, alphaLog); strings.Join(calls[1:], "|") != "echo hello" {
		t.Errorf("what reached alpha: %q; the denied call must never be forwarded", calls)
	}
	if n := betaCalls.Load(); n != 1 {
		t.Errorf("beta got %d calls, want 1", n)
	}

	acts, err := admin.Actions(ctx, client.ActionQuery{})
	must(t, err)
	if len(acts) != 3 {
		t.Fatalf("%d actions journaled, want 3", len(acts))
	}
	want := []struct {
		system, command, session string
		status                   gatehouse.Status
	}{
		{"alpha", "mcp__alpha__echo", "s-alpha", gatehouse.StatusSucceeded},
		{"alpha", "mcp__alpha__echo", "s-alpha", gatehouse.StatusDenied},
		{"beta", "mcp__beta__echo", "s-beta", gatehouse.StatusSucceeded},
	}
	for i, w := range want {
		a := acts[i]
		if a.Agent != "fronted" || a.Kind != gatehouse.KindMCPTool || a.System != w.system || a.Command != w.command ||
			a.Session != w.session || a.Status != w.status {
			t.Errorf("action %d: agent %q kind %s system %q command %q session %q status %s; want %+v",
				i, a.Agent, a.Kind, a.System, a.Command, a.Session, a.Status, w)
		}
	}
	if acts[1].Decision.Rule != "no-secrets-to-alpha" || !strings.Contains(string(acts[1].Input), "my secret") {
		t.Errorf("the denied call's record: rule %q input %s", acts[1].Decision.Rule, acts[1].Input)
	}

	// A halt of the agent refuses its next call, which is not forwarded.
	if _, err := admin.Halt(ctx, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: "fronted"}, Reason: "stop it"}); err != nil {
		t.Fatal(err)
	}
	if got, isErr := call(t, alpha, "echo", map[string]any{"text": "halted"}); !isErr || !strings.Contains(got, "stop it") {
		t.Errorf("echo under a halt: isError=%v %q, want a refusal naming the halt", isErr, got)
	}
	if calls := readLog(t, alphaLog); strings.Contains(strings.Join(calls, "|"), "halted") {
		t.Errorf("a call refused by a halt reached alpha: %q", calls)
	}

	// The upstream's stderr is in the daemon's log.
	if b, _ := os.ReadFile(daemonLog); !strings.Contains(string(b), "test upstream alpha ready") {
		t.Errorf("the daemon's log lacks alpha's stderr:\n%s", b)
	}

	// A clean stop stops the program the daemon started.
	ps := pids(readLog(t, alphaLog))
	must(t, stop())
	for _, pid := range ps {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("upstream process %d still there after the daemon stopped (kill 0: %v)", pid, err)
		}
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// /mcp/NAME is for agents' tokens, and a session for the token that
// opened it; an unknown NAME is 404.
func TestUpstreamAccess(t *testing.T) {
	addr, admin, _, _, _, _ := twoUpstreams(t)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "one")
	must(t, err)
	other, err := admin.AddAgent(ctx, "other")
	must(t, err)
	cs := connectHTTP(t, "http://"+addr+"/mcp/beta", tok.Token, "")

	post := func(path, token, sid string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		what, path, token, sid string
		want                   int
	}{
		{"no token", "/mcp/beta", "", "", 401},
		{"the admin's token", "/mcp/beta", admin.Token, "", 403},
		{"another agent on the session", "/mcp/beta", other.Token, cs.ID(), 404},
		{"the session at another upstream", "/mcp/alpha", tok.Token, cs.ID(), 404},
		{"an unknown upstream", "/mcp/nope", tok.Token, "", 404},
		{"a path below an upstream", "/mcp/beta/x", tok.Token, "", 404},
		{"its own session", "/mcp/beta", tok.Token, cs.ID(), 200},
	} {
		if got := post(tc.path, tc.token, tc.sid); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.what, got, tc.want)
		}
	}
}

// When the program upstream exits, the daemon starts it again, and the
// sessions over the old one end: an agent starts a new session and goes
// on.
func TestUpstreamRestart(t *testing.T) {
	addr, admin, alphaLog, _, _, _ := twoUpstreams(t)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "restarter")
	must(t, err)
	endpoint := "http://" + addr + "/mcp/alpha"
	old := connectHTTP(t, endpoint, tok.Token, "")
	if res, err := old.CallTool(ctx, &sdk.CallToolParams{Name: "exit", Arguments: map[string]any{}}); err == nil && !res.IsError {
		t.Fatal("exit succeeded; the upstream should have died mid-call")
	}
	cs := connectHTTP(t, endpoint, tok.Token, "") // waits for the restart
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "again"}); isErr || got != "alpha: again" {
		t.Errorf("echo after the restart: isError=%v %q", isErr, got)
	}
	if _, err := old.ListTools(ctx, nil); err == nil {
		t.Error("the session over the old process still answers")
	}
	if ps := pids(readLog(t, alphaLog)); len(ps) != 2 || ps[0] == ps[1] {
		t.Errorf("upstream processes %v, want two", ps)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	must(t, err)
	if len(acts) != 2 || acts[0].Command != "mcp__alpha__exit" || acts[0].Status != gatehouse.StatusFailed {
		t.Errorf("journal: %d actions, first %+v; want the exit call failed", len(acts), acts[0])
	}
}

// A token in an HTTP upstream's URL is sent, but the errors that quote the
// URL — in the log, in the journal — do not show it.
func TestUpstreamURLQuery(t *testing.T) {
	var calls atomic.Int32
	srv := upstream(&calls)
	mcpH := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "s3cret" {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		mcpH.ServeHTTP(w, r)
	}))
	addr, admin, daemonLog, stop := startDaemonConfig(t, "version: 1\ndefault: allow\n",
		fmt.Sprintf("upstreams:\n  - name: q\n    url: %q\n", hs.URL+"/mcp?token=s3cret"))
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "q-agent")
	must(t, err)
	cs := connectHTTP(t, "http://"+addr+"/mcp/q", tok.Token, "")
	if got, isErr := call(t, cs, "echo", map[string]any{"text": "with a token"}); isErr || got != "echo: with a token" {
		t.Fatalf("echo: isError=%v %q", isErr, got)
	}
	hs.CloseClientConnections()
	hs.Close() // now every request to it fails, quoting its URL
	if res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "gone"}}); err == nil && !res.IsError {
		t.Fatalf("echo with the upstream gone succeeded: %+v", res)
	}
	acts, err := admin.Actions(ctx, client.ActionQuery{})
	must(t, err)
	b, _ := json.Marshal(acts)
	if !strings.Contains(string(b), `"status":"failed"`) {
		t.Errorf("the failed call is not journaled as failed: %s", b)
	}
	must(t, stop())
	logText, _ := os.ReadFile(daemonLog)
	for what, text := range map[string]string{"the journal": string(b), "the log": string(logText)} {
		if strings.Contains(text, "s3cret") {
			t.Errorf("%s shows the URL's token:\n%s", what, text)
		}
	}
	if !strings.Contains(string(logText), hs.URL+"/mcp") {
		t.Errorf("the log does not name the upstream's URL at all:\n%s", logText)
	}
}

// BenchmarkUpstreamCall is one tools/call of an HTTP upstream: directly,
// and through the daemon's /mcp/NAME (decided by policy, journaled: two
// synced appends to the journal, before and after).
func BenchmarkUpstreamCall(b *testing.B) {
	addr, admin, _, _, _, _ := twoUpstreams(b)
	ctx := context.Background()
	tok, err := admin.AddAgent(ctx, "bench")
	must(b, err)
	var direct atomic.Int32
	srv := upstream(&direct)
	hs := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil))
	b.Cleanup(hs.Close)
	for _, bc := range []struct {
		name string
		cs   *sdk.ClientSession
	}{
		{"direct", connectHTTP(b, hs.URL, "", "")},
		{"through-daemon", connectHTTP(b, "http://"+addr+"/mcp/beta", tok.Token, "")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := bc.cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}})
				if err != nil || res.IsError {
					b.Fatal(err, res)
				}
			}
		})
	}
}
