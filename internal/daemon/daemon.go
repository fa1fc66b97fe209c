// Package daemon wires Gatehouse's adapters into the running gateway: it
// owns the state directory (its lock, the admin token, the database),
// opens the store, recovers what a previous daemon left unfinished, and
// serves the HTTP API until told to stop. `gatehouse serve` and the
// end-to-end tests start exactly this.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cas"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/console"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/mcp"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/otel"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// analyzers are the shell analysis the policy decides on.
var analyzers = gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}

// loadPolicy loads the policy file, writing the default policy first if the
// file is the default one and does not exist yet. A broken policy stops the
// start: the gateway does not run without a policy it can read.
func loadPolicy(cfg *Config) (*policy.Policy, error) {
	if cfg.Policy == "" {
		cfg.Policy = filepath.Join(cfg.StateDir, PolicyFile)
		if _, err := os.Stat(cfg.Policy); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(cfg.Policy, policy.DefaultPolicy(), 0o600); err != nil {
				return nil, fmt.Errorf("writing the default policy: %w", err)
			}
		}
	}
	return policy.Load(cfg.Policy, policy.Options{Analyze: analyzers.Shell, AnalyzeAction: analyzers.Analyze})
}

// loadConfig reads the configuration file: the one named, which must
// exist, or config.yaml in the state directory if there is one.
func loadConfig(cfg *Config) (*config.File, error) {
	if cfg.ConfigFile != "" {
		return config.Load(cfg.ConfigFile, false)
	}
	return config.Load(filepath.Join(cfg.StateDir, config.FileName), true)
}

// upstreams turns the configuration's upstreams section into the MCP
// adapter's own type.
func upstreams(f *config.File) []mcp.Upstream {
	out := make([]mcp.Upstream, len(f.Upstreams))
	for i, u := range f.Upstreams {
		out[i] = mcp.Upstream{Name: u.Name, Command: u.Command, Env: u.Env, Cwd: u.Cwd, URL: u.URL, Headers: u.Headers}
	}
	return out
}

// PolicyFile is the policy's file name in the state directory.
const PolicyFile = "policy.yaml"

// The workspace records' places in the state directory: the content store
// and the workspaces' indexes.
const (
	CASDir       = "cas"
	SnapshotsDir = "snapshots"
)

var _ gateway.Workspaces = (*snapshot.Manager)(nil)

// openWorkspaces opens the content store and the workspace recorder over
// the configuration's workspaces. The state directory and the journal's
// files are never recorded.
func openWorkspaces(cfg *Config, conf *config.File, log *slog.Logger) (*snapshot.Manager, error) {
	state, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	ws := conf.Workspaces
	store, err := cas.Open(filepath.Join(state, CASDir), cas.Options{Budget: ws.StoreBudget(), MaxFileSize: ws.StoreMaxFileSize()})
	if err != nil {
		return nil, err
	}
	var dirs []snapshot.Workspace
	for _, d := range ws.Dirs {
		dirs = append(dirs, snapshot.Workspace{Dir: filepath.Clean(d.Path), Agents: d.Agents,
			Always: d.Snapshot == config.SnapshotAlways, Exclude: d.Exclude, MaxFiles: d.MaxFiles,
			NoWatch: d.Watch != nil && !*d.Watch})
	}
	// The journal may live outside the state directory (--store): its
	// files must never be recorded, let alone restored.
	protected := []string{state}
	if db, err := filepath.Abs(cfg.Store); err == nil {
		protected = append(protected, db, db+"-wal", db+"-shm", db+"-journal")
	}
	m, err := snapshot.Open(snapshot.Options{CAS: store, IndexDir: filepath.Join(state, SnapshotsDir),
		Workspaces: dirs, Protected: protected, Logger: log})
	if gatehouse.ErrorCode(err) == gatehouse.EINVALID {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "config: %s", gatehouse.ErrorMessage(err))
	}
	return m, err
}

func notifiers(cfg *Config, log *slog.Logger) notify.Notifier {
	var m notify.Multi
	opts := notify.Options{Logger: log}
	if cfg.Webhook != "" {
		m = append(m, notify.NewWebhook(cfg.Webhook, cfg.WebhookSecret, opts))
	}
	if cfg.Slack != "" {
		m = append(m, notify.NewSlack(cfg.Slack, opts))
	}
	if len(m) == 0 {
		return notify.Discard
	}
	return m
}

var adminPrincipal = gatehouse.Principal{Name: "admin", Role: gatehouse.RoleAdmin}

