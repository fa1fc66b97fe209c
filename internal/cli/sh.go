package cli

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gatehouse-dev/gatehouse"
)

var shCmd = &command{
	name:    "sh",
	summary: "sh -c, through the gateway: a shell for agent harnesses",
	help: `Usage: gatehouse sh [OPTIONS] -c 'COMMAND' [NAME [ARG...]]
       gatehouse-sh [OPTIONS] -c 'COMMAND' [NAME [ARG...]]

Behaves like sh -c COMMAND, but sends the command to the gateway, as the
agent whose token is in GATEHOUSE_TOKEN: it is decided by policy as a shell
action (gatehouse run --shell), perhaps held for a reviewer, journaled, and
run by the daemon with /bin/sh -c. A harness that runs its commands through
a configurable shell is gated by pointing it at gatehouse sh, or at a
symlink named gatehouse-sh (SHELL=/usr/local/bin/gatehouse-sh): a program
called gatehouse-sh is gatehouse sh.

As with sh -c:
  - stdin, stdout and stderr are the caller's: stdin is passed to the
    command (read ahead as the command reads, so a command that reads part
    of it may leave less for the next reader than under sh), and its
    output comes back as it is written, stdout and stderr apart;
  - the working directory is the caller's (it must exist on the daemon's
    host);
  - NAME is $0 and the ARGs are $1, $2, ...;
  - the exit status is the command's: 127 for a command the shell cannot
    find, 126 for one it cannot execute, 128+N for one a signal N ended
    (gatehouse sh exits with that status; it does not itself die of the
    signal).

Unlike sh -c, the command gets the daemon's environment (its --env-pass
variables, GATEHOUSE_ACTION_ID, GATEHOUSE_AGENT, GATEHOUSE_SESSION and
TRACEPARENT), not the caller's; GATEHOUSE_SH_ENV names the caller's
variables to pass on, separated by spaces or commas, each of which the
daemon must allow (serve --env-allow).

Options: -c (required), and the set options of sh, passed on to /bin/sh:
-a -b -C -e -f -h -m -n -u -v -x (or +a ... to unset), -o NAME and +o NAME,
combined as sh takes them (-ec, -euo pipefail). -l, --login, -i,
--noprofile and --norc (a login or interactive shell, as harnesses such as
Codex ask with -lc) are accepted and ignored: the command never reads the
caller's profile or rc files. Reading commands from stdin or a script file
(no -c, -s) is not supported.

Exit status: the command's own; 126 with one line on stderr if the gateway
refused it (policy, a reviewer, a halt), could not be reached, or failed; 2
for a wrong command line; 130 when interrupted while it waits. Session and
model come from GATEHOUSE_SESSION and GATEHOUSE_MODEL.
`,
	run: runSh,
}

// shInvocation is a parsed sh command line.
type shInvocation struct {
	command string
	options []string // set options for /bin/sh, before -c
	args    []string // $0, then $1 ...
}

// Letters sh takes as set options; others are refused.
const shSetLetters = "abCefhmnuvx"

// parseSh parses a command line as POSIX sh (and bash, for -l and the
// long options harnesses use) would, for the -c form only.
func parseSh(args []string) (shInvocation, error) {
	var inv shInvocation
	cflag := false
	i := 0
options:
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			i++
			break options
		case a == "--login" || a == "--noprofile" || a == "--norc":
			continue
		case strings.HasPrefix(a, "--"):
			return inv, fmt.Errorf("unsupported option %s", a)
		case len(a) < 2 || (a[0] != '-' && a[0] != '+'):
			break options // the first operand
		}
		sign, letters := a[:1], a[1:]
		var pass strings.Builder
		for j, l := range letters {
			switch {
			case l == 'c' && sign == "-":
				cflag = true
			case l == 'l' || l == 'i':
				// Login or interactive shell: ignored (see the help).
			case l == 's':
				return inv, errors.New("-s (commands from stdin) is not supported: use -c")
			case l == 'o' && j == len(letters)-1:
				if i+1 >= len(args) {
					return inv, fmt.Errorf("%so requires an option name", sign)
				}
				if pass.Len() > 0 {
					inv.options = append(inv.options, sign+pass.String())
					pass.Reset()
				}
				i++
				inv.options = append(inv.options, sign+"o", args[i])
			case strings.ContainsRune(shSetLetters, l):
				pass.WriteRune(l)
			default:
				return inv, fmt.Errorf("unsupported option %s%c", sign, l)
			}
		}
		if pass.Len() > 0 {
			inv.options = append(inv.options, sign+pass.String())
		}
	}
	if !cflag {
		return inv, errors.New("only the -c form is supported: gatehouse sh -c 'COMMAND' [NAME [ARG...]]")
	}
	if i >= len(args) {
		return inv, errors.New("-c requires an argument")
	}
	inv.command, inv.args = args[i], args[i+1:]
	return inv, nil
}

// shEnv returns the caller's variables named in GATEHOUSE_SH_ENV.
func shEnv(e *Env) map[string]string {
	names := strings.FieldsFunc(e.Getenv("GATEHOUSE_SH_ENV"), func(r rune) bool { return r == ' ' || r == ',' })
	if len(names) == 0 {
		return nil
	}
	env := map[string]string{}
	for _, n := range names {
		env[n] = e.Getenv(n)
	}
	return env
}

func runSh(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(e.Stdout, c.help)
		return exitOK
	}
	inv, err := parseSh(args)
	if err != nil {
		fmt.Fprintf(e.Stderr, "gatehouse sh: %v (see 'gatehouse help sh')\n", err)
		return exitUsage
	}
	if strings.TrimSpace(inv.command) == "" {
		return exitOK // as sh -c '' does: nothing to run, nothing to decide
	}
	wd, err := e.Getwd()
	if err != nil {
		fmt.Fprintln(e.Stderr, "gatehouse sh: cannot tell the current directory:", err)
		return exitRefused
	}
	req := gatehouse.RunRequest{
		Shell: true, Command: inv.command, ShellOptions: inv.options, Args: inv.args, Cwd: wd,
		Session: e.Getenv("GATEHOUSE_SESSION"), Model: e.Getenv("GATEHOUSE_MODEL"), Env: shEnv(e),
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The caller's stdin, whatever it is, as sh's child would have it;
	// /dev/null is the empty stdin a run has anyway.
	var in = e.Stdin
	if stdinKind(in) == stdinNull {
		in = nil
	}
	a, err := runAndWait(ctx, e, req, in)
	if err != nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		if ctx.Err() != nil {
			return 128 + int(syscall.SIGINT)
		}
		return exitRefused
	}
	code := exitStatus(e, a)
	if code == exitGatewayFailed && (a.ExitCode == nil || *a.ExitCode != exitGatewayFailed) {
		return exitRefused // the gateway's 125 of gatehouse run: sh says 126
	}
	return code
}

// Args returns the arguments Main takes for a process started with argv:
// argv without the program's name, or — for a program called
// gatehouse-sh (a symlink to gatehouse) — those of gatehouse sh.
func Args(argv []string) []string {
	if len(argv) == 0 {
		return nil
	}
	if filepath.Base(argv[0]) == "gatehouse-sh" {
		return append([]string{"sh"}, argv[1:]...)
	}
	return argv[1:]
}
