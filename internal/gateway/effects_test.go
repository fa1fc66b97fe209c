package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cas"
	"github.com/gatehouse-dev/gatehouse/internal/executor"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/shell"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/sqlite"
)

// wsFixture is a gateway with a workspace recorder, deciding by a policy
// that allows everything (so actions are analysed by the real analyser),
// and an agent "ci" whose workspace is ws.
type wsFixture struct {
	*fixture
	ws string
	m  *snapshot.Manager
}

func newWSFixture(t testing.TB, maxFiles int) *wsFixture {
	t.Helper()
	return newWSFixtureWith(t, maxFiles, nil)
}

// newWSFixtureWith is newWSFixture with more gateway options (opt may set
// them; the store is given for those that need it).
func newWSFixtureWith(t testing.TB, maxFiles int, opt func(*gateway.Options, *sqlite.Store, string)) *wsFixture {
	t.Helper()
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"f": "old\n", "g": "g\n", "h": "h\n", "j": "#!/bin/sh\n"} {
		if err := os.WriteFile(filepath.Join(ws, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c, err := cas.Open(filepath.Join(dir, "cas"), cas.Options{Budget: 1 << 20, MaxFileSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := snapshot.Open(snapshot.Options{CAS: c, IndexDir: filepath.Join(dir, "snapshots"), Logger: log,
		Workspaces: []snapshot.Workspace{{Dir: ws, Agents: []string{"ci"}, MaxFiles: maxFiles}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	z := gateway.Analyzers{Shell: shell.Analyze, Argv: shell.AnalyzeArgv}
	p, err := policy.Parse([]byte("version: 1\ndefault: allow\n"), policy.Options{Analyze: z.Shell})
	if err != nil {
		t.Fatal(err)
	}
	exec := executor.New(executor.Config{KillGrace: 200 * time.Millisecond, OutputCap: 1024})
	opts := gateway.Options{AdminToken: "gadm_test", Logger: log, Decider: gateway.NewPolicyDecider(p, nil, z, nil), Workspaces: m}
	if opt != nil {
		opt(&opts, store, dir)
	}
	gw := gateway.New(store, exec, gateway.Config{BaseEnv: map[string]string{"PATH": os.Getenv("PATH")}}, opts)
	admin, _ := gw.Authenticate(context.Background(), "gadm_test")
	_, tok, err := gw.AddAgent(context.Background(), admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := gw.Authenticate(context.Background(), tok)
	return &wsFixture{fixture: &fixture{gw: gw, store: store, agent: agent, admin: admin, dir: dir}, ws: ws, m: m}
}

func effectsOf(a *gatehouse.Action) []string {
	if a.Effects == nil {
		return nil
	}
	var out []string
	for _, c := range a.Effects.Changes {
		s := string(c.Op) + " " + c.Path
		if c.From != "" {
			s += " from " + c.From
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func verifyWorkspaceOK(t *testing.T, f *wsFixture) {
	t.Helper()
	rep, err := f.gw.Verify(context.Background(), f.admin)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

const issueCommand = "echo x > f; rm g; mv h i; chmod +x j"

func TestRunRecordsEffects(t *testing.T) {
	f := newWSFixture(t, 0)
	ctx := context.Background()
	a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Shell: true, Command: issueCommand, Cwd: f.ws}, gateway.Sink{})
	if err != nil || a.Status != gatehouse.StatusSucceeded {
		t.Fatalf("run: %+v, %v", a, err)
	}
	want := "modified f,deleted g,renamed i from h,mode j"
	got := effectsOf(a)
	wantList := strings.Split(want, ",")
	sort.Strings(wantList)
	if !slices.Equal(got, wantList) {
		t.Errorf("effects = %q, want %q", got, wantList)
	}
	// The journal has them, and show/the API serve them.
	stored, err := f.store.Action(ctx, a.ID)
	if err != nil || !slices.Equal(effectsOf(stored), wantList) {
		t.Errorf("stored effects = %q, %v", effectsOf(stored), err)
	}
	verifyWorkspaceOK(t, f)

	// A read in the workspace is not recorded; a write outside is not.
	a, _ = f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"cat", "f"}, Cwd: f.ws}, gateway.Sink{})
	if a.Effects != nil {
		t.Errorf("a read was recorded: %+v", a.Effects)
	}
	a, _ = f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"touch", "elsewhere"}, Cwd: f.dir}, gateway.Sink{})
	if a.Effects != nil {
		t.Errorf("a write outside the workspace was recorded: %+v", a.Effects)
	}
	// A write outside that names a path inside is.
	a, _ = f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Argv: []string{"touch", filepath.Join(f.ws, "new")}, Cwd: f.dir}, gateway.Sink{})
	if got := effectsOf(a); !slices.Equal(got, []string{"created new"}) {
		t.Errorf("touch WS/new: effects %q", got)
	}
}

func TestSnapshotFailureRefusesTheAction(t *testing.T) {
	f := newWSFixture(t, 2) // four files: over max_files
	marker := filepath.Join(f.dir, "ran")
	a, err := f.gw.Run(context.Background(), f.agent, gatehouse.RunRequest{Argv: []string{"touch", marker}, Cwd: f.ws}, gateway.Sink{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != gatehouse.StatusFailed || !strings.Contains(a.Error, "not started: the workspace") || !strings.Contains(a.Error, "max_files") {
		t.Errorf("status %s, error %q", a.Status, a.Error)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran although its workspace could not be snapshotted")
	}
	verifyWorkspaceOK(t, f)
}

// The hooked path: a Claude Code Write tool call is an external action;
// the snapshot is taken when it is allowed (PreToolUse), the effects when
// its outcome is reported (PostToolUse). Its cwd is elsewhere: the
// analysis's target (the file) puts it in the workspace.
func TestExternalWriteRecordsEffects(t *testing.T) {
	f := newWSFixture(t, 0)
	ctx := context.Background()
	path := filepath.Join(f.ws, "notes.md")
	input, _ := json.Marshal(map[string]string{"file_path": path, "content": "hello\n"})
	a, err := f.gw.Request(ctx, f.agent, gatehouse.ExternalRequest{Kind: gatehouse.KindFileWrite, Tool: "Write",
		Command: "Write " + path, Input: input, Session: "s1", Cwd: f.dir, Client: map[string]string{"tool_use_id": "toolu_1"}}, gateway.Sink{})
	if err != nil || a.Status != gatehouse.StatusRunning {
		t.Fatalf("request: %+v, %v", a, err)
	}
	// Claude Code writes the file.
	if err := os.WriteFile(path, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err = f.gw.Complete(ctx, f.agent, gatehouse.ExternalOutcome{ToolUseID: "toolu_1", Response: `{"success":true}`})
	if err != nil || a.Status != gatehouse.StatusSucceeded {
		t.Fatalf("complete: %+v, %v", a, err)
	}
	if got := effectsOf(a); !slices.Equal(got, []string{"created notes.md"}) {
		t.Fatalf("effects = %q", got)
	}
	if c := a.Effects.Changes[0]; c.After.SHA256 != cas.Sum([]byte("hello\n")) || !c.After.Stored {
		t.Errorf("after = %+v", c.After)
	}
	d, err := f.gw.Diff(ctx, f.admin, a.ID)
	if err != nil || len(d.Files) != 1 || d.Files[0].Diff != "--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1,1 @@\n+hello\n" {
		t.Errorf("diff = %+v, %v", d, err)
	}
	verifyWorkspaceOK(t, f)
}

func TestRollbackThroughTheGateway(t *testing.T) {
	f := newWSFixture(t, 0)
	ctx := context.Background()
	a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Shell: true, Command: issueCommand, Cwd: f.ws, Session: "s1"}, gateway.Sink{})
	if err != nil || a.Effects == nil {
		t.Fatalf("run: %+v, %v", a, err)
	}
	if _, err := f.gw.Rollback(ctx, f.agent, gatehouse.RollbackRequest{Action: a.ID}); gatehouse.ErrorCode(err) != gatehouse.EFORBIDDEN {
		t.Errorf("an agent rolled back: %v", err)
	}
	for _, bad := range []gatehouse.RollbackRequest{{}, {Action: a.ID, Session: "s1"}, {Action: a.ID, Agent: "ci"}, {Since: "soon"}} {
		if _, err := f.gw.Rollback(ctx, f.admin, bad); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
			t.Errorf("Rollback(%+v) = %v, want EINVALID", bad, err)
		}
	}
	if _, err := f.gw.Rollback(ctx, f.admin, gatehouse.RollbackRequest{Action: "01NOSUCHACTION000000000000"}); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("unknown action: %v", err)
	}

	plan, err := f.gw.Rollback(ctx, f.admin, gatehouse.RollbackRequest{Session: "s1", DryRun: true})
	if err != nil || plan.Status != gatehouse.RollbackPlanned || len(plan.Plan.Files) != 5 || plan.ID != "" {
		t.Fatalf("dry run: %+v, %v", plan, err)
	}
	// A change since by someone else: refused, nothing touched.
	if err := os.WriteFile(filepath.Join(f.ws, "f"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := f.gw.Rollback(ctx, f.admin, gatehouse.RollbackRequest{Action: a.ID})
	if err != nil || res.Status != gatehouse.RollbackRefused || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "f: changed since") {
		t.Fatalf("rollback over a change: %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(f.ws, "g")); err == nil {
		t.Error("a refused rollback restored g")
	}
	res, err = f.gw.Rollback(ctx, f.admin, gatehouse.RollbackRequest{Action: a.ID, Force: true})
	if err != nil || res.Status != gatehouse.RollbackDone || res.Restored != 5 || res.ID == "" {
		t.Fatalf("forced rollback: %+v, %v", res, err)
	}
	for name, want := range map[string]string{"f": "old\n", "g": "g\n", "h": "h\n"} {
		if b, _ := os.ReadFile(filepath.Join(f.ws, name)); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(f.ws, "j")); fi == nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("j: %v", fi)
	}
	if _, err := os.Stat(filepath.Join(f.ws, "i")); err == nil {
		t.Error("i is still there")
	}
	got, _ := f.store.Action(ctx, a.ID)
	if got.RolledBack == nil || got.RolledBack.Rollback != res.ID || got.RolledBack.By != "admin" {
		t.Errorf("rolled back = %+v", got.RolledBack)
	}
	if _, err := f.gw.Rollback(ctx, f.admin, gatehouse.RollbackRequest{Action: a.ID}); gatehouse.ErrorCode(err) != gatehouse.ECONFLICT {
		t.Errorf("second rollback: %v, want ECONFLICT", err)
	}
	var types []gatehouse.EventType
	f.store.EventsOfType(ctx, []gatehouse.EventType{gatehouse.EventRollbackStarted, gatehouse.EventRollbackFinished}, func(e gatehouse.Event) error {
		types = append(types, e.Type)
		return nil
	})
	if !slices.Equal(types, []gatehouse.EventType{gatehouse.EventRollbackStarted, gatehouse.EventRollbackFinished}) {
		t.Errorf("rollback events: %v", types)
	}
	verifyWorkspaceOK(t, f)
}

func TestRecoverClosesAnInterruptedRollback(t *testing.T) {
	f := newWSFixture(t, 0)
	ctx := context.Background()
	ev, _ := gatehouse.NewEvent(time.Now(), gatehouse.EventRollbackStarted, "01ROLLBACK", gatehouse.RollbackStarted{By: "admin", Plan: &gatehouse.RollbackPlan{}})
	if _, err := f.store.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gw.Recover(ctx, gatehouse.DaemonStarted{}); err != nil {
		t.Fatal(err)
	}
	var fin []gatehouse.RollbackFinished
	f.store.EventsOfType(ctx, []gatehouse.EventType{gatehouse.EventRollbackFinished}, func(e gatehouse.Event) error {
		var p gatehouse.RollbackFinished
		json.Unmarshal(e.Data, &p)
		fin = append(fin, p)
		return nil
	})
	if len(fin) != 1 || fin[0].Status != gatehouse.RollbackInterrupted {
		t.Errorf("finished = %+v", fin)
	}
}

// BenchmarkRunInWorkspace is recording on the whole gateway path:
// gateway.Run of sh -c 'echo N > f' (policy, journal, exec) in the agent's
// workspace of 10,000 files, next to the same command in a directory that
// is no workspace, alternately. The added median is what the snapshots
// and effects cost an action.
//
//	go test -run XXX -bench RunInWorkspace -benchtime 300x ./internal/gateway
func BenchmarkRunInWorkspace(b *testing.B) {
	f := newWSFixture(b, 0)
	ctx := context.Background()
	for d := 0; d < 100; d++ {
		dir := filepath.Join(f.ws, fmt.Sprintf("pkg%02d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.go", i)), []byte(strings.Repeat("// a line\n", 20+i)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	other := filepath.Join(f.dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		b.Fatal(err)
	}
	sink := gateway.Sink{Stdout: io.Discard, Stderr: io.Discard}
	run := func(cwd string, i int) *gatehouse.Action {
		a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Shell: true, Command: fmt.Sprintf("echo %d > pkg%02d/f%03d.go", i, i%100, i%97), Cwd: cwd}, sink)
		if err != nil || a.Status != gatehouse.StatusSucceeded {
			b.Fatalf("run: %+v, %v", a, err)
		}
		return a
	}
	for d := 0; d < 100; d++ {
		os.MkdirAll(filepath.Join(other, fmt.Sprintf("pkg%02d", d)), 0o755)
	}
	run(f.ws, 0) // waits for the workspace's first walk
	time.Sleep(2100 * time.Millisecond)
	var plain, recorded []time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if a := run(other, i+1); a.Effects != nil {
			b.Fatal("recorded outside the workspace")
		}
		t1 := time.Now()
		if a := run(f.ws, i+1); a.Effects == nil || len(a.Effects.Changes) != 1 {
			b.Fatalf("effects: %+v", a.Effects)
		}
		t2 := time.Now()
		plain = append(plain, t1.Sub(t0))
		recorded = append(recorded, t2.Sub(t1))
	}
	p, r := msMedian(plain), msMedian(recorded)
	b.ReportMetric(p, "plain-median-ms")
	b.ReportMetric(r, "workspace-median-ms")
	b.ReportMetric(r-p, "added-median-ms")
	b.ReportMetric(0, "ns/op")
}

// A credential an action writes into a workspace file is in the content
// store (a rollback may need it), but never in a diff: diffs redact every
// secret the gateway holds.
func TestDiffRedactsSecrets(t *testing.T) {
	f := newWSFixtureWith(t, 0, func(o *gateway.Options, store *sqlite.Store, dir string) {
		keys, _, err := seal.LoadOrCreate(filepath.Join(dir, seal.KeyFileName))
		if err != nil {
			t.Fatal(err)
		}
		o.Credentials = gateway.Credentials{Store: store, Sealer: keys,
			Grants: []gatehouse.Grant{{Secret: "GITHUB_TOKEN", Env: "GH_TOKEN", Agents: []string{"ci"}, Systems: []string{"github"}}}}
	})
	ctx := context.Background()
	if _, err := f.gw.SetSecret(ctx, f.admin, "GITHUB_TOKEN", []byte(ghToken)); err != nil {
		t.Fatal(err)
	}
	a, err := f.gw.Run(ctx, f.agent, gatehouse.RunRequest{Shell: true, Command: `printf 'token=%s\n' "$GH_TOKEN" > f`, System: "github", Cwd: f.ws}, gateway.Sink{})
	if err != nil || a.Status != gatehouse.StatusSucceeded || len(a.Effects.Changes) != 1 {
		t.Fatalf("run: %+v, %v", a, err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.ws, "f")); string(b) != "token="+ghToken+"\n" {
		t.Fatalf("the action did not get its credential: f = %q", b)
	}
	d, err := f.gw.Diff(ctx, f.admin, a.ID)
	if err != nil || len(d.Files) != 1 {
		t.Fatalf("diff: %+v, %v", d, err)
	}
	if text := d.Files[0].Diff; strings.Contains(text, ghToken) || !strings.Contains(text, "+token=[REDACTED:GITHUB_TOKEN]") {
		t.Errorf("diff shows %q", text)
	}
}
