package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeModules finds the npm packages of the MCP tests: the TypeScript SDK
// and the reference server-everything.
func nodeModules(t *testing.T) string {
	return installed(t, "GATEHOUSE_MCP_NODE_MODULES", "the MCP npm packages")
}

// The client is the official TypeScript SDK; it starts `gatehouse mcp
// proxy` over stdio in front of the reference server-everything (stdio).
const tsClient = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
const [gatehouse, server] = process.argv.slice(2);
const t = new StdioClientTransport({ command: gatehouse,
  args: ["mcp", "proxy", "--name", "everything", "--session", "ts", "--", "node", server, "stdio"],
  env: { ...process.env } });
const c = new Client({ name: "ts-e2e", version: "1" });
await c.connect(t);
const out = {};
out.server = c.getServerVersion();
out.tools = (await c.listTools()).tools.map(x => x.name);
out.echo = await c.callTool({ name: "echo", arguments: { message: "hello from ts" } });
out.denied = await c.callTool({ name: "get-env", arguments: {} });
const res = (await c.listResources()).resources;
out.resources = res.length;
out.read = await c.readResource({ uri: res[0].uri });
out.prompts = (await c.listPrompts()).prompts.map(x => x.name);
out.prompt = await c.getPrompt({ name: "simple-prompt", arguments: {} });
console.log(JSON.stringify(out));
await c.close();
`

func TestMCPProxyTypeScript(t *testing.T) {
	mods := nodeModules(t)
	e := setup(t, `version: 1
default: allow
rules:
  - id: no-env
    effect: deny
    reason: the environment may hold secrets
    command: {exact: "mcp__everything__get-env"}
`)
	dir := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "client.mjs")
	if err := os.WriteFile(script, []byte(tsClient), 0o644); err != nil {
		t.Fatal(err)
	}
	server := filepath.Join(mods, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, e.bin, server)
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
	var got struct {
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
		Resources int
		Read      struct{ Contents []json.RawMessage }
		Prompts   []string
		Prompt    struct{ Messages []json.RawMessage }
	}
	if err := json.Unmarshal(out[strings.LastIndex(string(out[:len(out)-1]), "\n")+1:], &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	if !strings.Contains(strings.Join(got.Tools, ","), "echo") || !strings.Contains(strings.Join(got.Tools, ","), "get-sum") {
		t.Errorf("tools through the proxy: %v", got.Tools)
	}
	if got.Echo.IsError || len(got.Echo.Content) == 0 || !strings.Contains(got.Echo.Content[0].Text, "hello from ts") {
		t.Errorf("echo through the proxy: %+v", got.Echo)
	}
	if !got.Denied.IsError || len(got.Denied.Content) == 0 || !strings.Contains(got.Denied.Content[0].Text, `refused by rule "no-env"`) {
		t.Errorf("denied tool: %+v", got.Denied)
	}
	if got.Resources == 0 || len(got.Read.Contents) == 0 {
		t.Errorf("resources through the proxy: %d listed, read %d contents", got.Resources, len(got.Read.Contents))
	}
	if !strings.Contains(strings.Join(got.Prompts, ","), "simple-prompt") || len(got.Prompt.Messages) == 0 {
		t.Errorf("prompts through the proxy: %v, %d messages", got.Prompts, len(got.Prompt.Messages))
	}
	log := e.gh("log", "-o", "jsonl")
	for _, want := range []string{`"command":"mcp__everything__echo"`, `"command":"mcp__everything__get-env"`, `"status":"denied"`, `"system":"everything"`, `hello from ts`} {
		if !strings.Contains(log, want) {
			t.Errorf("journal lacks %s:\n%s", want, log)
		}
	}
}
