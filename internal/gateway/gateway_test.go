package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

type fixture struct {
	gw    *gateway.Gateway
	store *sqlite.Store
	agent gatehouse.Principal
	admin gatehouse.Principal
	dir   string
}

func newFixture(t testing.TB, cfg gateway.Config) *fixture {
	return newFixtureCap(t, cfg, 1024)
}

func newFixtureCap(t testing.TB, cfg gateway.Config, outputCap int) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	exec := executor.New(executor.Config{KillGrace: 200 * time.Millisecond, OutputCap: outputCap})
	if cfg.BaseEnv == nil {
		cfg.BaseEnv = map[string]string{"PATH": os.Getenv("PATH")}
	}
	gw := gateway.New(store, exec, cfg, gateway.Options{
		AdminToken: "gadm_test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	admin, err := gw.Authenticate(context.Background(), "gadm_test")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := gw.AddAgent(context.Background(), admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := gw.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{gw: gw, store: store, agent: agent, admin: admin, dir: dir}
}

func TestRunValidation(t *testing.T) {
	f := newFixture(t, gateway.Config{EnvAllow: []string{"TZ"}, MaxTimeout: time.Minute})
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name string
		req  gatehouse.RunRequest
		want string // substring of the message
	}{
		{"empty argv", gatehouse.RunRequest{Cwd: f.dir}, "empty command"},
		{"empty program", gatehouse.RunRequest{Argv: []string{""}, Cwd: f.dir}, "empty command"},
		{"blank shell", gatehouse.RunRequest{Shell: true, Command: "  ", Cwd: f.dir}, "empty command"},
		{"shell with argv", gatehouse.RunRequest{Shell: true, Command: "ls", Argv: []string{"ls"}, Cwd: f.dir}, "not argv"},
		{"command without shell", gatehouse.RunRequest{Command: "ls", Cwd: f.dir}, "only for shell"},
		{"no cwd", gatehouse.RunRequest{Argv: []string{"true"}}, "cwd is required"},
		{"relative cwd", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: "rel"}, "not an absolute path"},
		{"missing cwd", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: "/nonexistent/x"}, "not a directory"},
		{"NUL", gatehouse.RunRequest{Argv: []string{"echo", "a\x00b"}, Cwd: f.dir}, "NUL byte"},
		{"env not allowed", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir, Env: map[string]string{"LD_PRELOAD": "x"}}, "may not be set"},
		{"env bad name", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir, Env: map[string]string{"A-B": "x"}}, "invalid environment variable name"},
		{"claim too long", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir, Intent: long}, "intent is over"},
		{"negative timeout", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir, TimeoutMS: -1}, "negative timeout"},
		{"timeout over max", gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir, TimeoutMS: 120000}, "over the gateway's maximum"},
		{"args without shell", gatehouse.RunRequest{Argv: []string{"true"}, Args: []string{"x"}, Cwd: f.dir}, "only for shell requests"},
		{"shell options without shell", gatehouse.RunRequest{Argv: []string{"true"}, ShellOptions: []string{"-e"}, Cwd: f.dir}, "only for shell requests"},
		{"shell option -c", gatehouse.RunRequest{Shell: true, Command: "ls", ShellOptions: []string{"-c"}, Cwd: f.dir}, "invalid shell option"},
		{"shell option -i", gatehouse.RunRequest{Shell: true, Command: "ls", ShellOptions: []string{"-ei"}, Cwd: f.dir}, "invalid shell option"},
		{"shell option long", gatehouse.RunRequest{Shell: true, Command: "ls", ShellOptions: []string{"--login"}, Cwd: f.dir}, "invalid shell option"},
		{"shell option bare dash", gatehouse.RunRequest{Shell: true, Command: "ls", ShellOptions: []string{"-"}, Cwd: f.dir}, "invalid shell option"},
		{"shell option -o without name", gatehouse.RunRequest{Shell: true, Command: "ls", ShellOptions: []string{"-o"}, Cwd: f.dir}, "needs an option name"},
		{"shell option -euo bad name", gatehouse.RunRequest{Shell: true, Command: "ls", ShellOptions: []string{"-euo", "Pipe Fail"}, Cwd: f.dir}, "needs an option name"},
		{"NUL in args", gatehouse.RunRequest{Shell: true, Command: "echo $1", Args: []string{"sh", "a\x00b"}, Cwd: f.dir}, "NUL byte"},
		{"args too long", gatehouse.RunRequest{Shell: true, Command: "echo", Args: []string{strings.Repeat("y", 300<<10)}, Cwd: f.dir}, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.gw.Run(context.Background(), f.agent, tt.req, gateway.Sink{})
			if gatehouse.ErrorCode(err) != gatehouse.EINVALID || !strings.Contains(gatehouse.ErrorMessage(err), tt.want) {
				t.Fatalf("err = %v, want EINVALID containing %q", err, tt.want)
			}
		})
	}
	// Nothing was journaled by any of them: two events (agent added) only.
	n := 0
	if err := f.store.Events(context.Background(), 0, func(gatehouse.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("journal has %d events after refused requests, want 1", n)
	}
}

