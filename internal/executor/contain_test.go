package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse/internal/executor"
)

// goneWithin is how long a test waits for an escaped process to be gone
// after Run has returned. Run waits for the processes it kills, so they
// should be gone at once; this only keeps a broken executor from hanging
// the test.
const goneWithin = 10 * time.Second

// A layer is one way of holding an action's processes, forced by Config.
type layer struct {
	name string // as Result.Containment reports it
	cfg  func() executor.Config
}

// layers returns the containments that tests must pass under: cgroup
// (skipped where the system offers none) and environ (forced).
func layers(t *testing.T) []layer {
	t.Helper()
	return []layer{
		{executor.ContainCgroup, cgroupConfig},
		{executor.ContainEnviron, func() executor.Config {
			c := testConfig()
			c.DisableCgroup = true
			return c
		}},
	}
}

// cgroupConfig is testConfig with cgroups, where usable, whatever
// GATEHOUSE_TEST_DISABLE_CGROUP says.
func cgroupConfig() executor.Config {
	c := testConfig()
	c.DisableCgroup = false
	return c
}

// forEachLayer runs f as a parallel subtest per layer, with an Executor
// whose containment is that layer.
func forEachLayer(t *testing.T, f func(t *testing.T, l layer, e *executor.Executor)) {
	t.Helper()
	for _, l := range layers(t) {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			e := executor.New(l.cfg())
			if got := e.Containment(); got != l.name {
				if l.name == executor.ContainCgroup {
					t.Skipf("no usable cgroup v2 here (containment %s)", got)
				}
				t.Fatalf("Containment %q, want %q", got, l.name)
			}
			f(t, l, e)
		})
	}
}

// escapee writes a script that records its pid (in the file named by its
// first argument, written atomically once everything else is there) and
// its /proc stat line (in that name plus ".stat"), then becomes `sleep
// 300`, ignoring SIGTERM if its second argument is "ignore-term". It is
// the process that the tests' actions try to hide.
func escapee(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "escapee")
	writeFile(tb, path, `#!/bin/sh
PATH=/usr/bin:/bin
[ "$2" = ignore-term ] && trap "" TERM
cat /proc/$$/stat >"$1.stat"
echo $$ >"$1.tmp"
mv "$1.tmp" "$1"
exec sleep 300
`, 0o755)
	return path
}

// waitFor is shell that waits until the escapee has written pidFile.
func waitFor(pidFile string) string {
	return "while [ ! -s " + pidFile + " ]; do sleep 0.01; done"
}

// proc is what an escapee recorded about itself.
type proc struct {
	pid, pgrp, session int
	start              string // start time, to tell the process from a later one given its pid
}

// readEscapee returns what the escapee of pidFile recorded, and cleans it
// up at the end of the test whatever happens. ok is false if the escapee
// never got that far.
func readEscapee(t *testing.T, pidFile string) (p proc, ok bool) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return proc{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	p.pid = pidFromOutput(t, b)
	stat, err := os.ReadFile(pidFile + ".stat")
	if err != nil {
		t.Fatal(err)
	}
	f := statFields(stat)
	if len(f) < 20 {
		t.Fatalf("stat %q", stat)
	}
	// After "pid (comm)": state ppid pgrp session ... starttime (field 22).
	p.pgrp, _ = strconv.Atoi(f[2])
	p.session, _ = strconv.Atoi(f[3])
	p.start = f[19]
	t.Cleanup(func() {
		if running(p) {
			unix.Kill(p.pid, syscall.SIGKILL)
		}
	})
	return p, true
}

// statFields returns the fields of a /proc/PID/stat line after the
// command name (which may hold spaces and parentheses).
func statFields(stat []byte) []string {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

// running reports whether the process p is still running: not gone, not a
// zombie, and its pid not given to another process since.
func running(p proc) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
	if err != nil {
		return false
	}
	f := statFields(stat)
	return len(f) >= 20 && f[19] == p.start && f[0] != "Z" && f[0] != "X"
}