// ReloadPolicy loads the policy file again (on SIGHUP).
func (d *Daemon) ReloadPolicy(ctx context.Context, by string) error {
	_, err := d.gw.ReloadPolicy(ctx, adminPrincipal, by)
	return err
}

// watchPolicy reloads the policy when its file changes. It polls: a rename
// over the file (how editors save) is seen as surely as a write, and there
// is nothing to install.
func (d *Daemon) watchPolicy(stop chan struct{}, every time.Duration) {
	stamp := func() string {
		fi, err := os.Stat(d.cfg.Policy)
		if err != nil {
			return "missing"
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size(), ino)
	}
	last := stamp()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if now := stamp(); now != last {
			last = now
			_ = d.ReloadPolicy(context.Background(), "file change") // a broken file is logged; the policy in force stays
		}
	}
}

// Config is the daemon's configuration. Start from DefaultConfig.
type Config struct {
	Listen   string // host:port of the API
	StateDir string // holds gatehouse.db, admin.token and the lock
	// Store is the journal: a SQLite database file (default
	// StateDir/gatehouse.db) or a PostgreSQL URL (postgres://…), which
	// several daemons may share (see docs/POSTGRES.md).
	Store  string
	Policy string // the policy file; default StateDir/policy.yaml, written on first start
	// Replica is this daemon's replica id when the store is shared
	// (PostgreSQL); default the id in StateDir/replica.id, made on first
	// start. ReplicaGrace is how long a replica's claim must have been
	// free before the others take over its actions.
	Replica      string
	ReplicaGrace time.Duration
	// AdminTokenFile, if set, holds the admin token instead of
	// StateDir/admin.token: replicas behind one address share one.
	AdminTokenFile string
	// ConfigFile is the configuration file (internal/config); default
	// StateDir/config.yaml, which may be absent.
	ConfigFile string
	// SecretsKey is the key file that seals the secrets (internal/seal);
	// default StateDir/secrets.key. Created (0600) if it does not exist.
	SecretsKey string
	// PolicyPoll is how often the daemon looks for changes of the policy
	// file; 0 turns watching off (SIGHUP and policy reload still work).
	PolicyPoll time.Duration

	// Notifications of pending approvals.
	Webhook       string // generic JSON webhook URL
	WebhookSecret string // HMAC-SHA256 key for its signature (read from a file by the CLI)
	Slack         string // Slack incoming-webhook URL

	OutputCap      int           // bytes of stdout and of stderr kept per action
	EnvPass        []string      // daemon environment variables passed to every command
	EnvAllow       []string      // variables a client may set on a run
	KillGrace      time.Duration // SIGTERM, then SIGKILL after this
	MaxTimeout     time.Duration // cap on a run's timeout; 0 none
	DefaultTimeout time.Duration // timeout of a run that asks for none; 0 none

	// OTLPEndpoint turns on the OpenTelemetry exporter: a span per
	// finished action to this OTLP/HTTP URL (internal/otel). Empty: on
	// only if the daemon's environment names a collector
	// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
	OTLPEndpoint string

	// ConsoleIdle signs a console session out after this long unused.
	ConsoleIdle time.Duration
}

// DefaultListen is the API's default address.
const DefaultListen = "127.0.0.1:7780"

// DefaultConfig returns the configuration of a plain `gatehouse serve`.
func DefaultConfig() Config {
	return Config{
		Listen:       DefaultListen,
		OutputCap:    executor.DefaultConfig().OutputCap,
		EnvPass:      []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"},
		EnvAllow:     []string{"TERM", "LANG", "LC_ALL", "TZ", "NO_COLOR", "COLUMNS"},
		KillGrace:    5 * time.Second,
		PolicyPoll:   time.Second,
		ReplicaGrace: gateway.DefaultReplicaGrace,
		ConsoleIdle:  console.DefaultIdleTimeout,
	}
}

