package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

var serveCmd = &command{
	name:    "serve",
	summary: "start the gateway daemon",
	help: `Usage: gatehouse serve [flags]

Starts the daemon: the HTTP API, the journal (SQLite in the state directory,
or a PostgreSQL database shared by several daemons) and the executor. The
first start creates the state directory (mode 0700), the database, the
admin token (admin.token, mode 0600), the key that seals secrets
(secrets.key, mode 0600) and the default policy (policy.yaml). Actions
that a previous daemon left running are closed as interrupted; actions
waiting for approval stay pending. SIGINT or SIGTERM stop it cleanly:
running actions are interrupted and recorded.
SIGHUP reloads the policy.

Flags:
  --listen ADDR           address of the API (default 127.0.0.1:7780)
  --state DIR             state directory (default $GATEHOUSE_STATE, else
                          $XDG_STATE_HOME/gatehouse, else ~/.local/state/gatehouse)
  --store FILE|URL        the journal: a SQLite database file (default
                          STATE/gatehouse.db), or a PostgreSQL URL
                          (postgres://USER@HOST:PORT/DB) that several daemons
                          share as replicas; see docs/POSTGRES.md
  --replica NAME          this daemon's replica id on a shared (PostgreSQL) store
                          (default: the one in STATE/replica.id, made on first
                          start from the host name); a restart under the same id
                          closes what it left running, and two live daemons
                          cannot share one
  --replica-grace DUR     how long a replica must have lost its hold on the shared
                          store before the others close its running actions and
                          watch its pending approvals (default 10s); it stops its
                          own running actions after half of it
  --admin-token-file F    read the admin token from F (mode 0600) instead of
                          STATE/admin.token: give every replica the same one
  --policy FILE           policy file (default STATE/policy.yaml, written with the
                          default policy on first start); reloaded when it changes
                          and on SIGHUP
  --config FILE           configuration file: MCP upstreams, workspaces, credential
                          grants (default STATE/config.yaml if it exists); see
                          docs/CONFIG.md
  --secrets-key FILE      key file that seals the secrets (default STATE/secrets.key,
                          created 0600 on first start); keep it apart from the
                          database's backups; replicas on one PostgreSQL store
                          must all have the same; see docs/CREDENTIALS.md
  --policy-poll DUR       how often to look for changes of the policy file (default 1s;
                          0 turns watching off)
  --webhook URL           POST a signed JSON notification here for each pending approval
  --webhook-secret-file F HMAC-SHA256 key for the webhook's X-Gatehouse-Signature
  --slack-webhook URL     post pending approvals to this Slack incoming webhook
  --output-cap BYTES      bytes of stdout and of stderr kept per action (default 65536)
  --env-pass LIST         comma-separated daemon variables passed to every command
                          (default PATH,HOME,USER,LOGNAME,LANG,LC_ALL,TZ,TMPDIR)
  --env-allow LIST        comma-separated variables a client may set with run --env
                          (default TERM,LANG,LC_ALL,TZ,NO_COLOR,COLUMNS)
  --kill-grace DUR        wait between SIGTERM and SIGKILL (default 5s)
  --max-timeout DUR       longest timeout a run may ask for (default none)
  --default-timeout DUR   timeout of a run that asks for none (default none)
  --otlp-endpoint URL     send a span per finished action to this OpenTelemetry
                          collector (OTLP/HTTP, e.g. http://collector:4318; /v1/traces
                          is appended when the URL has no path); without it, spans
                          are sent if OTEL_EXPORTER_OTLP_ENDPOINT or
                          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. The other
                          OTEL_EXPORTER_OTLP_* variables (headers, timeout, TLS) apply.
                          Spans carry the action's trace id, so the application's
                          spans join them, and its exact command
  --console-idle DUR      sign a console session out after this long unused
                          (default 30m; no session lasts over 12h)
  --log-level LEVEL       debug, info, warn or error (default info)

The operator's console is served at / on the same address: open
http://ADDR/ in a browser and sign in with a reviewer's token or the admin
token. Sessions live in memory, so a restart signs everyone out.
`,
	run: runServe,
}

func runServe(ctx context.Context, c *command, e *Env, args []string) int {
	cfg := daemon.DefaultConfig()
	fs := newFlags(c)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "")
	fs.StringVar(&cfg.StateDir, "state", daemon.StateDir(e.Getenv), "")
	fs.StringVar(&cfg.Store, "store", "", "")
	fs.StringVar(&cfg.Replica, "replica", "", "")
	fs.DurationVar(&cfg.ReplicaGrace, "replica-grace", cfg.ReplicaGrace, "")
	fs.StringVar(&cfg.AdminTokenFile, "admin-token-file", "", "")
	fs.StringVar(&cfg.Policy, "policy", "", "")
	fs.StringVar(&cfg.ConfigFile, "config", "", "")
	fs.StringVar(&cfg.SecretsKey, "secrets-key", "", "")
	fs.DurationVar(&cfg.PolicyPoll, "policy-poll", cfg.PolicyPoll, "")
	fs.StringVar(&cfg.Webhook, "webhook", "", "")
	secretFile := fs.String("webhook-secret-file", "", "")
	fs.StringVar(&cfg.Slack, "slack-webhook", "", "")
	fs.IntVar(&cfg.OutputCap, "output-cap", cfg.OutputCap, "")
	envPass := fs.String("env-pass", strings.Join(cfg.EnvPass, ","), "")
	envAllow := fs.String("env-allow", strings.Join(cfg.EnvAllow, ","), "")
	fs.DurationVar(&cfg.KillGrace, "kill-grace", cfg.KillGrace, "")
	fs.DurationVar(&cfg.MaxTimeout, "max-timeout", 0, "")
	fs.DurationVar(&cfg.DefaultTimeout, "default-timeout", 0, "")
	fs.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "")
	fs.DurationVar(&cfg.ConsoleIdle, "console-idle", cfg.ConsoleIdle, "")
	level := fs.String("log-level", "info", "")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	cfg.EnvPass, cfg.EnvAllow = splitList(*envPass), splitList(*envAllow)
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintln(e.Stderr, errorLine(err))
			return exitFailure
		}
		cfg.WebhookSecret = strings.TrimSpace(string(b))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError(c, e, "invalid log level %q", *level)
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d, err := daemon.Start(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(e.Stderr, errorLine(err))
		return exitFailure
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = d.ReloadPolicy(ctx, "SIGHUP") // a broken file is logged; the policy in force stays
		}
	}()
	if err := d.Wait(ctx); err != nil {
		log.Error("shutdown", "err", err)
		return exitFailure
	}
	return exitOK
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