func waitGoneProc(t *testing.T, p proc) {
	t.Helper()
	deadline := time.Now().Add(goneWithin)
	for running(p) {
		if time.Now().After(deadline) {
			t.Fatalf("escaped process %d still running %v after Run returned", p.pid, goneWithin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEscapesCaught checks that processes that leave the action's process
// group, or whose parent is gone, do not outlive the action, under each
// layer. They hold stdout, and the drain timeout is long: Run returns
// because they are gone, not because it stopped reading.
func TestEscapesCaught(t *testing.T) {
	t.Parallel()
	esc := escapee(t)
	tests := []struct {
		name      string
		script    func(pidFile string) string
		leftGroup bool // the escapee is in a session of its own
	}{
		{"setsid", func(p string) string { return "setsid " + esc + " " + p + " &" }, true},
		// Fork, fork, and the middle one exits: the grandchild is an
		// orphan, but still in the group.
		{"double fork", func(p string) string { return "sh -c '(" + esc + " " + p + " &) &'" }, false},
		// The daemon's way: fork, setsid, fork, and the middle exits.
		{"daemonise", func(p string) string {
			return "sh -c 'setsid sh -c \"" + esc + " " + p + " &\" &'"
		}, true},
		{"nohup", func(p string) string { return "nohup " + esc + " " + p + " >/dev/null 2>&1 &" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachLayer(t, func(t *testing.T, l layer, _ *executor.Executor) {
				cfg := l.cfg()
				cfg.DrainTimeout = safety
				e := executor.New(cfg)
				pidFile := filepath.Join(t.TempDir(), "pid")
				r := mustRun(t, e, executor.Spec{Argv: sh(tt.script(pidFile) + "\n" + waitFor(pidFile))})
				if r.ExitCode != 0 || r.Err != nil {
					t.Fatalf("exit %d, %v", r.ExitCode, r.Err)
				}
				if r.Containment != l.name {
					t.Errorf("Result.Containment %q, want %q", r.Containment, l.name)
				}
				p, ok := readEscapee(t, pidFile)
				if !ok {
					t.Fatal("the escapee did not start")
				}
				if tt.leftGroup && p.session == mustGetsid(t) {
					t.Fatalf("escapee %d did not leave the session (the test is wrong)", p.pid)
				}
				waitGoneProc(t, p)
			})
		})
	}
}

// TestEscapeeIgnoringTERM checks that an escaped process that ignores
// SIGTERM is SIGKILLed after the grace, with the group.
func TestEscapeeIgnoringTERM(t *testing.T) {
	t.Parallel()
	esc := escapee(t)
	forEachLayer(t, func(t *testing.T, l layer, e *executor.Executor) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		sink := &readySink{ready: cancel}
		script := `trap "" TERM; setsid ` + esc + " " + pidFile + " ignore-term &\n" + waitFor(pidFile) + "\necho ready; wait"
		r := run(t, e, ctx, mustPrepare(t, e, executor.Spec{Argv: sh(script), Stdout: sink}))
		if !r.Interrupted || r.Signal != "SIGKILL" {
			t.Errorf("Interrupted %v signal %q (%v), want an interrupt ended by SIGKILL", r.Interrupted, r.Signal, r.Err)
		}
		p, ok := readEscapee(t, pidFile)
		if !ok {
			t.Fatal("the escapee did not start")
		}
		waitGoneProc(t, p)
	})
}

// TestHaltKillsEscapees checks that cancelling Run's context, as the
// gateway does for an operator's halt, and a timeout, kill what escaped
// the group too.
func TestHaltKillsEscapees(t *testing.T) {
	t.Parallel()
	esc := escapee(t)
	for _, how := range []string{"cancel", "timeout"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			forEachLayer(t, func(t *testing.T, l layer, _ *executor.Executor) {
				cfg := l.cfg()
				cfg.KillGrace = safety // the escapee must go on SIGTERM, or at the leader's exit
				cfg.DrainTimeout = safety
				e := executor.New(cfg)
				pidFile := filepath.Join(t.TempDir(), "pid")
				ctx, cancel := context.WithTimeout(context.Background(), safety)
				defer cancel()
				sink := &readySink{ready: cancel}
				spec := executor.Spec{
					Argv:   sh("setsid " + esc + " " + pidFile + " &\n" + waitFor(pidFile) + "\necho ready; wait"),
					Stdout: sink,
				}
				if how == "timeout" {
					sink.ready = func() {}
					spec.Timeout = 500 * time.Millisecond
				}
				r := run(t, e, ctx, mustPrepare(t, e, spec))
				if (how == "cancel" && !r.Interrupted) || (how == "timeout" && !r.TimedOut) {
					t.Errorf("Interrupted %v TimedOut %v (%v)", r.Interrupted, r.TimedOut, r.Err)
				}
				p, ok := readEscapee(t, pidFile)
				if !ok {
					// The timeout came first: nothing escaped to check on.
					t.Skip("the timeout came before the escape")
				}
				waitGoneProc(t, p)
			})
		})
	}
}

// TestClearedEnv checks a process that escapes with an empty environment:
// caught by its cgroup, not by the environ marker, which it no longer
// carries (the package doc says so). Run returns all the same, after the
// drain timeout, although that process holds stdout.
func TestClearedEnv(t *testing.T) {
	t.Parallel()
	esc := escapee(t)
	forEachLayer(t, func(t *testing.T, l layer, _ *executor.Executor) {
		cfg := l.cfg()
		cfg.DrainTimeout = 200 * time.Millisecond
		e := executor.New(cfg)
		pidFile := filepath.Join(t.TempDir(), "pid")
		script := "env -i /usr/bin/setsid " + esc + " " + pidFile + " &\n" + waitFor(pidFile)
		r := mustRun(t, e, executor.Spec{Argv: sh(script)})
		if r.ExitCode != 0 || r.Err != nil {
			t.Fatalf("exit %d, %v", r.ExitCode, r.Err)
		}
		p, ok := readEscapee(t, pidFile)
		if !ok {
			t.Fatal("the escapee did not start")
		}
		switch l.name {
		case executor.ContainCgroup:
			waitGoneProc(t, p)
		case executor.ContainEnviron:
			if !running(p) {
				t.Fatalf("escapee %d with an empty environment is gone: the environ layer now catches it; update the package doc", p.pid)
			}
			env, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(env, []byte("GATEHOUSE_EXEC_TOKEN")) {
				t.Errorf("the escapee's environment holds the marker: %q", env)
			}
			unix.Kill(p.pid, syscall.SIGKILL)
		}
	})
}

// TestMarker checks that the environ layer adds its marker, a different
// one per action, and that the cgroup layer leaves the environment alone.
func TestMarker(t *testing.T) {
	t.Parallel()
	forEachLayer(t, func(t *testing.T, l layer, e *executor.Executor) {
		var toks []string
		for range 2 {
			r := mustRun(t, e, executor.Spec{Argv: []string{"/usr/bin/env"}, Env: []string{stdPath, "GATEHOUSE_EXEC_TOKEN=caller"}})
			got := strings.Fields(string(r.Stdout.Head))
			var tok []string
			for _, kv := range got {
				if v, ok := strings.CutPrefix(kv, "GATEHOUSE_EXEC_TOKEN="); ok {
					tok = append(tok, v)
				}
			}
			switch {
			case l.name == executor.ContainCgroup && (len(tok) != 1 || tok[0] != "caller"):
				t.Errorf("environment %q, want Spec.Env unchanged", got)
			case l.name == executor.ContainEnviron && (len(tok) != 1 || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(tok[0])):
				t.Errorf("environment %q, want one marker of 32 hex digits, replacing the caller's", got)
			}
			toks = append(toks, tok...)
		}
		if l.name == executor.ContainEnviron && len(toks) == 2 && toks[0] == toks[1] {
			t.Errorf("two actions have the same marker %s", toks[0])
		}
	})
}

// ownCgroupDir is the test process's cgroup v2 directory, found the way
// an administrator would: the 0:: line of /proc/self/cgroup under the
// cgroup2 mount. It skips the test if there is none that it can write.
func ownCgroupDir(t *testing.T) string {
	t.Helper()
	if executor.New(executor.DefaultConfig()).Containment() != executor.ContainCgroup {
		t.Skip("no usable cgroup v2 here")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var own string
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own = p
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		left, right, _ := strings.Cut(line, " - ")
		lf := strings.Fields(left)
		if strings.HasPrefix(right, "cgroup2 ") && len(lf) >= 5 && lf[3] == "/" {
			return filepath.Join(lf[4], own)
		}
	}
	t.Skip("no cgroup2 mount of the root of the hierarchy")
	return ""
}

// testCgroup makes a cgroup for the test under the test process's own,
// removed at the end.
func testCgroup(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(ownCgroupDir(t), fmt.Sprintf("gh-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroupTree(t, dir) })
	return dir
}

func removeCgroupTree(t *testing.T, dir string) {
	subs, _ := os.ReadDir(dir)
	for _, s := range subs {
		if s.IsDir() {
			removeCgroupTree(t, filepath.Join(dir, s.Name()))
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		t.Errorf("rmdir %s: %v", dir, err)
	}
}

// TestCgroupRemoved checks that an action's cgroup is gone when Run
// returns, however the action ended, also with many at once.
func TestCgroupRemoved(t *testing.T) {
	t.Parallel()
	parent := testCgroup(t)
	cfg := cgroupConfig()
	cfg.CgroupParent = parent
	e := executor.New(cfg)
	if e.Containment() != executor.ContainCgroup {
		t.Fatalf("Containment %q under %s", e.Containment(), parent)
	}
	esc := escapee(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			pidFile := filepath.Join(t.TempDir(), "pid")
			spec := executor.Spec{Argv: sh("setsid " + esc + " " + pidFile + " &\n" + waitFor(pidFile))}
			switch i % 3 {
			case 1:
				spec.Argv = sh("exit 3")
			case 2:
				spec.Argv, spec.Timeout = []string{"sleep", "300"}, 50*time.Millisecond
			}
			r := mustRun(t, e, spec)
			if r.Containment != executor.ContainCgroup {
				t.Errorf("Result.Containment %q", r.Containment)
			}
			if p, ok := readEscapee(t, pidFile); ok {
				waitGoneProc(t, p)
			}
		})
	}
	wg.Wait()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if ent.IsDir() {
			t.Errorf("cgroup %s left after its action", ent.Name())
		}
	}
}

// recorder is a slog handler that keeps the records.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recorder) WithGroup(string) slog.Handler      { return h }

// TestCgroupFallback checks that where cgroups cannot be used the
// executor says why once, at Info, and holds actions by the environ
// marker instead: a parent that is no cgroup, and a threaded one (whose
// children can hold no process, the kernel's rule for thread
// granularity).
func TestCgroupFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		parent func(t *testing.T) string
	}{
		{"not a cgroup", func(t *testing.T) string { return filepath.Join(t.TempDir(), "cg") }},
		{"threaded", func(t *testing.T) string {
			dir := testCgroup(t)
			if err := os.WriteFile(filepath.Join(dir, "cgroup.type"), []byte("threaded"), 0); err != nil {
				t.Skipf("cannot make a threaded cgroup: %v", err)
			}
			return dir
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			cfg := cgroupConfig()
			cfg.CgroupParent = tt.parent(t)
			cfg.Logger = slog.New(rec)
			e := executor.New(cfg)
			esc := escapee(t)
			for range 2 {
				pidFile := filepath.Join(t.TempDir(), "pid")
				r := mustRun(t, e, executor.Spec{Argv: sh("setsid " + esc + " " + pidFile + " &\n" + waitFor(pidFile))})
				if r.Containment != executor.ContainEnviron || r.ExitCode != 0 {
					t.Errorf("Containment %q exit %d (%v), want environ", r.Containment, r.ExitCode, r.Err)
				}
				if p, ok := readEscapee(t, pidFile); ok {
					waitGoneProc(t, p)
				}
			}
			if e.Containment() != executor.ContainEnviron {
				t.Errorf("Containment() %q", e.Containment())
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.recs) != 1 || rec.recs[0].Level != slog.LevelInfo {
				t.Fatalf("logged %d records, want one at Info: %v", len(rec.recs), rec.recs)
			}
			var reason string
			rec.recs[0].Attrs(func(a slog.Attr) bool {
				if a.Key == "reason" {
					reason = a.Value.String()
				}
				return true
			})
			if reason == "" {
				t.Errorf("no reason in %v", rec.recs[0])
			}
			t.Logf("logged: %s reason=%s", rec.recs[0].Message, reason)
		})
	}
}

