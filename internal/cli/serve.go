package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gatehouse-dev/gatehouse/internal/daemon"
)

var serveCmd = &command{
	name:    "serve",
	summary: "start the gateway daemon",
	help: `Usage: gatehouse serve [flags]

Starts the daemon: the HTTP API, the journal (SQLite in the state directory)
and the executor. The first start creates the state directory (mode 0700),
the database and the admin token (admin.token, mode 0600). Actions that a
previous daemon left running are closed as interrupted. SIGINT or SIGTERM
stop it cleanly: running actions are interrupted and recorded.

Flags:
  --listen ADDR           address of the API (default 127.0.0.1:7780)
  --state DIR             state directory (default $GATEHOUSE_STATE, else
                          $XDG_STATE_HOME/gatehouse, else ~/.local/state/gatehouse)
  --store FILE            SQLite database file (default STATE/gatehouse.db)
  --output-cap BYTES      bytes of stdout and of stderr kept per action (default 65536)
  --env-pass LIST         comma-separated daemon variables passed to every command
                          (default PATH,HOME,USER,LOGNAME,LANG,LC_ALL,TZ,TMPDIR)
  --env-allow LIST        comma-separated variables a client may set with run --env
                          (default TERM,LANG,LC_ALL,TZ,NO_COLOR,COLUMNS)
  --kill-grace DUR        wait between SIGTERM and SIGKILL (default 5s)
  --max-timeout DUR       longest timeout a run may ask for (default none)
  --default-timeout DUR   timeout of a run that asks for none (default none)
  --log-level LEVEL       debug, info, warn or error (default info)
`,
	run: runServe,
}

func runServe(ctx context.Context, c *command, e *Env, args []string) int {
	cfg := daemon.DefaultConfig()
	fs := newFlags(c)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "")
	fs.StringVar(&cfg.StateDir, "state", daemon.StateDir(e.Getenv), "")
	fs.StringVar(&cfg.Store, "store", "", "")
	fs.IntVar(&cfg.OutputCap, "output-cap", cfg.OutputCap, "")
	envPass := fs.String("env-pass", strings.Join(cfg.EnvPass, ","), "")
	envAllow := fs.String("env-allow", strings.Join(cfg.EnvAllow, ","), "")
	fs.DurationVar(&cfg.KillGrace, "kill-grace", cfg.KillGrace, "")
	fs.DurationVar(&cfg.MaxTimeout, "max-timeout", 0, "")
	fs.DurationVar(&cfg.DefaultTimeout, "default-timeout", 0, "")
	level := fs.String("log-level", "info", "")
	pos, code, ok := parse(c, e, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(c, e, "unexpected argument %q", pos[0])
	}
	cfg.EnvPass, cfg.EnvAllow = splitList(*envPass), splitList(*envAllow)
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
