package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/tripwire"
)

// A replica is one gateway of several sharing a journal in PostgreSQL,
// in this process: what `gatehouse serve --store postgres://…` builds.
type replica struct {
	gw    *gateway.Gateway
	store *postgres.Store
	id    string
	stop  func() // a clean shutdown, as SIGTERM does; idempotent
	dead  bool   // its store was closed under it, as if the process died
}

type replicaOpts struct {
	decider   gateway.Decider
	tripwires *tripwire.Config
	grace     time.Duration
	write     time.Duration // the store's write timeout
}

func startReplica(t testing.TB, u, id string, o replicaOpts) *replica {
	t.Helper()
	ctx := context.Background()
	grace := o.grace
	if grace == 0 {
		grace = 2 * time.Second
	}
	sopts := []postgres.Option{postgres.WithReplica(id), postgres.WithKeepalive(100 * time.Millisecond), postgres.WithClaimWait(grace)}
	if o.write > 0 {
		sopts = append(sopts, postgres.WithWriteTimeout(o.write))
	}
	store, err := postgres.Open(ctx, u, sopts...)
	if err != nil {
		t.Fatal(err)
	}
	var r *replica
	var tw *tripwire.Monitor
	if o.tripwires != nil {
		tw = tripwire.NewMonitor(*o.tripwires)
	}
	exec := executor.New(executor.Config{KillGrace: 200 * time.Millisecond, OutputCap: 1024})
	gw := gateway.New(store, exec, gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH")}}, gateway.Options{
		AdminToken: "gadm_test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Decider: o.decider, Tripwires: tw, Shared: store, ReplicaGrace: grace,
	})
	if _, err := gw.Recover(ctx, gatehouse.DaemonStarted{Version: "test", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	r = &replica{gw: gw, store: store, id: id}
	r.stop = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil && !r.dead {
			t.Errorf("replica %s: Shutdown: %v", id, err)
		}
		store.Close()
	})
	t.Cleanup(r.stop)
	return r
}

