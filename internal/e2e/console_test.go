package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumBin finds Debian's Chromium: $GATEHOUSE_CHROMIUM, else chromium
// on PATH. .ci/run installs it and names it; elsewhere the tests skip
// without it.
func chromiumBin(t *testing.T) string {
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p == "" {
		if p, err := exec.LookPath("chromium"); err == nil {
			return p
		}
	}
	return installed(t, "GATEHOUSE_CHROMIUM", "Chromium (Debian's chromium package)")
}

// artifacts is where a test's screenshots go: $GATEHOUSE_ARTIFACTS/NAME,
// kept after the run (.ci/run sets it), else a temporary directory.
func artifacts(t *testing.T) string {
	base := os.Getenv("GATEHOUSE_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium tab on the console.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string // screenshots
	n    int
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	bin := chromiumBin(t)
	// As root (CI) Chromium needs --no-sandbox. The network flags keep it
	// from reaching for Google's services, which this machine cannot.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, dir: artifacts(t), base: base}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium (%s): %v", bin, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.shot("failed")
		}
		t.Logf("screenshots in %s", b.dir)
	})
	return b
}

// step runs browser actions with a deadline.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript predicate holds in the page. It asks
// again and again rather than with one Poll, which would not survive the
// navigation a form's post makes.
func (b *browser) waitFor(what, predicate string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+predicate+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("waiting for %s: not within 30s (last error: %v)", what, last)
}

// shot saves a full-page screenshot as NN-name.png.
func (b *browser) shot(name string) {
	// A page that is still laying itself out (just navigated to) can
	// have no size yet: try again shortly.
	var buf []byte
	var err error
	for try := 0; try < 10; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		buf, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name)), buf, 0o644); err != nil {
		b.t.Error(err)
	}
}

// agentRun starts `gatehouse run` as the agent claude, as an agent would.
func (e *env) agentRun(args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"run"}, args...)...)
	cmd.Dir = e.project
	cmd.Env = append(os.Environ(), "GATEHOUSE_URL="+e.url, "GATEHOUSE_TOKEN="+e.token, "GATEHOUSE_STATE=")
	cmd.Stdout, cmd.Stderr = &strings.Builder{}, &strings.Builder{}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// waitExit waits for a started command and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not end", cmd.Args)
	}
	return -1
}

type logged struct {
	ID, Session, Command, Error string
	Status                      string
	Reviews                     []struct{ By, Verdict string }
}

