package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// installed returns the path that .ci/run puts in the environment variable
// name for what it installed. In CI its absence is a failure; elsewhere the
// test is skipped.
func installed(t *testing.T, name, what string) string {
	if p := os.Getenv(name); p != "" {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: .ci/run installs %s and names it there", name, what)
	}
	t.Skipf("%s not installed (set %s)", what, name)
	return ""
}

// claudeBin finds the Claude Code CLI.
func claudeBin(t *testing.T) string { return installed(t, "GATEHOUSE_CLAUDE", "Claude Code") }

// toolCall is one step of a script: the assistant asks for a tool call.
type toolCall struct {
	name  string
	input map[string]any
}

// scriptedAPI is a Messages API server that answers the main loop's
// requests (those that offer tools) with the script's tool calls, one per
// turn, then "done"; any other request (titles, summaries) gets a short
// text. It streams, as Claude Code asks it to.
type scriptedAPI struct {
	mu     sync.Mutex
	script []toolCall
	turns  int
	onTurn func(n int) // called before answering main-loop turn n (from 0)
	seen   []string    // tool_result contents, in order
}

func (s *scriptedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/v1/messages") {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"input_tokens": 10}`)
		return
	}
	var req struct {
		Tools    []json.RawMessage `json:"tools"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	var call *toolCall
	if len(req.Tools) > 0 {
		// Each request of the main loop is the next turn.
		n := s.turns
		if s.onTurn != nil {
			s.onTurn(n)
		}
		if len(req.Messages) > 0 {
			last := req.Messages[len(req.Messages)-1]
			var blocks []struct {
				Type    string          `json:"type"`
				Content json.RawMessage `json:"content"`
			}
			if json.Unmarshal(last.Content, &blocks) == nil {
				for _, b := range blocks {
					if b.Type == "tool_result" {
						s.seen = append(s.seen, string(b.Content))
					}
				}
			}
		}
		if n < len(s.script) {
			call = &s.script[n]
		}
		s.turns++
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(event string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		fl.Flush()
	}
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 10, "output_tokens": 1}}})
	stop := "end_turn"
	if call != nil {
		in, _ := json.Marshal(call.input)
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_%d", time.Now().UnixNano()), "name": call.name, "input": map[string]any{}}})
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "input_json_delta", "partial_json": string(in)}})
		stop = "tool_use"
	} else {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": "done"}})
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	send("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": 10}})
	send("message_stop", map[string]any{"type": "message_stop"})
}

// env is one Gatehouse daemon, an agent's token, a reviewer's, and a
// project that an agent works in.
type env struct {
	t        *testing.T
	bin      string // gatehouse
	url      string
	state    string
	token    string // the agent claude's
	reviewer string // the reviewer alice's
	project  string
	home     string
	dir      string
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDaemon builds gatehouse, starts `gatehouse serve` with policy (and
// extra serve flags) on a free port, and adds the agent claude and the
// reviewer alice.
func startDaemon(t *testing.T, policy string, flags ...string) *env {
	dir := t.TempDir()
	e := &env{t: t, bin: filepath.Join(dir, "gatehouse"), state: filepath.Join(dir, "state"),
		project: filepath.Join(dir, "project"), home: filepath.Join(dir, "home"), dir: dir}
	build := exec.Command("go", "build", "-o", e.bin, "github.com/gatehouse-dev/gatehouse/cmd/gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, d := range []string{e.project, e.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	e.url = "http://" + addr
	logf, _ := os.Create(filepath.Join(dir, "daemon.log"))
	d := exec.Command(e.bin, append([]string{"serve", "--listen", addr, "--state", e.state, "--policy", pol}, flags...)...)
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Process.Signal(os.Interrupt)
		_ = d.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("daemon log:\n%s", b)
		}
	})
	for i := 0; ; i++ {
		if resp, err := http.Get(e.url + "/healthz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if i > 300 {
			t.Fatal("daemon not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(e.gh("agent", "add", "claude", "-o", "json")), &tok); err != nil {
		t.Fatal(err)
	}
	e.token = tok.Token
	if err := json.Unmarshal([]byte(e.gh("reviewer", "add", "alice", "-o", "json")), &tok); err != nil {
		t.Fatal(err)
	}
	e.reviewer = tok.Token
	return e
}

// setupConfig is setup with a configuration file (none if conf is "").
func setupConfig(t *testing.T, policy, conf string) *env {
	if conf == "" {
		return setup(t, policy)
	}
	return setup(t, policy, conf)
}

// setup is startDaemon with Claude Code's hooks installed in the project
// and a HOME where Claude Code has been onboarded; config, if given, is the
// configuration file.
func setup(t *testing.T, policy string, config ...string) *env {
	var flags []string
	if len(config) > 0 {
		conf := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(conf, []byte(config[0]), 0o600); err != nil {
			t.Fatal(err)
		}
		flags = append(flags, "--config", conf)
	}
	e := startDaemon(t, policy, flags...)
	e.gh("install", "claude-code", "--project", e.project, "--command", e.bin+" hook claude --timeout 50s")
	// A HOME where Claude Code has been onboarded and trusts the project.
	cfg := map[string]any{"hasCompletedOnboarding": true, "projects": map[string]any{
		e.project: map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(e.home, ".claude.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// gh runs the gatehouse CLI as the admin (on the daemon's machine).
func (e *env) gh(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_URL="+e.url, "GATEHOUSE_STATE="+e.state, "GATEHOUSE_TOKEN=")
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("gatehouse %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// claude runs Claude Code non-interactively against api until it ends.
func (e *env) claude(api *scriptedAPI) (string, error) {
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, claudeBin(e.t), "-p", "do the task", "--dangerously-skip-permissions", "--output-format", "text")
	cmd.Dir = e.project
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + e.home, "IS_SANDBOX=1",
		"ANTHROPIC_BASE_URL=" + srv.URL, "ANTHROPIC_API_KEY=sk-test", "ANTHROPIC_MODEL=claude-test",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1",
		"GATEHOUSE_URL=" + e.url, "GATEHOUSE_TOKEN=" + e.token,
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func bash(command string) toolCall {
	return toolCall{name: "Bash", input: map[string]any{"command": command, "description": "step"}}
}

const e2ePolicy = `version: 1
default: allow
rules:
  - id: keep-keep
    effect: deny
    reason: the keep directory stays
    command: {prefix: "rm -rf keep"}
  - id: ask-first
    effect: review
    reason: a human looks first
    command: {prefix: "touch reviewed"}
`

func TestClaudeCode(t *testing.T) {
	claudeBin(t)
	e := setup(t, e2ePolicy)
	if err := os.MkdirAll(filepath.Join(e.project, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.project, "keep", "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A reviewer approves whatever waits, as soon as it waits.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			cmd := exec.Command(e.bin, "pending", "-o", "json")
			cmd.Env = append(os.Environ(), "GATEHOUSE_URL="+e.url, "GATEHOUSE_STATE="+e.state, "GATEHOUSE_TOKEN=")
			out, err := cmd.Output()
			if err != nil {
				continue
			}
			var list []struct{ ID string }
			_ = json.Unmarshal(out, &list)
			for _, a := range list {
				ap := exec.Command(e.bin, "approve", a.ID, "--reason", "e2e")
				ap.Env = cmd.Env
				_ = ap.Run()
			}
		}
	}()
	api := &scriptedAPI{script: []toolCall{
		bash("touch allowed.txt"),
		bash("rm -rf keep"),
		bash("touch reviewed.txt"),
	}}
	out, err := e.claude(api)
	t.Logf("claude: %v\n%s", err, out)
	if _, err := os.Stat(filepath.Join(e.project, "allowed.txt")); err != nil {
		t.Errorf("the allowed command did not run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.project, "keep", "precious")); err != nil {
		t.Errorf("the denied command ran: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.project, "reviewed.txt")); err != nil {
		t.Errorf("the reviewed command did not run after approval: %v", err)
	}
	logOut := e.gh("log", "-o", "jsonl")
	for _, want := range []string{`"command":"touch allowed.txt"`, `"command":"rm -rf keep"`, `"status":"denied"`,
		`"command":"touch reviewed.txt"`, `"tool":"Bash"`, `"harness":"claude-code"`} {
		if !strings.Contains(logOut, want) {
			t.Errorf("journal lacks %s:\n%s", want, logOut)
		}
	}
	// The outcomes came back through PostToolUse.
	sc := bufio.NewScanner(strings.NewReader(logOut))
	succeeded := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"status":"succeeded"`) && strings.Contains(sc.Text(), `"external":true`) {
			succeeded++
		}
	}
	if succeeded < 2 {
		t.Errorf("%d external actions recorded as succeeded, want the 2 that ran", succeeded)
	}
	if v := e.gh("verify"); !strings.HasPrefix(v, "ok: ") {
		t.Errorf("verify: %s", v)
	}
}

