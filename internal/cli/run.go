package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"golang.org/x/sys/unix"
)

var runCmd = &command{
	name:    "run",
	summary: "run a command through the gateway, as an agent",
	help: `Usage: gatehouse run [flags] -- CMD [ARGS...]
       gatehouse run [flags] --shell -- 'SHELL COMMAND'

Asks the daemon to run CMD as the agent whose token is in GATEHOUSE_TOKEN,
and streams its stdout and stderr back as it runs. The daemon decides,
journals and executes it: argv is exec'd directly (no shell) unless --shell,
which runs the arguments, joined by spaces, with /bin/sh -c. The command gets
the daemon's environment allowlist, the --env variables, and
GATEHOUSE_ACTION_ID, GATEHOUSE_AGENT, GATEHOUSE_SESSION and TRACEPARENT.
Its stdin is gatehouse run's own when that is a file or a pipe (it is
passed on as the command reads it), and empty when it is a terminal or
/dev/null; --stdin always passes a terminal's on too, --stdin never gives the
command an empty stdin whatever gatehouse run's is.

Identity comes from the token; session, model and intent are recorded as
the agent's claims.

The daemon decides it by policy first: allowed, it runs at once; denied,
it never runs; reviewed, gatehouse run says on stderr that it waits and for
whom, and waits until a reviewer approves it (then it runs), denies it, or
the approval times out (then it is denied). If the daemon restarts while it
waits, gatehouse run reconnects and keeps waiting.

Exit status: the command's own; 128+N if a signal N ended it; 125 if the
gateway failed (unreachable, bad token, bad request, journal unwritable);
126 if the action was refused, denied or is not executable; 127 if the
command was not found. Gateway failures are explained on stderr in one
line.

Flags:
  --session S       session the action belongs to (default $GATEHOUSE_SESSION)
  --model M         model driving the agent (default $GATEHOUSE_MODEL)
  --intent TEXT     why the agent runs this
  --system NAME     the target system (e.g. prod-db, github)
  --cwd DIR         working directory on the daemon's host (default: the current one)
  --shell           run the command with /bin/sh -c
  --timeout DUR     kill the command after DUR (e.g. 30s, 5m)
  --env NAME=VALUE  set a variable the daemon allows clients to set (repeatable)
  --stdin WHEN      pass stdin on to the command: auto (default: unless it is
                    a terminal), always, or never
`,
	run: runRun,
}

// Exit codes of gatehouse run, as a shell uses them.
const (
	exitGatewayFailed = 125
	exitRefused       = 126
	exitNotFound      = 127
)

type envFlag map[string]string

func (f envFlag) String() string { return "" }
func (f envFlag) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	f[name] = val
	return nil
}

var _ flag.Value = envFlag(nil)

func runRun(ctx context.Context, c *command, e *Env, args []string) int {
	var req gatehouse.RunRequest
	env := envFlag{}
	fs := newFlags(c)
	fs.StringVar(&req.Session, "session", e.Getenv("GATEHOUSE_SESSION"), "")
	fs.StringVar(&req.Model, "model", e.Getenv("GATEHOUSE_MODEL"), "")
	fs.StringVar(&req.Intent, "intent", "", "")
	fs.StringVar(&req.System, "system", "", "")
	fs.StringVar(&req.Cwd, "cwd", "", "")
	fs.BoolVar(&req.Shell, "shell", false, "")
	timeout := fs.Duration("timeout", 0, "")
	fs.Var(env, "env", "")
	stdinWhen := fs.String("stdin", "auto", "")
	// Flags end at the first argument that is not one (or at "--"): what
	// follows is the command, flags and all.
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(e.Stdout, c.help)
			return exitOK
		}
		usageError(c, e, "%v", err)
		return exitGatewayFailed
	}
	argv := fs.Args()
	if len(argv) == 0 {
		usageError(c, e, "no command given")
		return exitGatewayFailed
	}
	if req.Shell {
		req.Command = strings.Join(argv, " ")
	} else {
		req.Argv = argv
	}
	if len(env) > 0 {
		req.Env = env
	}
	if *timeout < 0 {
		usageError(c, e, "negative timeout")
		return exitGatewayFailed
	}
	req.TimeoutMS = timeout.Milliseconds()
	var in io.Reader
	switch k := stdinKind(e.Stdin); *stdinWhen {
	case "auto":
		if k == stdinOther {
			in = e.Stdin
		}
	case "always":
		if k != stdinNull {
			in = e.Stdin
		}
	case "never":
	default:
		usageError(c, e, "--stdin %q: use auto, always or never", *stdinWhen)
		return exitGatewayFailed
	}
	if req.Cwd == "" {
		wd, err := e.Getwd()
		if err != nil {
			fmt.Fprintln(e.Stderr, "gatehouse: cannot tell the current directory: use --cwd:", err)
			return exitGatewayFailed
		}
		req.Cwd = wd
	}

	// Ctrl-C or SIGTERM cancels the request: the daemon then interrupts the
	// command's process group and journals it as interrupted.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	a, err := runAndWait(ctx, e, req, in)
	if err != nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		if ctx.Err() != nil {
			return 128 + int(syscall.SIGINT)
		}
		if gatehouse.ErrorCode(err) == gatehouse.EREFUSED {
			return exitRefused
		}
		return exitGatewayFailed
	}
	return exitStatus(e, a)
}