// actions reads the journal with `gatehouse log` as the admin.
func (e *env) actions(session string) []logged {
	e.t.Helper()
	var out []logged
	for _, line := range strings.Split(strings.TrimSpace(e.gh("log", "--session", session, "-o", "jsonl")), "\n") {
		if line == "" {
			continue
		}
		var a logged
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			e.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

// waitStatus polls the journal until the session's only action has the
// status.
func (e *env) waitStatus(session, status string) logged {
	e.t.Helper()
	for i := 0; ; i++ {
		if as := e.actions(session); len(as) == 1 && as[0].Status == status {
			return as[0]
		} else if i > 600 {
			e.t.Fatalf("session %s: %+v, want one action %s", session, as, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const consolePolicy = `version: 1
default: allow
approval_timeout: 5m
rules:
  - id: ask-first
    effect: review
    reason: touching files needs a human
    command: {prefix: "touch"}
`

// TestConsoleBrowser drives the console in headless Chromium as a
// responder would: sign in, watch an action appear live, approve a
// waiting action and see its agent finish, halt a session and see its
// running action killed, resume, read an action's trail, sign out; an
// agent's token cannot sign in. Each step leaves a screenshot.
func TestConsoleBrowser(t *testing.T) {
	e := startDaemon(t, consolePolicy, "--kill-grace", "1s")
	b := newBrowser(t, e.url)

	// Sign in: the console sends an unknown visitor to the sign-in page,
	// and back to where it was going after.
	b.do("open the console", chromedp.Navigate(e.url+"/approvals"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.shot("sign-in")
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), e.reviewer), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	b.waitFor("the approvals page after signing in", `location.pathname === "/approvals" && document.querySelector(".who").textContent.includes("alice")`)
	if c := eval[string](b, "document.cookie"); c != "" {
		t.Errorf("a script can read cookies %q: the session cookie must be HttpOnly", c)
	}

	// Live: an action appears at the top of the activity page without a
	// reload while the page is open.
	b.do("activity", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS("#activity")))
	// Once the page has caught up after its stream opened, only the
	// stream's events can bring the row.
	b.waitFor("the live stream", `document.getElementById("live").classList.contains("on") && document.body.dataset.synced === "true"`)
	eval[chromedp.Void](b, "window.__notReloaded = true")
	run := e.agentRun("--session", "e2e-live", "--intent", "say hello", "--", "echo", "hello-live")
	if code := waitExit(t, run); code != 0 {
		t.Fatalf("gatehouse run echo: exit %d: %s", code, run.Stderr)
	}
	b.waitFor("the action's row, succeeded", `[...document.querySelectorAll("#activity tbody tr")].some(r =>
		r.textContent.includes("echo hello-live") && r.querySelector(".status").textContent === "succeeded")`)
	if !eval[bool](b, "window.__notReloaded === true") {
		t.Error("the page reloaded: the row did not arrive live")
	}
	b.shot("live-action")

	// Approve: the agent waits for review; the card shows the command,
	// analysis and intent; a click on Approve lets it run.
	target := filepath.Join(e.project, "approved-file")
	waiting := e.agentRun("--session", "e2e-review", "--intent", "mark the build done", "--", "touch", target)
	e.waitStatus("e2e-review", "pending")
	b.do("approvals", chromedp.Navigate(e.url+"/approvals"), chromedp.WaitVisible(chromedp.CSS("[data-pending-id]")))
	for _, want := range []string{"touch " + target, "touching files needs a human", "mark the build done", "claude", "echo hello-live"} {
		if !eval[bool](b, fmt.Sprintf(`document.querySelector("[data-pending-id]").textContent.includes(%q)`, want)) {
			t.Errorf("the approval card does not show %q", want)
		}
	}
	b.shot("approval-waiting")
	clicked := time.Now()
	b.do("approve", chromedp.Click(chromedp.CSS("[data-pending-id] button.approve")))
	if code := waitExit(t, waiting); code != 0 {
		t.Fatalf("the approved agent: exit %d: %s", code, waiting.Stderr)
	}
	t.Logf("the agent finished %v after the click on Approve", time.Since(clicked).Round(time.Millisecond))
	if _, err := os.Stat(target); err != nil {
		t.Errorf("the approved command did not run: %v", err)
	}
	b.waitFor("the confirmation", `document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Approved")`)
	b.shot("approved")
	if a := e.waitStatus("e2e-review", "succeeded"); len(a.Reviews) != 1 || a.Reviews[0].By != "alice" || a.Reviews[0].Verdict != "approve" {
		t.Errorf("journal: %+v, want alice's approval", a)
	}

	// Halt a session: its running action is killed, the banner shows the
	// halt on every page, and the timeline shows the action interrupted.
	sleeper := e.agentRun("--session", "e2e-halt", "--", "sleep", "300")
	e.waitStatus("e2e-halt", "running")
	b.do("session", chromedp.Navigate(e.url+"/session?id=e2e-halt"), chromedp.WaitVisible(chromedp.CSS("svg rect.run.s-running")))
	b.shot("session-running")
	b.do("halt the session", chromedp.SendKeys(chromedp.CSS("#halt-reason"), "runaway loop"),
		chromedp.Click(chromedp.CSS(`button[name="mode"][value="halt"]`)))
	b.waitFor("the banner", `document.querySelector(".banner.halt") && document.querySelector(".banner.halt").textContent.includes("runaway loop")`)
	b.waitFor("the action interrupted on the timeline", `document.querySelector("svg rect.run.s-interrupted") !== null`)
	if code := waitExit(t, sleeper); code == 0 {
		t.Errorf("the halted agent exited 0")
	}
	if a := e.waitStatus("e2e-halt", "interrupted"); !strings.Contains(a.Error, "runaway loop") {
		t.Errorf("journal: the killed action's error %q does not name the halt", a.Error)
	}
	b.shot("session-halted")
	b.do("activity", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(chromedp.CSS(".banner.halt")))
	b.shot("banner-everywhere")
	// The halt refuses the session's next action at once.
	refused := e.agentRun("--session", "e2e-halt", "--", "echo", "again")
	if code := waitExit(t, refused); code != 126 {
		t.Errorf("a new action in the halted session: exit %d, want 126 (refused)", code)
	}
	b.do("resume", chromedp.Click(chromedp.CSS(".banner.halt button")))
	b.waitFor("the banner gone", `document.querySelector(".banner") === null && document.querySelector(".flash").textContent.includes("Resumed")`)

	// The approved action's detail: its whole decision trail.
	var id string
	if as := e.actions("e2e-review"); len(as) == 1 {
		id = as[0].ID
	}
	b.do("action detail", chromedp.Navigate(e.url+"/actions/"+id), chromedp.WaitVisible(chromedp.CSS("ol.trail")))
	trail := eval[string](b, `document.querySelector("ol.trail").textContent`)
	for _, want := range []string{"requested", "decided", "ask-first", "reviewed", "alice approved", "started", "finished"} {
		if !strings.Contains(trail, want) {
			t.Errorf("the trail lacks %q:\n%s", want, trail)
		}
	}
	b.shot("action-detail")

	// Sign out; an agent's token cannot sign in.
	b.do("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do("agent signs in", chromedp.SendKeys(chromedp.CSS("#token"), e.token), chromedp.Submit(chromedp.CSS("#token")))
	b.waitFor("the refusal", `document.querySelector(".flash.error") && document.querySelector(".flash.error").textContent.includes("may not use the console")`)
	b.shot("agent-refused")
	b.do("back to the console", chromedp.Navigate(e.url+"/"))
	b.waitFor("the sign-in page", `location.pathname === "/login"`)
}