// twoReplicas starts replicas r0 and r1 on a new database and registers
// an agent, whose principal both authenticate.
func twoReplicas(t testing.TB, o replicaOpts) (a, b *replica, u string, agent, admin gatehouse.Principal) {
	t.Helper()
	u = pgtest.URL(t)
	a, b = startReplica(t, u, "r0", o), startReplica(t, u, "r1", o)
	ctx := context.Background()
	admin, err := a.gw.Authenticate(ctx, "gadm_test")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := a.gw.AddAgent(ctx, admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if agent, err = b.gw.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	return a, b, u, agent, admin
}

// eventually waits (generously: no timing is asserted) until cond holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func journal(t testing.TB, s gatehouse.Store) []gatehouse.Event {
	t.Helper()
	var es []gatehouse.Event
	if err := s.Events(context.Background(), 0, func(e gatehouse.Event) error { es = append(es, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return es
}

func verifyOK(t testing.TB, s gatehouse.Store) {
	t.Helper()
	rep, err := gatehouse.Verify(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

// running returns the running actions of agent (from the journal).
func running(t testing.TB, s gatehouse.Store) []*gatehouse.Action {
	t.Helper()
	open, err := s.Running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*gatehouse.Action
	for _, a := range open {
		if a.Status == gatehouse.StatusRunning {
			out = append(out, a)
		}
	}
	return out
}

type result struct {
	a   *gatehouse.Action
	err error
}

// runAsync runs req on r in the background.
func runAsync(r *replica, p gatehouse.Principal, req gatehouse.RunRequest) <-chan result {
	ch := make(chan result, 1)
	go func() {
		a, err := r.gw.Run(context.Background(), p, req, gateway.Sink{})
		ch <- result{a, err}
	}()
	return ch
}

func await(t testing.TB, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("the action did not end within 60s")
	}
	return result{}
}

// Concurrent writers on two replicas: one linear chain without gaps, each
// action whole, and each recorded as started by the replica that ran it.
func TestReplicasOneChain(t *testing.T) {
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{})
	dir := t.TempDir()
	const clients, per = 8, 15
	var wg sync.WaitGroup
	// Verify through a replica while both append: it reads one snapshot,
	// so the projection it compares matches the events it read.
	verified, appending := make(chan int), make(chan struct{})
	go func() {
		n := 0
		defer func() { verified <- n }()
		for {
			select {
			case <-appending:
				return
			default:
			}
			rep, err := a.gw.Verify(context.Background(), admin)
			if err != nil || !rep.OK() {
				t.Errorf("verify while appending: %+v, %v", rep, err)
				return
			}
			n++
		}
	}()
	var mu sync.Mutex
	ranOn := map[string]string{}
	for c := range clients {
		wg.Go(func() {
			r := []*replica{a, b}[c%2]
			for range per {
				act, err := r.gw.Run(context.Background(), agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{})
				if err != nil || act.Status != gatehouse.StatusSucceeded {
					t.Errorf("run on %s: %v %v", r.id, act, err)
					return
				}
				mu.Lock()
				ranOn[act.ID] = r.id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(appending)
	if n := <-verified; n == 0 {
		t.Error("no verify ran while the replicas appended")
	}
	es := journal(t, a.store)
	var c gatehouse.Chain
	for _, e := range es {
		if err := c.Check(e); err != nil {
			t.Fatalf("chain: %v", err)
		}
	}
	// 2 daemon.started, 1 agent.added, 4 events per action.
	if want := 3 + clients*per*4; len(es) != want {
		t.Errorf("%d events, want %d", len(es), want)
	}
	for id, rid := range ranOn {
		act, err := b.store.Action(context.Background(), id)
		if err != nil || act.Replica != rid || act.Status != gatehouse.StatusSucceeded {
			t.Errorf("action %s ran on %s: stored %+v, %v", id, rid, act, err)
		}
	}
	verifyOK(t, b.store)
}

// reviewAll sends every action to review.
type reviewAll struct{}

func (reviewAll) Decide(context.Context, *gatehouse.Action) (gateway.Verdict, error) {
	return gateway.Verdict{Decision: gatehouse.Decision{Effect: gatehouse.EffectReview, Rule: "test", Reason: "review everything",
		TimeoutMS: 60000}}, nil
}

// An approval given through replica A releases the agent waiting on
// replica B; a denial through A ends B's wait with the denial.
func TestReplicaApprovalReleasesOther(t *testing.T) {
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{decider: reviewAll{}})
	ctx := context.Background()
	dir := t.TempDir()
	for _, verdict := range []string{gatehouse.VerdictApprove, gatehouse.VerdictDeny} {
		ch := runAsync(b, agent, gatehouse.RunRequest{Argv: []string{"echo", verdict}, Cwd: dir})
		var id string
		eventually(t, "the action waiting for review", func() bool {
			p, err := a.gw.Pending(ctx, admin)
			if err != nil || len(p) == 0 {
				return false
			}
			id = p[0].ID
			return true
		})
		if _, err := a.gw.Review(ctx, admin, id, verdict, gatehouse.ReviewRequest{Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		res := await(t, ch)
		if res.err != nil {
			t.Fatal(res.err)
		}
		want := gatehouse.StatusSucceeded
		if verdict == gatehouse.VerdictDeny {
			want = gatehouse.StatusDenied
		}
		if res.a.ID != id || res.a.Status != want || res.a.Replica != "r1" {
			t.Errorf("%s through r0: the agent on r1 got %s %s (replica %s), want %s", verdict, res.a.ID, res.a.Status, res.a.Replica, want)
		}
		if verdict == gatehouse.VerdictApprove && res.a.Stdout != "approve\n" {
			t.Errorf("stdout %q", res.a.Stdout)
		}
	}
	verifyOK(t, a.store)
}

// A halt issued on A refuses new actions on B, and kills B's running
// actions in its scope; each end is journaled by B, naming the halt. A
// lift on A lets B run again.
func TestReplicaHaltKillsOther(t *testing.T) {
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{})
	ctx := context.Background()
	dir := t.TempDir()
	ch := runAsync(b, agent, gatehouse.RunRequest{Argv: []string{"sleep", "60"}, Cwd: dir})
	eventually(t, "the action running on r1", func() bool { return len(running(t, a.store)) == 1 })
	h, err := a.gw.Halt(ctx, admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: agent.Name}, Reason: "stop it"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Replica != "r0" || len(h.Killed) != 0 {
		t.Errorf("halt %+v: want issued by r0, which killed nothing of its own", h)
	}
	res := await(t, ch)
	if res.a == nil || res.a.Status != gatehouse.StatusInterrupted || !strings.Contains(res.a.Error, h.ID) {
		t.Fatalf("the action on r1 ended %+v, %v; want interrupted by %s", res.a, res.err, h.ID)
	}
	// New actions on r1 are refused.
	act, err := b.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{})
	if err != nil || act.Status != gatehouse.StatusDenied || act.StartedAt != nil || !strings.Contains(act.Error, h.ID) {
		t.Fatalf("a new action on r1 under the halt: %+v, %v", act, err)
	}
	if hs, _ := b.gw.Halts(ctx, admin); len(hs) != 1 || hs[0].ID != h.ID {
		t.Errorf("r1's halts: %v", hs)
	}
	// Lifted on r0: r1 runs again.
	if _, err := a.gw.Resume(ctx, admin, gatehouse.Scope{Agent: agent.Name}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r1 running again", func() bool {
		act, err := b.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{})
		return err == nil && act.Status == gatehouse.StatusSucceeded
	})
	verifyOK(t, a.store)
}

// A halt on one replica racing new actions on both: once the halt is
// journaled, no action in its scope starts, on either replica — in the
// journal, no action.started of the agent follows the halt.issued — and
// every one that started before it was killed.
func TestReplicaHaltRacesNewActions(t *testing.T) {
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{})
	ctx := context.Background()
	dir := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 12 {
		wg.Go(func() {
			r := []*replica{a, b}[c%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"sleep", "60"}, Cwd: dir}, gateway.Sink{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	eventually(t, "actions running on both replicas", func() bool {
		on := map[string]int{}
		for _, x := range running(t, a.store) {
			on[x.Replica]++
		}
		return on["r0"] >= 2 && on["r1"] >= 2
	})
	h, err := a.gw.Halt(ctx, admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: agent.Name}, Reason: "race"})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		for _, r := range []*replica{a, b} {
			act, err := r.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{})
			if err != nil || act.Status != gatehouse.StatusDenied || act.StartedAt != nil {
				t.Fatalf("an action on %s after the halt: %+v, %v", r.id, act, err)
			}
		}
	}
	close(stop)
	wg.Wait()
	haltSeq := h.Seq[0]
	startedAfter, interrupted := 0, 0
	for _, e := range journal(t, a.store) {
		switch {
		case e.Type == gatehouse.EventActionStarted && e.Seq > haltSeq:
			startedAfter++
		case e.Type == gatehouse.EventActionFinished && e.Seq > haltSeq:
			var fin gatehouse.ActionFinished
			_ = json.Unmarshal(e.Data, &fin)
			if fin.Status == gatehouse.StatusInterrupted {
				if !strings.Contains(fin.Error, h.ID) {
					t.Errorf("an action interrupted after the halt: %q", fin.Error)
				}
				interrupted++
			}
		}
	}
	if startedAfter != 0 {
		t.Errorf("%d actions started after the halt was journaled", startedAfter)
	}
	if interrupted < 4 {
		t.Errorf("%d actions ended interrupted by the halt, want at least the 4 that ran", interrupted)
	}
	if n := len(running(t, a.store)); n != 0 {
		t.Errorf("%d actions still running", n)
	}
	verifyOK(t, a.store)
}

// A pause on A holds a request on B until it is lifted on A.
func TestReplicaPause(t *testing.T) {
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{})
	ctx := context.Background()
	if _, err := a.gw.Halt(ctx, admin, gatehouse.HaltRequest{Mode: gatehouse.ModePause, Scope: gatehouse.Scope{All: true}, Reason: "hold"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pause in force on r1", func() bool {
		st, err := b.gw.Halts(ctx, admin)
		return err == nil && len(st) == 1
	})
	ch := runAsync(b, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: t.TempDir()})
	eventually(t, "the request held on r1", func() bool {
		st, err := b.gw.Status(ctx, admin)
		return err == nil && st.Held == 1
	})
	if _, err := a.gw.Resume(ctx, admin, gatehouse.Scope{All: true}); err != nil {
		t.Fatal(err)
	}
	if res := await(t, ch); res.err != nil || res.a.Status != gatehouse.StatusSucceeded {
		t.Fatalf("the held request after the lift on r0: %+v, %v", res.a, res.err)
	}
}