// TestOwnCgroupWithProcesses checks the default placement when the
// daemon's own cgroup is not the root and holds processes (the daemon):
// children of it may hold processes too, as long as it enables no
// controller for them. The daemon is this test binary run again, in a
// cgroup of its own.
func TestOwnCgroupWithProcesses(t *testing.T) {
	if os.Getenv("GATEHOUSE_EXECUTOR_HELPER") == "own-cgroup" {
		helperOwnCgroup()
		return
	}
	t.Parallel()
	dir := testCgroup(t)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOwnCgroupWithProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GATEHOUSE_EXECUTOR_HELPER=own-cgroup", "GATEHOUSE_EXECUTOR_PIDFILE="+pidFile,
		"GATEHOUSE_EXECUTOR_ESCAPEE="+escapee(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	out, err := cmd.CombinedOutput()
	if p, ok := readEscapee(t, pidFile); ok {
		waitGoneProc(t, p)
	}
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("containment cgroup in "+strings.TrimPrefix(dir, ownCgroupDir(t)))) {
		t.Errorf("helper said:\n%s", out)
	}
	// Its gatehouse-PID is left, empty, for the next daemon to remove.
	subs, _ := os.ReadDir(dir)
	for _, s := range subs {
		if s.IsDir() {
			if left, _ := os.ReadDir(filepath.Join(dir, s.Name())); hasDir(left) {
				t.Errorf("action cgroups left under %s", s.Name())
			}
		}
	}
}

