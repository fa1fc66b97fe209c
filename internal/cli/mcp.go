package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
)

var mcpCmd = &command{
	name:    "mcp",
	summary: "serve Gatehouse's tools to an agent over MCP (stdio)",
	help: `Usage: gatehouse mcp [--session S] [--model M] [--cwd DIR]
       gatehouse mcp proxy --upstream NAME [--session S]
       gatehouse mcp proxy --name NAME [--listen ADDR] [--session S] (--url URL | -- UPSTREAM_CMD [ARGS...])

Serves MCP over stdin and stdout for an agent that speaks it (configure it
as an MCP server whose command is "gatehouse mcp", with GATEHOUSE_TOKEN and
GATEHOUSE_URL in its environment). Its tools are:

  run_command     run a shell command (the daemon runs it, like gatehouse run)
  read_file       read a text file (at most 1 MiB)
  write_file      write a file
  list_directory  list a directory
  http_request    make an HTTP request (status and up to 1 MiB of the body)

Each call is an action through the gateway — decided by policy, reviewed,
halted, journaled with its arguments and result. The file and HTTP tools
are carried out by this process only once the gateway allows them. A
refused, denied or halted call comes back as a tool error (isError) with
the reason, not as a protocol error.

The daemon serves the same tools over streamable HTTP at /mcp, with the
agent's token in the Authorization header.

mcp proxy --upstream NAME serves, over stdio, the upstream NAME of the
daemon's configuration file (the upstreams section, docs/CONFIG.md): it
relays every message unchanged to the daemon's $GATEHOUSE_URL/mcp/NAME
with $GATEHOUSE_TOKEN, and the daemon, which runs the upstream, decides
and journals each tools/call. Use it for agents that speak MCP only over
stdio; agents that speak streamable HTTP can use /mcp/NAME directly, with
their token in the Authorization header. If the daemon's session ends (the
upstream or the daemon restarted), it starts a new one; the calls in
flight then fail.

mcp proxy --name re-exposes an upstream MCP server — started as
UPSTREAM_CMD and spoken to over its stdio, or reached at --url over streamable HTTP —
unchanged: its capabilities and instructions, tools, resources, prompts,
completions, logging, subscriptions, progress, list changes and pages, and
its requests to the agent (sampling, elicitation, roots). Every tools/call
is first decided by the gateway as an mcp_tool action: command
mcp__NAME__TOOL, system NAME, the arguments as its input (policy rules
match them), then journaled with its result. A refused call is never
forwarded: the agent gets a tool error (isError) with the reason; an error
of the upstream's stays a protocol error. Each agent session has its own
upstream session, opened when the agent initializes (a new process of
UPSTREAM_CMD, or a new session at --url). The proxy serves over stdio, or
with --listen over streamable HTTP at ADDR/mcp (it acts with its own
GATEHOUSE_TOKEN: keep ADDR on loopback; a session idle for 30 minutes is
closed).

Flags:
  --session S   session recorded on the actions (default $GATEHOUSE_SESSION)
  --model M     model recorded on the actions (default $GATEHOUSE_MODEL)
  --cwd DIR     directory relative paths resolve against (default: the current one)
  --upstream NAME  proxy: a configured upstream, through the daemon
  --name NAME   proxy: the upstream's name, as policy sees it
  --url URL     proxy: the upstream's streamable HTTP endpoint
  --listen ADDR proxy: serve streamable HTTP at ADDR/mcp instead of stdio
`,
	run: runMCP,
}

func runMCP(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) > 0 && args[0] == "proxy" {
		return runMCPProxy(ctx, c, e, args[1:])
	}
	opts := mcp.Options{Version: daemon.Version()}
	fs := newFlags(c)
	fs.StringVar(&opts.Session, "session", e.Getenv("GATEHOUSE_SESSION"), "")
	fs.StringVar(&opts.Model, "model", e.Getenv("GATEHOUSE_MODEL"), "")
	fs.StringVar(&opts.Cwd, "cwd", "", "")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if opts.Cwd == "" {
		opts.Cwd, _ = e.Getwd()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := mcp.NewServer(e.client(), opts).Run(ctx, &sdk.StdioTransport{}); err != nil && ctx.Err() == nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		return exitFailure
	}
	return exitOK
}

