package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

// examplePolicy allows everything but destruction.
const examplePolicy = `version: 1
default: allow
rules:
  - id: no-destruction
    effect: deny
    reason: agents do not delete things
    class: [destructive, irreversible]
`

// workDir is where the examples' commands run.
var workDir string

// TestMain starts a real daemon — its journal in a SQLite file in a
// temporary directory, its API on a free loopback port — adds an agent,
// and exports GATEHOUSE_URL and GATEHOUSE_TOKEN as an agent's harness
// would, so that the examples run as written and their output is checked.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gatehouse-client-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	workDir = filepath.Join(dir, "work")
	if err := os.Mkdir(workDir, 0o755); err != nil {
		log.Fatal(err)
	}
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Policy = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(cfg.Policy, []byte(examplePolicy), 0o600); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			log.Fatal(err)
		}
	}()

	admin, err := daemon.ReadAdminToken(cfg.StateDir)
	if err != nil {
		log.Fatal(err)
	}
	url := "http://" + d.Addr()
	tok, err := client.New(url, admin).AddAgent(ctx, "example-agent")
	if err != nil {
		log.Fatal(err)
	}
	os.Setenv("GATEHOUSE_URL", url)
	os.Setenv("GATEHOUSE_TOKEN", tok.Token)
	os.Setenv("GATEHOUSE_ADMIN_TOKEN", admin) // for the tests, not the examples
	return m.Run()
}

// An agent runs a command through the gateway: it is decided by policy,
// journaled, run by the daemon, and its output streamed back.
func ExampleClient_Run() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	a, err := c.Run(context.Background(),
		gatehouse.RunRequest{Shell: true, Command: "echo hello from $GATEHOUSE_AGENT; exit 3", Cwd: workDir},
		client.RunOptions{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", a.Status)
	fmt.Println("exit code:", *a.ExitCode)
	// Output:
	// hello from example-agent
	// status: failed
	// exit code: 3
}

// A command can be given standard input: it is sent once the command has
// started, as fast as the command reads it, and its end is the command's
// end of file.
func ExampleClient_Run_stdin() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	a, err := c.Run(context.Background(),
		gatehouse.RunRequest{Shell: true, Command: "sort | uniq -c", Cwd: workDir},
		client.RunOptions{Stdin: strings.NewReader("pear\napple\npear\n"), Stdout: os.Stdout})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stdin bytes given:", a.StdinBytes)
	// Output:
	//       1 apple
	//       2 pear
	// stdin bytes given: 16
}

// An action the policy denies never runs: Run returns EREFUSED, with the
// action as journaled (status denied) and the policy's reason.
func ExampleClient_Run_refused() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	a, err := c.Run(context.Background(),
		gatehouse.RunRequest{Argv: []string{"rm", "-rf", "build"}, Cwd: workDir},
		client.RunOptions{Stdout: os.Stdout, Stderr: os.Stderr})
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		fmt.Println("code:", ge.Code)
		fmt.Println("message:", ge.Message)
	}
	fmt.Println("status:", a.Status, "rule:", a.Decision.Rule)
	// Output:
	// code: EREFUSED
	// message: refused by rule "no-destruction": agents do not delete things
	// status: denied rule: no-destruction
}

// A harness that carries out its own tool calls asks the gateway first,
// does the work only if the action comes back running, and reports how
// it went.
func ExampleClient_Request() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(workDir, "notes.txt")
	a, err := c.Request(ctx, gatehouse.ExternalRequest{
		Kind: gatehouse.KindFileWrite, Tool: "write_file", Command: "write_file " + path, Cwd: workDir,
	}, nil)
	if err != nil {
		log.Fatal(err) // EREFUSED: do not write it
	}
	fmt.Println("asked:", a.Status)
	note := []byte("remember the milk\n")
	werr := os.WriteFile(path, note, 0o644)
	out := gatehouse.ExternalOutcome{ID: a.ID, Response: fmt.Sprintf("%d bytes written", len(note))}
	if werr != nil {
		out.Failed, out.Error = true, werr.Error()
	}
	a, err = c.Complete(ctx, out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded:", a.Status)
	// Output:
	// asked: running
	// recorded: succeeded
}