// denyAll refuses every action.
type denyAll struct{}

func (denyAll) Decide(context.Context, *gatehouse.Action) (gateway.Verdict, error) {
	return gateway.Verdict{Decision: gatehouse.Decision{Effect: gatehouse.EffectDeny, Rule: "test", Reason: "no"}}, nil
}

// Tripwires count across replicas: denials on A and on B together cross
// the threshold, and the halt is in force on both — once, though both
// replicas counted the same denials.
func TestReplicaTripwire(t *testing.T) {
	cfg := tripwire.Config{Denials: &tripwire.Denials{Max: 3, Window: tripwire.Duration(time.Hour), Effect: tripwire.EffectHalt}}
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{decider: denyAll{}, tripwires: &cfg})
	ctx := context.Background()
	dir := t.TempDir()
	run := func(r *replica) {
		act, err := r.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"rm", "-rf", "/"}, Cwd: dir}, gateway.Sink{})
		if err != nil || act.Status != gatehouse.StatusDenied {
			t.Fatalf("run on %s: %+v %v", r.id, act, err)
		}
	}
	run(a)
	run(a)
	// Each replica has counted both before the next: then two on r1 are
	// the third and fourth denials for both.
	head, err := a.store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "r1 following r0", func() bool { return b.gw.Followed() >= head })
	run(b)
	run(b)
	for _, r := range []*replica{a, b} {
		eventually(t, "the tripwire's halt in force on "+r.id, func() bool {
			hs, err := r.gw.Halts(ctx, admin)
			return err == nil && len(hs) == 1 && hs[0].Tripwire == tripwire.NameDenials
		})
	}
	issued := 0
	for _, e := range journal(t, a.store) {
		if e.Type == gatehouse.EventHaltIssued {
			issued++
		}
	}
	if issued != 1 {
		t.Errorf("%d halts issued, want 1", issued)
	}
}

