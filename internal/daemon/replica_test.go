package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/client"
	"github.com/gatehouse-dev/gatehouse/internal/daemon"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
)

// startReplicaDaemon starts a daemon with its own state directory on the
// shared store u, with the shared admin token file.
func startReplicaDaemon(t *testing.T, u, tokenFile string) *daemon.Daemon {
	t.Helper()
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(t.TempDir(), "state")
	cfg.Store = u
	cfg.AdminTokenFile = tokenFile
	cfg.ReplicaGrace = 2 * time.Second
	cfg.Policy = filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(cfg.Policy, []byte("version: 1\ndefault: allow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return d
}

// Two daemons on one PostgreSQL journal, behind their own addresses as a
// load balancer would reach them: one admin token works on both, an
// agent added through one runs through the other, and a halt through one
// stops the other's running action at once and refuses its next.
func TestTwoDaemonsOneJournal(t *testing.T) {
	u := pgtest.URL(t)
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	admin := gateway.NewToken("gadm_")
	if err := os.WriteFile(tokenFile, []byte(admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := startReplicaDaemon(t, u, tokenFile), startReplicaDaemon(t, u, tokenFile)
	ctx := context.Background()
	adminA, adminB := client.New("http://"+a.Addr(), admin), client.New("http://"+b.Addr(), admin)
	tok, err := adminA.AddAgent(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agentB := client.New("http://"+b.Addr(), tok.Token)
	dir := t.TempDir()
	act, err := agentB.Run(ctx, gatehouse.RunRequest{Argv: []string{"echo", "hi"}, Cwd: dir}, client.RunOptions{})
	if err != nil || act.Status != gatehouse.StatusSucceeded || act.Replica == "" {
		t.Fatalf("run through b: %+v, %v", act, err)
	}

	started := make(chan *gatehouse.Action, 1)
	ended := make(chan *gatehouse.Action, 1)
	go func() {
		act, _ := agentB.Run(ctx, gatehouse.RunRequest{Argv: []string{"sleep", "60"}, Cwd: dir},
			client.RunOptions{Started: func(a *gatehouse.Action) { started <- a }})
		ended <- act
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the action did not start")
	}
	h, err := adminA.Halt(ctx, gatehouse.HaltRequest{Scope: gatehouse.Scope{All: true}, Reason: "stop everything"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case act := <-ended:
		if act == nil || act.Status != gatehouse.StatusInterrupted || !strings.Contains(act.Error, h.ID) {
			t.Fatalf("b's action after a's halt: %+v", act)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b's action was not stopped by a's halt")
	}
	act, err = agentB.Run(ctx, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, client.RunOptions{})
	if gatehouse.ErrorCode(err) != gatehouse.EREFUSED || act == nil || act.Status != gatehouse.StatusDenied {
		t.Fatalf("a run through b under the halt: %+v, %v", act, err)
	}
	rep, err := adminB.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("verify through b: %+v, %v", rep, err)
	}
}
