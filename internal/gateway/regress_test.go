package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

type hookStore struct {
	gatehouse.Store
	hook atomic.Pointer[func([]gatehouse.Event)]
}

func (h *hookStore) Append(ctx context.Context, evs ...gatehouse.Event) ([]gatehouse.Event, error) {
	l, err := h.Store.Append(ctx, evs...)
	if f := h.hook.Load(); f != nil && err == nil {
		(*f)(l)
	}
	return l, err
}

type fx struct {
	gw           *gateway.Gateway
	st           *hookStore
	raw          *sqlite.Store
	agent, admin gatehouse.Principal
	alice, bob   gatehouse.Principal
	dir          string
}

func mk(t *testing.T, pol string) *fx {
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hs := &hookStore{Store: store}
	z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
	p, err := policy.Parse([]byte(pol), policy.Options{Analyze: z.Shell})
	if err != nil {
		t.Fatal(err)
	}
	learned := policy.NewLearned()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_ = io.Discard
	gw := gateway.New(hs, executor.New(executor.Config{KillGrace: 200 * time.Millisecond}),
		gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH")}},
		gateway.Options{AdminToken: "gadm_test", Logger: log, Learned: learned,
			Decider: gateway.NewPolicyDecider(p, learned, z, nil), Tripwires: tripwire.NewMonitor(p.Tripwires())})
	ctx := context.Background()
	f := &fx{gw: gw, st: hs, raw: store, dir: dir}
	f.admin, _ = gw.Authenticate(ctx, "gadm_test")
	_, tok, _ := gw.AddAgent(ctx, f.admin, "ci")
	f.agent, _ = gw.Authenticate(ctx, tok)
	_, tok, _ = gw.AddIdentity(ctx, f.admin, "alice", gatehouse.RoleReviewer)
	f.alice, _ = gw.Authenticate(ctx, tok)
	_, tok, _ = gw.AddIdentity(ctx, f.admin, "bob", gatehouse.RoleReviewer)
	f.bob, _ = gw.Authenticate(ctx, tok)
	return f
}

// runDetached starts a Run, waits for pending, then disconnects the client.
func (f *fx) runDetached(t *testing.T, argv ...string) *gatehouse.Action {
	ctx, cancel := context.WithCancel(context.Background())
	pend := make(chan *gatehouse.Action, 1)
	done := make(chan error, 1)
	go func() {
		_, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: argv, Cwd: f.dir}, gateway.Sink{Pending: func(a *gatehouse.Action) { pend <- a }})
		done <- err
	}()
	a := <-pend
	cancel()
	t.Logf("run returned: %v", <-done)
	return a
}

