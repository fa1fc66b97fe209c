package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/credscan"
)

var credsCmd = &command{
	name:    "creds",
	summary: "the credentials agents hold, and what a hooked agent can reach",
	help: `Usage: gatehouse creds [--agent A] [-o table|json]
       gatehouse creds scan [--session S] [-o text|json]

creds lists, by the configuration in force (its credentials section),
which credentials each agent holds for which systems: the secret, the
environment variable it is put in, whether the gateway holds the secret
now, and when an action of the agent on that system last received it, by
the journal. Only actions the gateway runs (gatehouse run, the MCP
run_command tool) receive credentials, and only when they name the system
(run --system): agents never see the values, and output is redacted.

creds scan --session S shows what a hooked agent's own process could
reach when the session started, as gatehouse hook claude recorded it at
SessionStart: the credential-like environment variables that were set
(AWS_*, *_TOKEN, *SECRET*, *_KEY, *PASSWORD*, DATABASE_URL, SSH_AUTH_SOCK,
…) and the readable files that commonly hold credentials (~/.aws/credentials,
~/.kube/config, ~/.ssh/id_*, ~/.docker/config.json, ~/.netrc, gcloud's and
Azure's token files, .env in the project, …). Names and paths only: no value
is shown, no file is read. A hooked agent's tools run in its harness, not
through the gateway, so they never receive gateway-held credentials — this
is what they hold anyway. Without --session, scan scans this process: its
environment, $HOME and the current directory, without a daemon.

Flags:
  --agent A     only agent A's credentials
  --session S   the hooked session whose scan to show
  -o FORMAT     table or json (creds); text or json (scan)

creds and creds scan --session need a reviewer's or the admin token.
`,
	run: runCreds,
}

func runCreds(ctx context.Context, c *command, e *Env, args []string) int {
	if len(args) > 0 && args[0] == "scan" {
		return runCredsScan(ctx, c, e, args[1:])
	}
	fs := newFlags(c)
	agent := fs.String("agent", "", "")
	out := outputFlag(fs, "table", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "table", "json"); !ok {
		return code
	}
	if len(pos) != 0 {
		return usageError(c, e, "unexpected argument %q (use 'creds scan' to scan)", pos[0])
	}
	list, err := e.client().Credentials(ctx, *agent)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.Stdout, "no credentials are granted (the configuration's credentials section is empty)")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tSYSTEM\tSECRET\tENV\tSET\tLAST USED (UTC)\tACTION")
	for _, h := range list {
		set, used, action := "yes", "never", "-"
		if !h.SecretSet {
			set = "NO"
		}
		if h.LastUsed != nil {
			used, action = h.LastUsed.UTC().Format(time.DateTime), h.LastAction
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Agent, h.System, h.Secret, h.Env, set, used, action)
	}
	tw.Flush()
	return exitOK
}

func runCredsScan(ctx context.Context, c *command, e *Env, args []string) int {
	fs := newFlags(c)
	session := fs.String("session", "", "")
	out := outputFlag(fs, "text", "json")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkFormat(c, e, *out, "text", "json"); !ok {
		return code
	}
	if len(pos) != 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	if *session == "" {
		wd, _ := e.Getwd()
		r := scanSelf(e, wd)
		if *out == "json" {
			return writeJSON(e, r)
		}
		fmt.Fprintf(e.Stdout, "this process (uid %d), home %s, directory %s\n", os.Getuid(), e.Getenv("HOME"), wd)
		writeReach(e.Stdout, r)
		return exitOK
	}
	scan, err := e.client().CredentialScan(ctx, *session)
	if err != nil {
		return fail(e, err)
	}
	if *out == "json" {
		return writeJSON(e, scan)
	}
	fmt.Fprintf(e.Stdout, "session %s, agent %s, scanned at %s %s (UTC)\n", scan.Session, scan.Agent, scan.Event, scan.Time.UTC().Format(time.DateTime))
	writeReach(e.Stdout, scan.CredentialReach)
	return exitOK
}

// scanSelf scans this process: what a hook reports for its harness.
func scanSelf(e *Env, dirs ...string) gatehouse.CredentialReach {
	var environ []string
	if e.Environ != nil {
		environ = e.Environ()
	}
	return credscan.Scan(credscan.Input{Environ: environ, Home: e.Getenv("HOME"), Dirs: dirs})
}

func writeReach(w io.Writer, r gatehouse.CredentialReach) {
	fmt.Fprintf(w, "environment variables (%d):\n", len(r.Env))
	for _, n := range r.Env {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintf(w, "files (%d):\n", len(r.Files))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range r.Files {
		fmt.Fprintf(tw, "  %s\t%s\n", f.Path, f.Kind)
	}
	tw.Flush()
}

// credentialsText is how show prints an action's credentials: each
// secret and its variable, and whether its process received them.
func credentialsText(a *gatehouse.Action) string {
	if len(a.Credentials) == 0 {
		return ""
	}
	var parts []string
	for _, c := range a.Credentials {
		parts = append(parts, c.Secret+" as $"+c.Env)
	}
	s := strings.Join(parts, ", ")
	switch {
	case len(a.Injected()) > 0:
		return s + " (received)"
	case a.StartedAt == nil && a.Status.Final():
		return s + " (not received: it never started)"
	}
	return s + " (granted)"
}