// A halt in the middle of a session: the next tool call is denied and the
// session ends there — the model is never asked again.
func TestClaudeCodeHalt(t *testing.T) {
	claudeBin(t)
	e := setup(t, e2ePolicy)
	api := &scriptedAPI{script: []toolCall{bash("touch before.txt"), bash("touch after.txt"), bash("touch later.txt")}}
	api.onTurn = func(n int) {
		if n == 1 { // the first tool call ran; an operator halts the agent
			e.gh("halt", "--agent", "claude", "--reason", "incident")
		}
	}
	out, err := e.claude(api)
	t.Logf("claude: %v\n%s", err, out)
	if _, err := os.Stat(filepath.Join(e.project, "before.txt")); err != nil {
		t.Errorf("the call before the halt did not run: %v", err)
	}
	for _, f := range []string{"after.txt", "later.txt"} {
		if _, err := os.Stat(filepath.Join(e.project, f)); err == nil {
			t.Errorf("%s was created under a halt", f)
		}
	}
	api.mu.Lock()
	turns := api.turns
	api.mu.Unlock()
	if turns != 2 {
		t.Errorf("the model was asked %d times; want 2: the session ends at the first tool call after the halt", turns)
	}
	if log := e.gh("log", "-o", "jsonl"); !strings.Contains(log, `halted by admin`) {
		t.Errorf("the refused call is not journaled as refused by the halt:\n%s", log)
	}
	// A new session under the halt ends at its first hook event.
	api2 := &scriptedAPI{script: []toolCall{bash("touch new-session.txt")}}
	out, _ = e.claude(api2)
	if !strings.Contains(out, "halted by admin") {
		t.Errorf("a new session under the halt was not stopped by the hook:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(e.project, "new-session.txt")); err == nil {
		t.Error("a new session ran a command under the halt")
	}
}
