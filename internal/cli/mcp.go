package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehouse-dev/gatehouse/internal/daemon"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
)

var mcpCmd = &command{
	name:    "mcp",
	summary: "serve Gatehouse's tools to an agent over MCP (stdio)",
	help: `Usage: gatehouse mcp [--session S] [--model M] [--cwd DIR]

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

Flags:
  --session S   session recorded on the actions (default $GATEHOUSE_SESSION)
  --model M     model recorded on the actions (default $GATEHOUSE_MODEL)
  --cwd DIR     directory relative paths resolve against (default: the current one)
`,
	run: runMCP,
}

func runMCP(ctx context.Context, c *command, e *Env, args []string) int {
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