// reattachFor bounds how long gatehouse run keeps trying to get back to a
// pending action when the gateway is gone (restarting).
const reattachFor = 10 * time.Minute

// runAndWait runs req, with stdin as the command's stdin if not nil, and,
// if it waits for review, keeps waiting: when the connection breaks (the
// daemon restarts) it attaches to the pending action again until it is
// decided.
func runAndWait(ctx context.Context, e *Env, req gatehouse.RunRequest, stdin io.Reader) (*gatehouse.Action, error) {
	cl := e.client()
	var told string
	o := client.RunOptions{Stdin: stdin, Stdout: e.Stdout, Stderr: e.Stderr, Pending: func(a *gatehouse.Action) {
		if told == a.ID {
			return
		}
		told = a.ID
		fmt.Fprintf(e.Stderr, "gatehouse: action %s waits for approval by %s (rule %q: %s); approve with: gatehouse approve %s\n",
			a.ID, approvers(a), a.Decision.Rule, oneLine(a.Decision.Reason), a.ID)
	}}
	a, err := denied(cl.Run(ctx, req, o))
	if err == nil || a == nil || a.Status != gatehouse.StatusPending {
		return a, err
	}
	id := a.ID
	deadline := time.Now().Add(reattachFor)
	backoff := 100 * time.Millisecond
	said := false
	for {
		code := gatehouse.ErrorCode(err)
		if ctx.Err() != nil || (code != gatehouse.EUNAVAILABLE && code != gatehouse.ECONFLICT) || time.Now().After(deadline) {
			return a, err
		}
		if !said {
			fmt.Fprintf(e.Stderr, "gatehouse: the wait for action %s was cut off (%s); reconnecting\n", id, oneLine(gatehouse.ErrorMessage(err)))
			said = true
		}
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		var next *gatehouse.Action
		next, err = denied(cl.Attach(ctx, id, req, o))
		if next != nil {
			a = next
		}
		if err == nil {
			return a, nil
		}
	}
}

// denied passes on what Run and Attach return, except that an action the
// gateway refused is no error here: exitStatus explains it.
func denied(a *gatehouse.Action, err error) (*gatehouse.Action, error) {
	if gatehouse.ErrorCode(err) == gatehouse.EREFUSED && a != nil {
		return a, nil
	}
	return a, err
}

func approvers(a *gatehouse.Action) string {
	n := a.ApprovalsNeeded()
	if n == 1 {
		return "a reviewer"
	}
	return fmt.Sprintf("%d reviewers", n)
}

// exitStatus maps a finished action to gatehouse run's exit status, and
// says on stderr why when the gateway, not the command, ended it.
func exitStatus(e *Env, a *gatehouse.Action) int {
	switch {
	case a.Status == gatehouse.StatusDenied:
		fmt.Fprintf(e.Stderr, "gatehouse: %s (action %s)\n", oneLine(a.Error), a.ID)
		return exitRefused
	case a.Error != "":
		fmt.Fprintf(e.Stderr, "gatehouse: %s (action %s)\n", oneLine(a.Error), a.ID)
	}
	switch {
	case a.StartedAt == nil && a.ExitCode == nil:
		return exitRefused // it never ran: a halt or a timeout cancelled it
	case a.Signal != "":
		if n := executor.SignalNumber(a.Signal); n > 0 {
			return 128 + n
		}
		return exitGatewayFailed
	case a.ExitCode != nil:
		return *a.ExitCode
	case a.Status == gatehouse.StatusSucceeded:
		return exitOK
	}
	return exitGatewayFailed
}

// What a stdin is, for deciding whether to pass it on.
const (
	stdinOther    = iota // a file, a pipe, a socket: pass it on
	stdinTerminal        // a terminal
	stdinNull            // nothing: none, or /dev/null (the empty stdin a run has anyway)
)

func stdinKind(r io.Reader) int {
	if r == nil {
		return stdinNull
	}
	f, ok := r.(*os.File)
	if !ok {
		return stdinOther
	}
	var st, null unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return stdinOther
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return stdinOther
	}
	if unix.Stat("/dev/null", &null) == nil && st.Rdev == null.Rdev {
		return stdinNull
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		return stdinTerminal
	}
	return stdinOther
}