// Validate returns EINVALID naming the first bad field.
func (c *Config) Validate() error {
	inv := func(f string, a ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, f, a...) }
	switch {
	case c.StateDir == "":
		return inv("state: no state directory")
	case c.Listen == "":
		return inv("listen: no address")
	case c.OutputCap < 0:
		return inv("output-cap: negative")
	case c.KillGrace < 0:
		return inv("kill-grace: negative")
	case c.MaxTimeout < 0 || c.DefaultTimeout < 0:
		return inv("timeouts: negative")
	case c.PolicyPoll < 0:
		return inv("policy-poll: negative")
	case c.ConsoleIdle < 0:
		return inv("console-idle: negative")
	case c.ReplicaGrace < 0 || (c.ReplicaGrace > 0 && c.ReplicaGrace < 200*time.Millisecond):
		return inv("replica-grace: %s is too short (at least 200ms)", c.ReplicaGrace)
	case c.Replica != "" && !replicaID.MatchString(c.Replica):
		return inv("replica: %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Replica)
	case c.MaxTimeout > 0 && c.DefaultTimeout > c.MaxTimeout:
		return inv("default-timeout: over max-timeout")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return inv("listen: %q is not host:port", c.Listen)
	}
	for _, n := range append(append([]string{}, c.EnvPass...), c.EnvAllow...) {
		if n == "" || strings.ContainsAny(n, "= \t") {
			return inv("env: invalid variable name %q", n)
		}
	}
	return nil
}

var replicaID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// StateDir returns where the state lives: $GATEHOUSE_STATE, else
// $XDG_STATE_HOME/gatehouse, else ~/.local/state/gatehouse.
func StateDir(getenv func(string) string) string {
	if d := getenv("GATEHOUSE_STATE"); d != "" {
		return d
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "gatehouse")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "state", "gatehouse")
}

// AdminTokenFile is the admin token's file name in the state directory.
const AdminTokenFile = "admin.token"