func runMCPProxy(ctx context.Context, c *command, e *Env, args []string) int {
	opts := mcp.Options{Version: daemon.Version()}
	fs := newFlags(c)
	configured := fs.String("upstream", "", "")
	name := fs.String("name", "", "")
	upURL := fs.String("url", "", "")
	listen := fs.String("listen", "", "")
	fs.StringVar(&opts.Session, "session", e.Getenv("GATEHOUSE_SESSION"), "")
	fs.StringVar(&opts.Model, "model", e.Getenv("GATEHOUSE_MODEL"), "")
	fs.StringVar(&opts.Cwd, "cwd", "", "")
	if err := fs.Parse(args); err != nil {
		return usageError(c, e, "%v", err)
	}
	upCmd := fs.Args()
	if *configured != "" {
		if *name != "" || *upURL != "" || *listen != "" || len(upCmd) > 0 || opts.Cwd != "" {
			return usageError(c, e, "--upstream takes the upstream from the daemon's configuration: no --name, --url, --listen, --cwd or UPSTREAM_CMD")
		}
		if !config.ValidUpstreamName(*configured) {
			return usageError(c, e, "--upstream: %q is not an upstream name", *configured)
		}
		return runMCPRelay(ctx, e, *configured, opts.Session)
	}
	switch {
	case *name == "":
		return usageError(c, e, "proxy needs --name")
	case (*upURL == "") == (len(upCmd) == 0):
		return usageError(c, e, "proxy needs exactly one upstream: --url URL or -- UPSTREAM_CMD")
	}
	if opts.Cwd == "" {
		opts.Cwd, _ = e.Getwd()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Each agent session gets its own upstream session: a new connection
	// to --url, or a new process of UPSTREAM_CMD.
	upstream := func() sdk.Transport {
		if *upURL != "" {
			return &sdk.StreamableClientTransport{Endpoint: *upURL}
		}
		cmd := exec.CommandContext(ctx, upCmd[0], upCmd[1:]...)
		cmd.Stderr = e.Stderr
		return &sdk.CommandTransport{Command: cmd}
	}
	if *upURL != "" {
		// Fail at start, not at the agent's first session, if the upstream
		// is not there.
		up, err := sdk.NewClient(&sdk.Implementation{Name: "gatehouse", Version: opts.Version}, nil).Connect(ctx, upstream(), nil)
		if err != nil {
			fmt.Fprintln(e.Stderr, "gatehouse mcp proxy: cannot reach the upstream:", err)
			return exitFailure
		}
		_ = up.Close()
	}
	logger := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := &mcp.Proxy{Name: *name, Upstream: upstream, Client: e.client(), Opts: opts, Logger: logger}
	if *listen == "" {
		if err := p.Server().Run(ctx, &sdk.StdioTransport{}); err != nil && ctx.Err() == nil {
			fmt.Fprintln(e.Stderr, errorLine(err))
			return exitFailure
		}
		return exitOK
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", p.Handler())
	hs := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = hs.Close() }()
	fmt.Fprintf(e.Stderr, "gatehouse mcp proxy: %s at http://%s/mcp\n", *name, *listen)
	if err := hs.ListenAndServe(); err != nil && ctx.Err() == nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		return exitFailure
	}
	return exitOK
}

// runMCPRelay serves a configured upstream over stdio through the daemon.
func runMCPRelay(ctx context.Context, e *Env, name, session string) int {
	url, token := e.endpoint()
	r := &mcp.Relay{Endpoint: strings.TrimRight(url, "/") + "/mcp/" + name, Token: token, Session: session}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := r.Check(ctx); err != nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		return exitFailure
	}
	if err := r.Run(ctx, &sdk.StdioTransport{}); err != nil && ctx.Err() == nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		return exitFailure
	}
	return exitOK
}
