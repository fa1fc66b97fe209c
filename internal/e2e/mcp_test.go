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

// The client is the official TypeScript SDK. It reaches `gatehouse mcp
// proxy` in front of the reference server-everything (started over stdio)
// either by starting the proxy itself over stdio, or at the proxy's
// --listen address over streamable HTTP. It offers sampling, elicitation
// and roots, which server-everything's tools ask for through the proxy.
const tsClient = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema,
  LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
const [mode, gatehouse, server] = process.argv.slice(2);
const t = mode === "stdio"
  ? new StdioClientTransport({ command: gatehouse,
      args: ["mcp", "proxy", "--name", "everything", "--session", "ts", "--", "node", server, "stdio"],
      env: { ...process.env } })
  : new StreamableHTTPClientTransport(new URL(mode));
const c = new Client({ name: "ts-e2e", version: "1" },
  { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
const out = { logs: [], progress: [] };
c.setRequestHandler(CreateMessageRequestSchema, async (req) => ({ model: "ts-e2e", role: "assistant",
  content: { type: "text", text: "sampled: " + req.params.messages[0].content.text } }));
c.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Ada Lovelace", check: true } }));
c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///ts-root", name: "ts-root" }] }));
c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { out.logs.push(n.params.level); });
await c.connect(t);
out.server = c.getServerVersion();
out.instructions = c.getInstructions() || "";
out.capabilities = c.getServerCapabilities();
await c.setLoggingLevel("debug");
out.tools = (await c.listTools()).tools.map(x => x.name);
out.echo = await c.callTool({ name: "echo", arguments: { message: "hello from ts" } });
out.denied = await c.callTool({ name: "get-env", arguments: {} });
out.long = await c.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 3 } },
  undefined, { onprogress: (p) => out.progress.push(p.progress) });
out.sampling = await c.callTool({ name: "trigger-sampling-request", arguments: { prompt: "two plus two", maxTokens: 10 } });
out.elicitation = await c.callTool({ name: "trigger-elicitation-request", arguments: {} });
out.roots = await c.callTool({ name: "get-roots-list", arguments: {} });
const res = (await c.listResources()).resources;
out.resources = res.length;
out.read = await c.readResource({ uri: res[0].uri });
out.prompts = (await c.listPrompts()).prompts.map(x => x.name);
out.prompt = await c.getPrompt({ name: "simple-prompt", arguments: {} });
out.completion = (await c.complete({ ref: { type: "ref/prompt", name: "completable-prompt" },
  argument: { name: "department", value: "Eng" } })).completion.values;
try { await c.getPrompt({ name: "no-such-prompt", arguments: {} }); out.promptError = "none"; }
catch (e) { out.promptError = String(e.code); }
console.log(JSON.stringify(out));
await c.close();
`

type toolResult struct {
	Content []struct{ Text string }
	IsError bool
}

func (r toolResult) text() string {
	var b strings.Builder
	for _, c := range r.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// runTSClient runs the TypeScript client script in a directory whose
// node_modules are the installed MCP packages, and returns the JSON it
// prints last.
func runTSClient(t *testing.T, mods, script string, env []string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(mods, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "client.mjs")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{file}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node client: %v\n%s\n%s", err, out, stderr)
	}
	out = []byte(strings.TrimSpace(string(out)))
	return out[strings.LastIndex(string(out), "\n")+1:]
}

// The TypeScript SDK's client through the proxy in front of
// server-everything: over stdio (the client starts the proxy) and over
// streamable HTTP (the proxy's --listen).
func TestMCPProxyTypeScript(t *testing.T) {
	mods := nodeModules(t)
	server := filepath.Join(mods, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	for _, mode := range []string{"stdio", "listen"} {
		t.Run(mode, func(t *testing.T) {
			e := setup(t, `version: 1
default: allow
rules:
  - id: no-env
    effect: deny
    reason: the environment may hold secrets
    command: {exact: "mcp__everything__get-env"}