// ReadAdminToken returns the admin token kept in dir.
func ReadAdminToken(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Daemon is a running gateway.
type Daemon struct {
	cfg    Config
	conf   *config.File // the configuration file
	log    *slog.Logger
	notify notify.Notifier
	watch  chan struct{} // closed to stop the policy watcher
	lock   *os.File
	store  gatehouse.Store
	otlp   *otel.Exporter // nil when off
	snap   *snapshot.Manager
	gw     *gateway.Gateway
	api    *httpapi.Server
	web    *console.Server
	hub    *mcp.Hub // the MCP upstreams of the configuration file, at /mcp/NAME
	srv    *http.Server
	ln     net.Listener
	served chan error
}

// Start prepares the state directory, opens the journal, closes what a
// previous daemon left running, and starts serving. It returns once the API
// is listening and ready.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Store == "" {
		cfg.Store = filepath.Join(cfg.StateDir, "gatehouse.db")
	}
	d := &Daemon{cfg: cfg, log: log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := os.Chmod(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if d.lock, err = lockState(cfg.StateDir); err != nil {
		return nil, err
	}
	admin, err := adminToken(cfg)
	if err != nil {
		return nil, err
	}
	if d.conf, err = loadConfig(&d.cfg); err != nil {
		return nil, err
	}
	pol, err := loadPolicy(&d.cfg)
	if err != nil {
		return nil, err
	}
	keys, err := loadSecretsKey(&d.cfg, log) // credentials.go
	if err != nil {
		return nil, err
	}
	if postgres.IsURL(cfg.Store) && cfg.Replica == "" {
		if d.cfg.Replica, err = ensureReplicaID(cfg.StateDir); err != nil {
			return nil, err
		}
		cfg.Replica = d.cfg.Replica
	}
	if d.store, err = openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	shared, _ := d.store.(gateway.Shared)
	// Both stores hold secrets; a store that could not would leave every
	// granted action failing, so a configuration that grants some does
	// not start on it.
	secrets, _ := d.store.(gatehouse.SecretStore)
	if secrets == nil && len(d.conf.Credentials.Grants()) > 0 {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "config: credentials are granted, but the store %s cannot hold secrets", storeName(cfg.Store))
	}
	if d.snap, err = openWorkspaces(&d.cfg, d.conf, log); err != nil {
		return nil, err
	}
	var store gatehouse.Store = d.store
	if cfg.OTLPEndpoint != "" || otel.Enabled(os.Getenv) {
		if d.otlp, err = otel.New(ctx, otel.Config{Endpoint: cfg.OTLPEndpoint, Version: Version(), Logger: log}); err != nil {
			return nil, err
		}
		store = d.otlp.Wrap(d.store)
		endpoint := cfg.OTLPEndpoint
		if endpoint == "" {
			endpoint = "(from OTEL_EXPORTER_OTLP_* in the environment)"
		}
		log.Info("otlp: a span per finished action", "endpoint", endpoint)
	}
	exec := executor.New(executor.Config{KillGrace: cfg.KillGrace, OutputCap: cfg.OutputCap, Logger: log})
	log.Info("process containment", "mode", exec.Containment())
	learned := policy.NewLearned()
	decider := gateway.NewPolicyDecider(pol, learned, analyzers, nil)
	d.notify = notifiers(&cfg, log)
	d.gw = gateway.New(store, exec, gateway.Config{
		BaseEnv: passEnv(cfg.EnvPass), EnvAllow: cfg.EnvAllow,
		MaxTimeout: cfg.MaxTimeout, DefaultTimeout: cfg.DefaultTimeout,
	}, gateway.Options{
		Logger: log, AdminToken: admin, Decider: decider, Learned: learned, Notifier: d.notify,
		Policy:       &gateway.PolicyFile{Path: d.cfg.Policy, Decider: decider, Analyze: analyzers},
		Tripwires:    tripwire.NewMonitor(pol.Tripwires()),
		Credentials:  gateway.Credentials{Store: secrets, Sealer: keys, Grants: d.conf.Credentials.Grants()},
		Shared:       shared,
		ReplicaGrace: cfg.ReplicaGrace,
		Workspaces:   d.snap,
	})
	d.checkGrants(ctx, log)

	host, _ := os.Hostname()
	n, err := d.gw.Recover(ctx, gatehouse.DaemonStarted{Version: Version(), PID: os.Getpid(), Host: host})
	if err != nil {
		return nil, fmt.Errorf("recovering the journal: %w", err)
	}
	if n > 0 {
		log.Warn("closed actions left running by the previous daemon as interrupted", "count", n)
	}
	if err := d.gw.AnnouncePolicy(ctx, "start"); err != nil {
		return nil, err
	}
	if cfg.PolicyPoll > 0 {
		d.watch = make(chan struct{})
		go d.watchPolicy(d.watch, cfg.PolicyPoll)
	}

	if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, err
	}
	d.api = httpapi.NewServer(d.gw, log)
	d.web = console.New(d.gw, console.Options{Logger: log, IdleTimeout: cfg.ConsoleIdle})
	mux := http.NewServeMux()
	mux.Handle("/v1/", d.api.Handler())
	mux.Handle("/healthz", d.api.Handler())
	// MCP over streamable HTTP; its tools call this daemon's own API with
	// the caller's token.
	mux.Handle("/mcp", mcp.HTTPHandler(d.gw, "http://"+d.ln.Addr().String(), Version()))
	// The operator's console: every other path.
	mux.Handle("/", d.web.Handler())
	d.hub = mcp.NewHub(upstreams(d.conf), d.gw, mcp.HubOptions{
		APIURL: "http://" + d.ln.Addr().String(), Version: Version(), BaseEnv: passEnv(cfg.EnvPass),
		Logger: log, StopGrace: cfg.KillGrace,
	})
	mux.Handle("/mcp/", d.hub)
	d.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: a run streams for as long as its command runs.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The console's live streams would keep Shutdown waiting: end them.
	d.srv.RegisterOnShutdown(d.web.Close)
	go func() { d.served <- d.srv.Serve(d.ln) }()
	d.hub.Start()
	if names := d.hub.Names(); len(names) > 0 {
		log.Info("MCP upstreams at /mcp/NAME", "names", names)
	}
	// Logged before /healthz answers ready, so that whoever waits for
	// ready finds the line (the replicas testscript greps it).
	log.Info("gatehouse serving", "addr", d.ln.Addr().String(), "state", cfg.StateDir, "store", storeName(cfg.Store),
		"replica", d.gw.Replica(), "version", Version())
	d.api.SetReady(true)
	return d, nil
}

// Store returns where the journal is: its database file, or its
// PostgreSQL URL.
func (d *Daemon) Store() string { return d.cfg.Store }

var _ gateway.Shared = (*postgres.Store)(nil)

// openStore opens the journal cfg.Store names.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (gatehouse.Store, error) {
	// Each branch returns a nil interface on error, never a typed nil.
	if postgres.IsURL(cfg.Store) {
		grace := cmp.Or(cfg.ReplicaGrace, gateway.DefaultReplicaGrace)
		s, err := postgres.Open(ctx, cfg.Store, postgres.WithLogger(log), postgres.WithReplica(cfg.Replica),
			postgres.WithKeepalive(min(2*time.Second, grace/4)), postgres.WithClaimWait(grace))
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Addr returns the address the API listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Wait blocks until ctx is done (or the server fails), then shuts down.
func (d *Daemon) Wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-d.served:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), d.cfg.KillGrace+10*time.Second)
	defer cancel()
	return errors.Join(err, d.Shutdown(shutdownCtx))
}