// A replica's start closes only its own actions: one another live
// replica runs goes on. When that replica dies, another takes over its
// actions once its claim has been free for the grace period.
func TestReplicaRecoverOwnOnly(t *testing.T) {
	u := pgtest.URL(t)
	o := replicaOpts{grace: time.Second}
	a, b := startReplica(t, u, "r0", o), startReplica(t, u, "r1", o)
	ctx := context.Background()
	admin, _ := a.gw.Authenticate(ctx, "gadm_test")
	_, tok, err := a.gw.AddAgent(ctx, admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := a.gw.Authenticate(ctx, tok)
	dir := t.TempDir()
	onA := runAsync(a, agent, gatehouse.RunRequest{Argv: []string{"sleep", "60"}, Cwd: dir})
	onB := runAsync(b, agent, gatehouse.RunRequest{Argv: []string{"sleep", "60"}, Cwd: dir})
	eventually(t, "both running", func() bool { return len(running(t, a.store)) == 2 })
	// r1 stops cleanly, interrupting its own action, and starts again.
	b.stop()
	if res := await(t, onB); res.a == nil || res.a.Status != gatehouse.StatusInterrupted {
		t.Fatalf("r1's action at its shutdown: %+v %v", res.a, res.err)
	}
	b = startReplica(t, u, "r1", o)
	// A decoy: an action left running by a replica rX that is gone. Once
	// r1 has taken it over, r1's sweeps have looked at r0's action too,
	// over more than the grace period: r0 is live, so it must stay.
	decoy, err := postgres.Open(ctx, u, postgres.WithReplica("rX"))
	if err != nil {
		t.Fatal(err)
	}
	decoyID := "01JDECOY0000000000000000000"
	var evs []gatehouse.Event
	for _, p := range []struct {
		typ  gatehouse.EventType
		data any
	}{
		{gatehouse.EventActionRequested, gatehouse.ActionRequested{Agent: "ci", Kind: gatehouse.KindShell, Argv: []string{"sleep", "1"}, Command: "sleep 1", Replica: "rX"}},
		{gatehouse.EventActionDecided, gatehouse.ActionDecided{Decision: gatehouse.DefaultDecision}},
		{gatehouse.EventActionStarted, gatehouse.ActionStarted{Replica: "rX"}},
	} {
		e, err := gatehouse.NewEvent(time.Now(), p.typ, decoyID, p.data)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if _, err := decoy.Append(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	decoy.Close()
	eventually(t, "r1 taking over the gone replica's action", func() bool {
		d, err := b.store.Action(ctx, decoyID)
		return err == nil && d.Status == gatehouse.StatusInterrupted
	})
	rs := running(t, b.store)
	if len(rs) != 1 || rs[0].Replica != "r0" {
		t.Fatalf("after r1's restart and sweeps: running %v; want r0's action still running", rs)
	}
	// r0 dies: its store goes (its claim with it) while its action runs.
	a.dead = true
	a.store.Close()
	res := await(t, onA)
	if res.a == nil || res.a.Status != gatehouse.StatusRunning && res.err == nil {
		t.Logf("r0's own view of its action: %+v %v", res.a, res.err)
	}
	eventually(t, "r1 taking over r0's action", func() bool { return len(running(t, b.store)) == 0 })
	act, err := b.store.Action(ctx, rs[0].ID)
	if err != nil || act.Status != gatehouse.StatusInterrupted || act.Error != "interrupted: replica r0 stopped while it ran" {
		t.Fatalf("r0's action after r0 died: %+v, %v", act, err)
	}
	verifyOK(t, b.store)
}

// A replica that loses the database refuses new actions with EUNAVAILABLE,
// stops its running ones (their end journaled once the database is back),
// and works again when the database returns. Nothing is journaled twice.
func TestReplicaLosesDatabase(t *testing.T) {
	u := pgtest.URL(t)
	r := startReplica(t, u, "r0", replicaOpts{grace: time.Second, write: 500 * time.Millisecond})
	ctx := context.Background()
	admin, _ := r.gw.Authenticate(ctx, "gadm_test")
	_, tok, err := r.gw.AddAgent(ctx, admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := r.gw.Authenticate(ctx, tok)
	dir := t.TempDir()
	ch := runAsync(r, agent, gatehouse.RunRequest{Argv: []string{"sleep", "60"}, Cwd: dir})
	eventually(t, "the action running", func() bool { return len(running(t, r.store)) == 1 })
	id := running(t, r.store)[0].ID

	pgtest.Cut(t, u)
	t.Cleanup(func() { pgtest.Restore(t, u) })
	marker := dir + "/ran"
	_, err = r.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"touch", marker}, Cwd: dir}, gateway.Sink{})
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
		t.Fatalf("a run without the database: %v, want EUNAVAILABLE", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the command ran without the journal")
	}
	// The running action is stopped: the replica cannot hear a halt.
	res := await(t, ch)
	if gatehouse.ErrorCode(res.err) != gatehouse.EUNAVAILABLE {
		t.Errorf("the running action's end without the database: %+v, %v", res.a, res.err)
	}

	pgtest.Restore(t, u)
	eventually(t, "runs working again", func() bool {
		act, err := r.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{})
		return err == nil && act.Status == gatehouse.StatusSucceeded
	})
	eventually(t, "the held-back end journaled", func() bool {
		act, err := r.store.Action(ctx, id)
		return err == nil && act.Status.Final()
	})
	act, _ := r.store.Action(ctx, id)
	if act.Status != gatehouse.StatusInterrupted || !strings.Contains(act.Error, "lost its connection to the shared journal") {
		t.Errorf("the action stopped for the loss: %s %q", act.Status, act.Error)
	}
	ends := 0
	for _, e := range journal(t, r.store) {
		if e.Subject == id && e.Type == gatehouse.EventActionFinished {
			ends++
		}
	}
	if ends != 1 {
		t.Errorf("the action has %d ends in the journal", ends)
	}
	verifyOK(t, r.store)
}