`)
			env := []string{"GATEHOUSE_URL=" + e.url, "GATEHOUSE_TOKEN=" + e.token}
			target := "stdio"
			if mode == "listen" {
				addr := freeAddr(t)
				proxy := exec.Command(e.bin, "mcp", "proxy", "--name", "everything", "--session", "ts", "--listen", addr, "--", "node", server, "stdio")
				proxy.Env = append(os.Environ(), env...)
				startProcess(t, proxy, t.TempDir(), "proxy", addr)
				target = "http://" + addr + "/mcp"
			}
			checkTSClient(t, e, runTSClient(t, mods, tsClient, env, target, e.bin, server))
		})
	}
}

func checkTSClient(t *testing.T, e *env, out []byte) {
	var got struct {
		Server       struct{ Name string }
		Instructions string
		Capabilities map[string]json.RawMessage
		Tools        []string
		Echo, Denied toolResult
		Long         toolResult
		Progress     []float64
		Logs         []string
		Sampling     toolResult
		Elicitation  toolResult
		Roots        toolResult
		Resources    int
		Read         struct{ Contents []json.RawMessage }
		Prompts      []string
		Prompt       struct{ Messages []json.RawMessage }
		Completion   []string
		PromptError  string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	if got.Server.Name != "mcp-servers/everything" || !strings.Contains(got.Instructions, "Everything Server") {
		t.Errorf("server %q, instructions %q: want server-everything's", got.Server.Name, got.Instructions)
	}
	for _, c := range []string{"tools", "resources", "prompts", "logging"} {
		if got.Capabilities[c] == nil {
			t.Errorf("capabilities %v lack the upstream's %s", got.Capabilities, c)
		}
	}
	tools := strings.Join(got.Tools, ",")
	// The last three exist only for a client with sampling, elicitation and
	// roots: the proxy passed the client's capabilities upstream.
	for _, want := range []string{"echo", "get-sum", "trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"} {
		if !strings.Contains(tools, want) {
			t.Errorf("tools through the proxy lack %s: %v", want, got.Tools)
		}
	}
	if got.Echo.IsError || !strings.Contains(got.Echo.text(), "hello from ts") {
		t.Errorf("echo through the proxy: %+v", got.Echo)
	}
	if !got.Denied.IsError || !strings.Contains(got.Denied.text(), `refused by rule "no-env"`) {
		t.Errorf("denied tool: %+v", got.Denied)
	}
	if got.Long.IsError || len(got.Progress) != 3 || got.Progress[2] != 3 {
		t.Errorf("long-running operation: %+v, progress %v (want 1, 2, 3)", got.Long, got.Progress)
	}
	if len(got.Logs) == 0 {
		t.Errorf("no log message came through the proxy")
	}
	if got.Sampling.IsError || !strings.Contains(got.Sampling.text(), "sampled: ") || !strings.Contains(got.Sampling.text(), "two plus two") {
		t.Errorf("sampling through the proxy: %+v", got.Sampling)
	}
	if got.Elicitation.IsError || !strings.Contains(got.Elicitation.text(), "Ada Lovelace") {
		t.Errorf("elicitation through the proxy: %+v", got.Elicitation)
	}
	if got.Roots.IsError || !strings.Contains(got.Roots.text(), "file:///ts-root") {
		t.Errorf("roots through the proxy: %+v", got.Roots)
	}
	if got.Resources == 0 || len(got.Read.Contents) == 0 {
		t.Errorf("resources through the proxy: %d listed, read %d contents", got.Resources, len(got.Read.Contents))
	}
	if !strings.Contains(strings.Join(got.Prompts, ","), "simple-prompt") || len(got.Prompt.Messages) == 0 {
		t.Errorf("prompts through the proxy: %v, %d messages", got.Prompts, len(got.Prompt.Messages))
	}
	if strings.Join(got.Completion, ",") != "Engineering" {
		t.Errorf("completion through the proxy: %v", got.Completion)
	}
	if got.PromptError != "-32602" {
		t.Errorf("unknown prompt: error code %s, want the upstream's -32602", got.PromptError)
	}
	log := e.gh("log", "-o", "jsonl")
	for _, want := range []string{`"command":"mcp__everything__echo"`, `"command":"mcp__everything__get-env"`, `"status":"denied"`,
		`"system":"everything"`, `hello from ts`, `"command":"mcp__everything__trigger-sampling-request"`, `Ada Lovelace`} {
		if !strings.Contains(log, want) {
			t.Errorf("journal lacks %s:\n%s", want, log)
		}
	}
}

// The TypeScript client starts the proxy over stdio in front of the
// reference server-filesystem (stdio), serving DIR.
const tsFSClient = `
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
const [gatehouse, server, dir] = process.argv.slice(2);
const c = new Client({ name: "ts-fs", version: "1" });
await c.connect(new StdioClientTransport({ command: gatehouse,
  args: ["mcp", "proxy", "--name", "fs", "--session", "fs", "--", "node", server, dir], env: { ...process.env } }));