func TestRunOutcomes(t *testing.T) {
	f := newFixtureCap(t, gateway.Config{}, 8)
	code := func(n int) *int { return &n }
	tests := []struct {
		name    string
		req     gatehouse.RunRequest
		status  gatehouse.Status
		exit    *int
		signal  string
		errPart string
		stdout  string // what is kept: the first OutputCap bytes
		bytes   int64
	}{
		{"success", gatehouse.RunRequest{Argv: []string{"echo", "hello"}}, gatehouse.StatusSucceeded, code(0), "", "", "hello\n", 6},
		{"exit code", gatehouse.RunRequest{Argv: []string{"sh", "-c", "exit 7"}}, gatehouse.StatusFailed, code(7), "", "", "", 0},
		{"not found", gatehouse.RunRequest{Argv: []string{"no-such-program-xyz"}}, gatehouse.StatusFailed, code(127), "", "command not found", "", 0},
		{"signal", gatehouse.RunRequest{Shell: true, Command: "kill -KILL $$"}, gatehouse.StatusFailed, nil, "SIGKILL", "", "", 0},
		{"timeout", gatehouse.RunRequest{Argv: []string{"sleep", "10"}, TimeoutMS: 100}, gatehouse.StatusFailed, nil, "SIGTERM", "timed out", "", 0},
		{"output cap", gatehouse.RunRequest{Shell: true, Command: "printf 0123456789abcdef"}, gatehouse.StatusSucceeded, code(0), "", "", "01234567", 16},
		{"shell positional args", gatehouse.RunRequest{Shell: true, Command: `printf "%s|" "$0" "$@"`, Args: []string{"me", "a b", "c"}}, gatehouse.StatusSucceeded, code(0), "", "", "me|a b|c", 9},
		{"shell options", gatehouse.RunRequest{Shell: true, Command: "false; echo not", ShellOptions: []string{"-eu", "-o", "noglob"}}, gatehouse.StatusFailed, code(1), "", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Cwd = f.dir
			var live bytes.Buffer
			a, err := f.gw.Run(context.Background(), f.agent, tt.req, gateway.Sink{Stdout: &live, Stderr: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != tt.status || a.Signal != tt.signal {
				t.Errorf("status %s signal %q, want %s %q", a.Status, a.Signal, tt.status, tt.signal)
			}
			if (a.ExitCode == nil) != (tt.exit == nil) || (a.ExitCode != nil && *a.ExitCode != *tt.exit) {
				t.Errorf("exit code %v, want %v", deref(a.ExitCode), deref(tt.exit))
			}
			if !strings.Contains(a.Error, tt.errPart) || (tt.errPart == "" && a.Error != "") {
				t.Errorf("error %q, want it to contain %q", a.Error, tt.errPart)
			}
			if a.Stdout != tt.stdout || a.StdoutBytes != tt.bytes {
				t.Errorf("stdout %q (%d bytes), want %q (%d)", a.Stdout, a.StdoutBytes, tt.stdout, tt.bytes)
			}
			if tt.bytes > 0 && int64(live.Len()) != tt.bytes {
				t.Errorf("live stream got %d bytes, want all %d", live.Len(), tt.bytes)
			}
			// What Run returns is what the store holds.
			stored, err := f.store.Action(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != a.Status || len(stored.Seq) != len(a.Seq) {
				t.Errorf("stored %s %v, returned %s %v", stored.Status, stored.Seq, a.Status, a.Seq)
			}
		})
	}
	rep, err := f.gw.Verify(context.Background(), f.admin)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// When the journal cannot be written, nothing runs.
func TestRunFailsClosed(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	marker := filepath.Join(f.dir, "ran")
	f.store.Close()
	_, err := f.gw.Run(context.Background(), f.agent, gatehouse.RunRequest{Argv: []string{"touch", marker}, Cwd: f.dir}, gateway.Sink{})
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("err = %v, want EUNAVAILABLE", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the command ran although the journal was unwritable")
	}
}

func TestAuthorization(t *testing.T) {
	f := newFixture(t, gateway.Config{})
	ctx := context.Background()
	if _, err := f.gw.Run(ctx, f.admin, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}, gateway.Sink{}); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("admin run: %v, want EFORBIDDEN", err)
	}
	if _, err := f.gw.Actions(ctx, f.agent, gatehouse.ActionFilter{}); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("agent listing actions: %v, want EFORBIDDEN", err)
	}
	if _, _, err := f.gw.AddAgent(ctx, f.agent, "other"); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("agent adding an agent: %v, want EFORBIDDEN", err)
	}
	for _, tok := range []string{"", "gat_bogus", "gadm_wrong"} {
		if _, err := f.gw.Authenticate(ctx, tok); gatehouse.ErrorCode(err) != gatehouse.EUNAUTHORIZED {
			t.Errorf("Authenticate(%q): %v, want EUNAUTHORIZED", tok, err)
		}
	}
}

func TestQuoteArgv(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"ls", "-la"}, "ls -la"},
		{[]string{"echo", "hello world"}, "echo 'hello world'"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"sh", "-c", "rm -rf $HOME"}, "sh -c 'rm -rf $HOME'"},
		{[]string{"printf", ""}, "printf ''"},
		{[]string{"git", "commit", "-m", "a;b"}, "git commit -m 'a;b'"},
		{[]string{"/usr/bin/env", "A=1", "x@y:z,w/v.%+"}, "/usr/bin/env A=1 x@y:z,w/v.%+"},
	}
	for _, tt := range tests {
		if got := gateway.QuoteArgv(tt.argv); got != tt.want {
			t.Errorf("QuoteArgv(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}