// Shutdown stops accepting requests, interrupts running actions (recording
// each as interrupted), and closes the journal.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.api.SetReady(false)
	d.log.Info("shutting down")
	if d.watch != nil {
		close(d.watch)
		d.watch = nil
	}
	// Interrupt the actions first: their streaming responses would keep
	// http.Server.Shutdown waiting for as long as they run.
	gerr := d.gw.Shutdown(ctx)
	// Then the MCP upstreams: their agents' sessions end (and with them
	// their event streams, which would hold the server's shutdown), and
	// the programs the daemon started stop.
	herr := d.hub.Close(ctx)
	serr := d.srv.Shutdown(ctx)
	if errors.Is(serr, http.ErrServerClosed) {
		serr = nil
	}
	nerr := d.notify.Close(ctx)
	err := errors.Join(gerr, herr, serr, nerr, d.release())
	if err == nil {
		d.log.Info("stopped")
	}
	return err
}

func (d *Daemon) release() error {
	var err error
	if d.otlp != nil {
		// After the gateway's last ends (their spans are sent too), before
		// the store closes (the exporter reads it); a collector that does
		// not take them in time loses them.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if xerr := d.otlp.Shutdown(ctx); xerr != nil {
			d.log.Warn("otlp: spans lost at shutdown", "err", xerr)
		}
		cancel()
		d.otlp = nil
	}
	if d.snap != nil {
		// After the gateway's shutdown: no action is recorded any more.
		// Saves the workspaces' indexes for the next start.
		err = d.snap.Close()
		d.snap = nil
	}
	if d.store != nil {
		err = errors.Join(err, d.store.Close())
		d.store = nil
	}
	if d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
	return err
}

// lockState takes an exclusive lock on the state directory, so that two
// daemons never share one journal file.
func lockState(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, gatehouse.Errorf(gatehouse.ECONFLICT, "another gatehouse daemon is using %s", dir)
	}
	return f, nil
}

// adminToken returns the admin token: from cfg.AdminTokenFile, which must
// exist, be private and hold one; else from the state directory, made on
// first start.
func adminToken(cfg Config) (string, error) {
	if cfg.AdminTokenFile == "" {
		return ensureAdminToken(cfg.StateDir)
	}
	fi, err := os.Stat(cfg.AdminTokenFile)
	if err != nil {
		return "", fmt.Errorf("admin-token-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", gatehouse.Errorf(gatehouse.EINVALID, "%s is readable by others (mode %v): chmod 600 it", cfg.AdminTokenFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(cfg.AdminTokenFile)
	if err != nil {
		return "", fmt.Errorf("admin-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", gatehouse.Errorf(gatehouse.EINVALID, "%s holds no admin token (at least 32 characters)", cfg.AdminTokenFile)
	}
	return tok, nil
}

// ReplicaFile is the replica id's file name in the state directory.
const ReplicaFile = "replica.id"

// ensureReplicaID returns the replica id kept in dir, making one on first
// start: the host name and a random suffix, so that two daemons on one
// host (each with its own state directory) differ, and a restart of one
// keeps its id and so recovers its own actions.
func ensureReplicaID(dir string) (string, error) {
	path := filepath.Join(dir, ReplicaFile)
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if !replicaID.MatchString(id) {
			return "", gatehouse.Errorf(gatehouse.EINVALID, "%s holds no valid replica id", path)
		}
		return id, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	host, _ := os.Hostname()
	host = strings.Trim(regexp.MustCompile(`[^a-zA-Z0-9._-]+`).ReplaceAllString(host, "-"), "-._")
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" {
		host = "replica"
	}
	id := host + "-" + strings.ToLower(gateway.NewToken("")[:8])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, nil
}

// ensureAdminToken returns the admin token in dir, creating it (0600) on
// first start.
func ensureAdminToken(dir string) (string, error) {
	path := filepath.Join(dir, AdminTokenFile)
	if tok, err := ReadAdminToken(dir); err == nil && tok != "" {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", gatehouse.Errorf(gatehouse.EINVALID, "%s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
		}
		return tok, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tok := gateway.NewToken("gadm_")
	tmp, err := os.CreateTemp(dir, ".admin.token-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return tok, nil
}

// storeName is what the log says the store is: a URL without its
// password.
func storeName(s string) string {
	if postgres.IsURL(s) {
		return postgres.Redact(s)
	}
	return s
}

func passEnv(names []string) map[string]string {
	env := map[string]string{}
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			env[n] = v
		}
	}
	return env
}

// Version is the module version the binary was built from, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