const out = {};
out.tools = (await c.listTools()).tools.map(x => x.name);
out.list = await c.callTool({ name: "list_directory", arguments: { path: dir } });
out.read = await c.callTool({ name: "read_text_file", arguments: { path: dir + "/notes.txt" } });
out.write = await c.callTool({ name: "write_file", arguments: { path: dir + "/new.txt", content: "should not be" } });
out.outside = await c.callTool({ name: "read_text_file", arguments: { path: "/etc/hostname" } });
console.log(JSON.stringify(out));
await c.close();
`

// server-filesystem behind the proxy: allowed reads and listings pass and
// are journaled with their arguments and results; a write the policy
// denies is a tool error and the file is not created.
func TestMCPProxyFilesystem(t *testing.T) {
	mods := nodeModules(t)
	e := setup(t, `version: 1
default: allow
rules:
  - id: fs-read-only
    effect: deny
    reason: the filesystem is read-only through the proxy
    command: {exact: "mcp__fs__write_file"}
`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello filesystem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	server := filepath.Join(mods, "@modelcontextprotocol", "server-filesystem", "dist", "index.js")
	out := runTSClient(t, mods, tsFSClient, []string{"GATEHOUSE_URL=" + e.url, "GATEHOUSE_TOKEN=" + e.token}, e.bin, server, dir)
	var got struct {
		Tools                []string
		List, Write, Outside toolResult
		Read                 struct {
			toolResult
			StructuredContent struct{ Content string }
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	if tools := strings.Join(got.Tools, ","); !strings.Contains(tools, "read_text_file") || !strings.Contains(tools, "write_file") {
		t.Errorf("tools through the proxy: %v", got.Tools)
	}
	if got.List.IsError || !strings.Contains(got.List.text(), "[FILE] notes.txt") || !strings.Contains(got.List.text(), "[DIR] sub") {
		t.Errorf("list_directory through the proxy: %+v", got.List)
	}
	if got.Read.IsError || got.Read.text() != "hello filesystem" || got.Read.StructuredContent.Content != "hello filesystem" {
		t.Errorf("read_text_file through the proxy: %+v", got.Read)
	}
	if !got.Write.IsError || !strings.Contains(got.Write.text(), `refused by rule "fs-read-only"`) {
		t.Errorf("denied write_file: %+v", got.Write)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); !os.IsNotExist(err) {
		t.Errorf("the denied write created the file (stat: %v)", err)
	}
	// The upstream refuses a path outside its directory: its tool error
	// passes through, and the call is journaled as failed.
	if !got.Outside.IsError || !strings.Contains(got.Outside.text(), "Access denied") {
		t.Errorf("read outside the directory: %+v", got.Outside)
	}

	var acts []struct {
		Command, Status, System, Response string
		Input                             map[string]any
	}
	for _, line := range strings.Split(strings.TrimSpace(e.gh("log", "-o", "jsonl")), "\n") {
		var a struct {
			Command, Status, System, Response string
			Input                             map[string]any
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		acts = append(acts, a)
	}
	if len(acts) != 4 {
		t.Fatalf("%d actions journaled, want 4: %+v", len(acts), acts)
	}
	want := []struct{ command, status, path, response string }{
		{"mcp__fs__list_directory", "succeeded", dir, "[FILE] notes.txt"},
		{"mcp__fs__read_text_file", "succeeded", dir + "/notes.txt", "hello filesystem"},
		{"mcp__fs__write_file", "denied", dir + "/new.txt", ""},
		{"mcp__fs__read_text_file", "failed", "/etc/hostname", "Access denied"},
	}
	for i, w := range want {
		a := acts[i]
		if a.Command != w.command || a.Status != w.status || a.System != "fs" || a.Input["path"] != w.path || !strings.Contains(a.Response, w.response) {
			t.Errorf("journaled %d: %+v, want %s %s with path %s and a response with %q", i, a, w.command, w.status, w.path, w.response)
		}
	}
}