// waitFinal polls (up to 20s, a safety net, not a timing assertion) until
// the action has ended, and returns it.
func waitFinal(t *testing.T, s gatehouse.Store, id string) *gatehouse.Action {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := s.Action(context.Background(), id)
		if err == nil && a.Status.Final() {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("action %s did not end (status %v, err %v)", id, a, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// These tests pin down races a review found: each once crashed the daemon
// (a waiter released twice), let an action through a pause, or left a
// client waiting for ever.

// F1: approved while the agent is away, then the deadline runs out.
func TestRegressExpireApprovedUnattached(t *testing.T) {
	f := mk(t, "version: 1\ndefault: review\napproval_timeout: 1s\n")
	a := f.runDetached(t, "true")
	if _, err := f.gw.Review(context.Background(), f.alice, a.ID, gatehouse.VerdictApprove, gatehouse.ReviewRequest{}); err != nil {
		t.Fatal(err)
	}
	got := waitFinal(t, f.raw, a.ID)
	if got.Status != gatehouse.StatusInterrupted || !strings.Contains(got.Error, "did not come back") {
		t.Fatalf("status %s (%s), want interrupted: approved but the agent did not come back", got.Status, got.Error)
	}
}

// F2: a halt over an approved, unattached pending action.
func TestRegressHaltApprovedUnattached(t *testing.T) {
	f := mk(t, "version: 1\ndefault: review\napproval_timeout: 1h\n")
	a := f.runDetached(t, "true")
	if _, err := f.gw.Review(context.Background(), f.alice, a.ID, gatehouse.VerdictApprove, gatehouse.ReviewRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gw.Halt(context.Background(), f.admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: "ci"}, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	// Is rv.mu still held? A Review would block.
	ch := make(chan struct{})
	go func() {
		f.gw.Pending(context.Background(), f.admin)
		f.gw.Review(context.Background(), f.alice, a.ID, gatehouse.VerdictApprove, gatehouse.ReviewRequest{})
		close(ch)
	}()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("reviews stuck after the halt")
	}
	if got := waitFinal(t, f.raw, a.ID); got.Status != gatehouse.StatusInterrupted || !strings.Contains(got.Error, "cancelled: halted") {
		t.Fatalf("status %s (%s), want cancelled by the halt", got.Status, got.Error)
	}
}

// F3: the action that crosses a pause tripwire is not held.
func TestRegressPauseTripwireCrossingRuns(t *testing.T) {
	f := mk(t, "version: 1\ndefault: allow\ntripwires:\n  destructive_budget: {max: 1, effect: pause}\n")
	ctx := context.Background()
	x := filepath.Join(f.dir, "x")
	// The first destructive action is within the budget.
	if err := os.WriteFile(x, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Shell: true, Command: "rm -rf " + x, Session: "s", Cwd: f.dir}, gateway.Sink{}); err != nil || a.Status != gatehouse.StatusSucceeded {
		t.Fatalf("first: %v %v", a, err)
	}
	// The second crosses it: the pause it causes holds it, so it does not
	// run; the client gives up waiting.
	if err := os.WriteFile(x, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := f.gw.Run(c, f.agent, gatehouse.RunRequest{Shell: true, Command: "rm -rf " + x, Session: "s", Cwd: f.dir}, gateway.Sink{})
		done <- err
	}()
	for {
		st, _ := f.gw.Status(ctx, f.admin)
		if st.Held == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("held run: %v, want EUNAVAILABLE (gave up waiting)", err)
	}
	if _, err := os.Stat(x); err != nil {
		t.Fatalf("the action that crossed the budget ran: %v", err)
	}
	hs, _ := f.gw.Halts(ctx, f.admin)
	if len(hs) != 1 || hs[0].Mode != gatehouse.ModePause || hs[0].Tripwire != "destructive_budget" || len(hs[0].Evidence) != 2 {
		t.Fatalf("halts in force: %+v", hs)
	}
}

// F4: a reviewer denies between the journaling of a pending action and Run's watch.
func TestRegressDenyBeforeWatchHangs(t *testing.T) {
	f := mk(t, "version: 1\ndefault: review\napproval_timeout: 1s\n")
	var fired atomic.Bool
	hook := func(l []gatehouse.Event) {
		if len(l) == 2 && l[1].Type == gatehouse.EventActionDecided && !fired.Swap(true) {
			var d gatehouse.ActionDecided
			_ = json.Unmarshal(l[1].Data, &d)
			if d.Decision.Effect == gatehouse.EffectReview {
				_, err := f.gw.Review(context.Background(), f.alice, l[1].Subject, gatehouse.VerdictDeny, gatehouse.ReviewRequest{Reason: "no"})
				if err != nil {
					panic(err)
				}
			}
		}
	}
	f.st.hook.Store(&hook)
	done := make(chan *gatehouse.Action, 1)
	go func() {
		a, _ := f.gw.Run(context.Background(), f.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}, gateway.Sink{})
		done <- a
	}()
	select {
	case a := <-done:
		if a == nil || a.Status != gatehouse.StatusDenied {
			t.Fatalf("got %+v, want denied", a)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run still waiting after the deny")
	}
}

// F5: approve racing a not-yet-watched action -> double close in Review.
func TestRegressApproveBeforeWatch(t *testing.T) {
	f := mk(t, "version: 1\ndefault: review\napproval_timeout: 1s\n")
	var fired atomic.Bool
	hook := func(l []gatehouse.Event) {
		if len(l) == 2 && l[1].Type == gatehouse.EventActionDecided && !fired.Swap(true) {
			f.gw.Review(context.Background(), f.alice, l[1].Subject, gatehouse.VerdictApprove, gatehouse.ReviewRequest{})
		}
	}
	f.st.hook.Store(&hook)
	a, err := f.gw.Run(context.Background(), f.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}, gateway.Sink{})
	if err != nil || a.Status != gatehouse.StatusSucceeded {
		t.Fatalf("%v %v, want succeeded", a, err)
	}
}

// F1b: restart with an approved action whose agent never came back.
func TestRegressRecoverApproved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.db")
	store, _ := sqlite.Open(context.Background(), path)
	z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
	p, _ := policy.Parse([]byte("version: 1\ndefault: review\napproval_timeout: 1s\n"), policy.Options{Analyze: z.Shell})
	mkgw := func(s gatehouse.Store) *gateway.Gateway {
		l := policy.NewLearned()
		return gateway.New(s, executor.New(executor.Config{}), gateway.Config{}, gateway.Options{AdminToken: "gadm_test",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Learned: l, Decider: gateway.NewPolicyDecider(p, l, z, nil)})
	}
	gw := mkgw(store)
	ctx := context.Background()
	admin, _ := gw.Authenticate(ctx, "gadm_test")
	_, tok, _ := gw.AddAgent(ctx, admin, "ci")
	agent, _ := gw.Authenticate(ctx, tok)
	c, cancel := context.WithCancel(ctx)
	pend := make(chan *gatehouse.Action, 1)
	go gw.Run(c, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{Pending: func(a *gatehouse.Action) { pend <- a }})
	a := <-pend
	cancel()
	for {
		if cur, _ := store.Action(ctx, a.ID); cur != nil && cur.Status == gatehouse.StatusPending {
			break
		}
	}
	// Wait until the client's request has let go of the action.
	for {
		if _, err := gw.Review(ctx, admin, a.ID, gatehouse.VerdictApprove, gatehouse.ReviewRequest{}); err == nil {
			break
		}
	}
	gw.Shutdown(ctx) // stops the review timers; the deadline passes while "down"
	gw2 := mkgw(store)
	if _, err := gw2.Recover(ctx, gatehouse.DaemonStarted{}); err != nil {
		t.Fatal(err)
	}
	if got := waitFinal(t, store, a.ID); got.Status != gatehouse.StatusInterrupted {
		t.Fatalf("%s %s, want interrupted", got.Status, got.Error)
	}
}

func TestRegressHaltPointerRace(t *testing.T) {
	f := mk(t, "version: 1\ndefault: allow\n")
	ctx := context.Background()
	for range 20 {
		f.gw.Halt(ctx, f.admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{All: true}, Reason: "x"})
		ch := make(chan struct{})
		go func() {
			f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: f.dir}, gateway.Sink{})
			close(ch)
		}()
		f.gw.Resume(ctx, f.admin, gatehouse.Scope{All: true})
		<-ch
	}
}