// An external action started through one replica is completed through
// another (a load balancer sends the hook's calls anywhere).
func TestReplicaExternalComplete(t *testing.T) {
	a, b, _, agent, _ := twoReplicas(t, replicaOpts{})
	ctx := context.Background()
	act, err := b.gw.Request(ctx, agent, gatehouse.ExternalRequest{Kind: gatehouse.KindFileWrite, Tool: "Write", Command: "Write /tmp/x",
		Client: map[string]string{"tool_use_id": "toolu_1"}}, gateway.Sink{})
	if err != nil || act.Status != gatehouse.StatusRunning {
		t.Fatalf("Request: %+v, %v", act, err)
	}
	done, err := a.gw.Complete(ctx, agent, gatehouse.ExternalOutcome{ToolUseID: "toolu_1", Response: "ok"})
	if err != nil || done.ID != act.ID || done.Status != gatehouse.StatusSucceeded {
		t.Fatalf("Complete through r0: %+v, %v", done, err)
	}
}

// Short actions started on B as fast as they go while A halts: B learns
// of the halt a moment after it is journaled, but the fence on each start
// closes that moment — no action.started of the agent follows the
// halt.issued in the journal.
func TestReplicaHaltFencesStarts(t *testing.T) {
	a, b, _, agent, admin := twoReplicas(t, replicaOpts{})
	ctx := context.Background()
	dir := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	started := make(chan struct{}, 1000)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				act, err := b.gw.Run(ctx, agent, gatehouse.RunRequest{Argv: []string{"true"}, Cwd: dir}, gateway.Sink{})
				if err != nil {
					t.Error(err)
					return
				}
				if act.StartedAt != nil {
					select {
					case started <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	for range 50 {
		<-started
	}
	h, err := a.gw.Halt(ctx, admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: agent.Name}, Reason: "fence"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the halt in force on r1", func() bool {
		hs, _ := b.gw.Halts(ctx, admin)
		return len(hs) == 1
	})
	close(stop)
	wg.Wait()
	for _, e := range journal(t, a.store) {
		if e.Type == gatehouse.EventActionStarted && e.Seq > h.Seq[0] {
			t.Errorf("action %s started at %d, after the halt at %d", e.Subject, e.Seq, h.Seq[0])
		}
	}
	verifyOK(t, a.store)
}

