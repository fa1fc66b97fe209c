package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The client is the official TypeScript SDK, twice: over streamable HTTP
// at the daemon's /mcp/everything, and over stdio through `gatehouse mcp
// proxy --upstream everything`. The daemon runs the reference
// server-everything (stdio) as the configured upstream "everything".
const tsUpstreamClient = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
const [gatehouse, url, token] = process.argv.slice(2);
async function run(t, text) {
  const c = new Client({ name: "ts-e2e", version: "1" });
  await c.connect(t);
  const out = {};
  out.server = c.getServerVersion();
  out.tools = (await c.listTools()).tools.map(x => x.name);
  out.echo = await c.callTool({ name: "echo", arguments: { message: text } });
  out.denied = await c.callTool({ name: "echo", arguments: { message: "the password is hunter2" } });
  out.prompts = (await c.listPrompts()).prompts.map(x => x.name);
  await c.close();
  return out;
}
const http = await run(new StreamableHTTPClientTransport(new URL(url + "/mcp/everything"),
  { requestInit: { headers: { Authorization: "Bearer " + token, "X-Gatehouse-Session": "ts-http" } } }), "over http");
const stdio = await run(new StdioClientTransport({ command: gatehouse,
  args: ["mcp", "proxy", "--upstream", "everything", "--session", "ts-stdio"], env: { ...process.env } }), "over stdio");
console.log(JSON.stringify({ http, stdio }));
`

func TestUpstreamTypeScript(t *testing.T) {
	mods := nodeModules(t)
	server := filepath.Join(mods, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	e := setupConfig(t, `version: 1
default: allow
rules:
  - id: no-passwords
    effect: deny
    reason: no passwords through echo
    system: everything
    mcp_tool: echo
    when: 'has(mcp.arguments.message) && mcp.arguments.message.contains("password")'
`, fmt.Sprintf("upstreams:\n  - name: everything\n    command: [node, %q, stdio]\n", server))

	// Wait until the daemon has the upstream connected.
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest("GET", e.url+"/mcp/everything", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upstream never connected")
		}
		time.Sleep(50 * time.Millisecond)
	}

	dir := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "client.mjs")
	if err := os.WriteFile(script, []byte(tsUpstreamClient), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, e.bin, e.url, e.token)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEHOUSE_URL="+e.url, "GATEHOUSE_TOKEN="+e.token)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node client: %v\n%s\n%s", err, out, stderr)
	}
	type result struct {
		Server struct{ Name string }
		Tools  []string
		Echo   struct {
			Content []struct{ Text string }
			IsError bool
		}
		Denied struct {
			Content []struct{ Text string }
			IsError bool
		}
		Prompts []string
	}
	var got struct{ HTTP, Stdio result }
	if err := json.Unmarshal(out[strings.LastIndex(string(out[:len(out)-1]), "\n")+1:], &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	for name, r := range map[string]result{"http": got.HTTP, "stdio": got.Stdio} {
		if !strings.Contains(strings.Join(r.Tools, ","), "echo") || !strings.Contains(strings.Join(r.Tools, ","), "get-sum") {
			t.Errorf("%s: tools %v, want server-everything's", name, r.Tools)
		}
		if r.Echo.IsError || len(r.Echo.Content) == 0 || !strings.Contains(r.Echo.Content[0].Text, "over "+name) {
			t.Errorf("%s: echo %+v", name, r.Echo)
		}
		if !r.Denied.IsError || len(r.Denied.Content) == 0 || !strings.Contains(r.Denied.Content[0].Text, `refused by rule "no-passwords"`) {
			t.Errorf("%s: the denied echo %+v", name, r.Denied)
		}
		if !strings.Contains(strings.Join(r.Prompts, ","), "simple-prompt") {
			t.Errorf("%s: prompts %v", name, r.Prompts)
		}
	}
	log := e.gh("log", "--agent", "claude", "-o", "jsonl")
	for _, want := range []string{
		`"session":"ts-http".*"command":"mcp__everything__echo".*"system":"everything".*"input":\{"message":"over http"\}.*"status":"succeeded"`,
		`"session":"ts-stdio".*"command":"mcp__everything__echo".*"input":\{"message":"over stdio"\}.*"status":"succeeded"`,
		`"session":"ts-http".*"command":"mcp__everything__echo".*"status":"denied"`,
		`"session":"ts-stdio".*"command":"mcp__everything__echo".*"status":"denied"`,
	} {
		if !matchLine(log, want) {
			t.Errorf("journal lacks a line matching %s:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "\n"); n != 4 {
		t.Errorf("%d actions journaled, want 4 (one per call, each once)", n)
	}
}

// matchLine reports whether some line of s matches the regular expression re.
func matchLine(s, re string) bool {
	r := regexp.MustCompile(re)
	for _, l := range strings.Split(s, "\n") {
		if r.MatchString(l) {
			return true
		}
	}
	return false
}
