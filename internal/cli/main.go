// Package cli is the gatehouse command: one file per subcommand, each with
// its help text (the same text docs/CLI.md shows), dispatched by Main. Main
// returns an exit code instead of exiting, so tests run the real CLI
// in-process through testscript.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
)

// Env is what a command may touch of the world outside it.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Getwd          func() (string, error)
	Environ        func() []string // the whole environment (creds scan, hook)

	hookEvent string // the hook event being answered (gatehouse hook)
}

// OSEnv is the process's real environment.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Getwd: os.Getwd, Environ: os.Environ}
}

// command is one subcommand.
type command struct {
	name    string
	summary string // one line, for `gatehouse help`
	help    string // the whole help text: usage line, description, flags
	run     func(ctx context.Context, c *command, e *Env, args []string) int
}

// commands in the order `gatehouse help` lists them.
var commands = []*command{serveCmd, agentCmd, reviewerCmd, runCmd, shCmd, logCmd, showCmd, diffCmd, rollbackCmd, pendingCmd, approveCmd, denyCmd, rulesCmd, policyCmd, haltCmd, pauseCmd, resumeCmd, statusCmd, incidentCmd, exportCmd, secretCmd, credsCmd, hookCmd, installCmd, uninstallCmd, mcpCmd, verifyCmd, checkpointCmd, migrateCmd, versionCmd, helpCmd}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Exit codes of every command but run, which passes on its command's.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed (or verify found damage)
	exitUsage   = 2 // the command line is wrong
)

// Main runs the gatehouse command with args (without the program name) and
// returns its exit code.
func Main(ctx context.Context, e *Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.Stderr, mainHelp())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(e.Stdout, mainHelp())
		return exitOK
	case "--version", "-version":
		args[0] = "version"
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(e.Stderr, "gatehouse: unknown command %q (see 'gatehouse help')\n", args[0])
		return exitUsage
	}
	return c.run(ctx, c, e, args[1:])
}

func mainHelp() string {
	var b strings.Builder
	b.WriteString("Gatehouse is an execution gateway for AI agents: every action passes through it,\nis decided, run, and recorded in a tamper-evident journal.\n\nUsage: gatehouse COMMAND [ARGS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'gatehouse help COMMAND' for a command's flags.\n")
	return b.String()
}

// newFlags returns a flag set for c that reports errors through parse
// rather than printing them.
func newFlags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags that may appear before, between or after positional
// arguments (`gatehouse show ID -o json`), and returns the positional ones.
// Everything after "--" is positional. -h prints c's help.
func parse(c *command, e *Env, fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(e.Stdout, c.help)
				return nil, exitOK, false
			}
			return nil, usageError(c, e, "%v", err), false
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, true
		}
		if len(rest) == 0 {
			return pos, 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func usageError(c *command, e *Env, format string, args ...any) int {
	fmt.Fprintf(e.Stderr, "gatehouse %s: %s (see 'gatehouse help %s')\n", c.name, fmt.Sprintf(format, args...), c.name)
	return exitUsage
}

// fail prints err in one line, with its code, and returns exitFailure.
func fail(e *Env, err error) int {
	fmt.Fprintln(e.Stderr, errorLine(err))
	return exitFailure
}

// errorMessage is what errorLine shows of err, before folding it into one
// line.
func errorMessage(err error) string {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err.Error()
	}
	return gatehouse.ErrorMessage(err)
}

func errorLine(err error) string {
	if errors.Is(err, context.Canceled) {
		return "gatehouse: interrupted"
	}
	msg := gatehouse.ErrorMessage(err)
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		// A local error (a file, a flag value): its text is ours to show.
		msg = err.Error()
	}
	return fmt.Sprintf("gatehouse: %s (%s)", oneLine(msg), gatehouse.ErrorCode(err))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// outputFlag registers -o with the allowed formats, the first the default.
func outputFlag(fs *flag.FlagSet, formats ...string) *string {
	return fs.String("o", formats[0], "output format: "+strings.Join(formats, ", "))
}

func checkFormat(c *command, e *Env, got string, formats ...string) (int, bool) {
	for _, f := range formats {
		if got == f {
			return 0, true
		}
	}
	return usageError(c, e, "invalid output format %q: use %s", got, strings.Join(formats, ", ")), false
}