// A halt with an expiry: every replica's timer fires at its end, and the
// fence on lifts makes one of them lift it, once. A replica starting
// later reads the halts back from the journal.
func TestReplicaHaltExpiresOnce(t *testing.T) {
	a, b, u, agent, admin := twoReplicas(t, replicaOpts{})
	ctx := context.Background()
	for range 3 {
		h, err := a.gw.Halt(ctx, admin, gatehouse.HaltRequest{Scope: gatehouse.Scope{Agent: agent.Name}, Reason: "brief", For: "200ms"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*replica{a, b} {
			eventually(t, "the halt lifted on "+r.id, func() bool {
				hs, err := r.gw.Halts(ctx, admin)
				return err == nil && len(hs) == 0 && r.gw.Followed() > h.Seq[0]
			})
		}
	}
	lifted := map[string]int{}
	for _, e := range journal(t, a.store) {
		if e.Type == gatehouse.EventHaltLifted {
			lifted[e.Subject]++
		}
	}
	if len(lifted) != 3 {
		t.Errorf("lifts %v, want 3 halts lifted", lifted)
	}
	for id, n := range lifted {
		if n != 1 {
			t.Errorf("halt %s lifted %d times", id, n)
		}
	}
	c := startReplica(t, u, "r2", replicaOpts{})
	if hs, err := c.gw.Halts(ctx, admin); err != nil || len(hs) != 0 {
		t.Errorf("a new replica's halts: %v, %v", hs, err)
	}
}