func mustGetsid(t *testing.T) int {
	t.Helper()
	sid, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func hasDir(ents []os.DirEntry) bool {
	for _, e := range ents {
		if e.IsDir() {
			return true
		}
	}
	return false
}

func helperOwnCgroup() {
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		os.Exit(1)
	}
	own, _ := os.ReadFile("/proc/self/cgroup")
	var self string
	for _, line := range strings.Split(string(own), "\n") {
		if v, ok := strings.CutPrefix(line, "0::"); ok {
			self = v
		}
	}
	e := executor.New(executor.Config{KillGrace: 200 * time.Millisecond, DrainTimeout: safety})
	if c := e.Containment(); c != executor.ContainCgroup {
		fail("containment %s, own %s", c, own)
	}
	pidFile := os.Getenv("GATEHOUSE_EXECUTOR_PIDFILE")
	p, err := e.Prepare(executor.Spec{
		Argv: sh("cat /proc/self/cgroup; setsid " + os.Getenv("GATEHOUSE_EXECUTOR_ESCAPEE") + " " + pidFile + " &\n" + waitFor(pidFile)),
		Env:  []string{stdPath},
	})
	if err != nil {
		fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	r := e.Run(ctx, p)
	if r.ExitCode != 0 || r.Containment != executor.ContainCgroup {
		fail("exit %d containment %s: %v", r.ExitCode, r.Containment, r.Err)
	}
	// The action's own view: 0::/<test cgroup>/gatehouse-PID/a-N.
	var cg string
	for _, line := range strings.Split(string(r.Stdout.Head), "\n") {
		if v, ok := strings.CutPrefix(line, "0::"); ok {
			cg = v
		}
	}
	if !strings.HasPrefix(cg, self+"/gatehouse-"+strconv.Itoa(os.Getpid())+"/a-") {
		fail("action in cgroup %q, daemon in %q", cg, self)
	}
	fmt.Printf("containment cgroup in %s\n", self)
	os.Exit(0)
}

// TestStaleCgroupRemoved checks that an empty gatehouse-PID cgroup left by
// a daemon that is gone is removed when an Executor probes.
func TestStaleCgroupRemoved(t *testing.T) {
	own := ownCgroupDir(t)
	// A pid that is surely gone: a process that has been reaped.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(own, "gatehouse-"+strconv.Itoa(cmd.Process.Pid))
	if err := os.MkdirAll(filepath.Join(stale, "a-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroupTree(t, stale) })
	e := executor.New(cgroupConfig())
	e.Containment()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale %s still there (stat: %v)", stale, err)
	}
}

// TestCgroupParentRemoved checks that a parent cgroup removed between
// actions is made again, rather than the actions losing their cgroups.
func TestCgroupParentRemoved(t *testing.T) {
	t.Parallel()
	parent := filepath.Join(testCgroup(t), "parent")
	cfg := cgroupConfig()
	cfg.CgroupParent = parent
	e := executor.New(cfg)
	for i := range 2 {
		r := mustRun(t, e, executor.Spec{Argv: []string{"true"}})
		if r.Containment != executor.ContainCgroup || r.ExitCode != 0 {
			t.Errorf("run %d: containment %q exit %d, %v", i, r.Containment, r.ExitCode, r.Err)
		}
		if err := unix.Rmdir(parent); err != nil {
			t.Fatalf("rmdir %s: %v", parent, err)
		}
	}
}
