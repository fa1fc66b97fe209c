package snapshot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cas"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

var ctx = context.Background()

type fixture struct {
	t       testing.TB
	ws      string // the workspace
	state   string // CAS and indexes
	m       *snapshot.Manager
	store   *cas.Store
	noWatch bool // full walks only
}

type opt func(*snapshot.Options, *snapshot.Workspace)

func newFixture(t testing.TB, opts ...opt) *fixture {
	t.Helper()
	f := &fixture{t: t, ws: filepath.Join(t.TempDir(), "ws"), state: t.TempDir(), noWatch: fullWalks(t)}
	if err := os.Mkdir(f.ws, 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

// open starts the manager (again) over the fixture's directories.
func (f *fixture) open(opts ...opt) *fixture {
	f.t.Helper()
	o := snapshot.Options{IndexDir: filepath.Join(f.state, "snapshots"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w := snapshot.Workspace{Dir: f.ws, Agents: []string{"ag"}, NoWatch: f.noWatch}
	budget, maxFile := int64(1<<20), int64(1000)
	o.CAS = nil
	for _, fn := range opts {
		fn(&o, &w)
	}
	if o.CAS == nil {
		s, err := cas.Open(filepath.Join(f.state, "cas"), cas.Options{Budget: budget, MaxFileSize: maxFile})
		if err != nil {
			f.t.Fatal(err)
		}
		o.CAS = s
	}
	f.store = o.CAS
	o.Workspaces = []snapshot.Workspace{w}
	m, err := snapshot.Open(o)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { m.Close() })
	f.m = m
	return f
}

func (f *fixture) write(rel, content string, mode os.FileMode) {
	f.t.Helper()
	p := filepath.Join(f.ws, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		f.t.Fatal(err)
	}
}

func action(id string, cwd string) *gatehouse.Action {
	return &gatehouse.Action{ID: id, Agent: "ag", Cwd: cwd, Kind: gatehouse.KindShell,
		Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite}}
}

// record runs fn as action id would run: between Begin and End.
func (f *fixture) record(id string, fn func()) *gatehouse.Effects {
	f.t.Helper()
	r, err := f.m.Begin(ctx, action(id, f.ws))
	if err != nil {
		f.t.Fatal(err)
	}
	if r == nil {
		f.t.Fatal("Begin recorded nothing")
	}
	fn()
	return r.End(ctx)
}

func summary(e *gatehouse.Effects) []string {
	var out []string
	for _, c := range e.Changes {
		s := string(c.Op) + " " + c.Path
		if c.From != "" {
			s += " from " + c.From
		}
		out = append(out, s)
	}
	return out
}

// tree describes everything under dir: path → type, mode and content.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "symlink " + target
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %o", fi.Mode().Perm())
		default:
			b, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("file %o %q", fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky), b)
		}
		return nil
	})
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// modes runs a test twice: following inotify events between full walks
// (the default), and with full walks only (NoWatch).
func modes(t *testing.T, fn func(t *testing.T)) {
	t.Run("inotify", fn)
	t.Run("walk", fn)
}

// fullWalks tells a fixture which mode its test runs in.
func fullWalks(t testing.TB) bool {
	return strings.HasSuffix(t.Name(), "/walk") || strings.Contains(t.Name(), "/walk/")
}

// The scenario of the issue: sh -c 'echo x > f; rm g; mv h i; chmod +x j',
// and more: a new directory, a symlink, a file over the budget.
func TestEffects(t *testing.T) {
	modes(t, func(t *testing.T) {
		f := newFixture(t)
		f.write("f", "old f\n", 0o644)
		f.write("g", "g\n", 0o644)
		f.write("h", "h moves\n", 0o644)
		f.write("j", "#!/bin/sh\n", 0o644)
		f.write("keep/k", "untouched\n", 0o644)
		must(t, os.Symlink("f", filepath.Join(f.ws, "link")))
		f.open()

		fx := f.record("A1", func() {
			f.write("f", "x\n", 0o644)
			must(t, os.Remove(filepath.Join(f.ws, "g")))
			must(t, os.Rename(filepath.Join(f.ws, "h"), filepath.Join(f.ws, "i")))
			must(t, os.Chmod(filepath.Join(f.ws, "j"), 0o755))
			f.write("new/deep/n", "new\n", 0o600)
			must(t, os.Remove(filepath.Join(f.ws, "link")))
			must(t, os.Symlink("/outside/the/workspace", filepath.Join(f.ws, "link")))
			f.write("big", strings.Repeat("b", 5000), 0o644) // over the 1000-byte file limit
		})
		want := []string{"created big", "modified f", "deleted g", "renamed i from h", "mode j", "modified link",
			"created new", "created new/deep", "created new/deep/n"}
		sort.Strings(want)
		got := summary(fx)
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("effects = %q\nwant      %q", got, want)
		}
		if !fx.Complete() || len(fx.Ambiguous) > 0 || len(fx.Workspaces) != 1 || fx.Workspaces[0] != f.ws {
			t.Errorf("effects: %+v", fx)
		}
		for _, c := range fx.Changes {
			switch c.Path {
			case "f":
				if c.Before.SHA256 != cas.Sum([]byte("old f\n")) || c.After.SHA256 != cas.Sum([]byte("x\n")) || !c.Before.Stored || !c.After.Stored {
					t.Errorf("f: %+v → %+v", c.Before, c.After)
				}
				for _, s := range []*gatehouse.FileState{c.Before, c.After} {
					if !f.store.Has(s.SHA256) {
						t.Errorf("f: content %s is not in the store", s.SHA256)
					}
				}
			case "big":
				if c.After.Stored || c.After.SHA256 != cas.Sum([]byte(strings.Repeat("b", 5000))) || c.After.Size != 5000 {
					t.Errorf("big: %+v; want hashed, not stored", c.After)
				}
			case "link":
				if c.Before.Target != "f" || c.After.Target != "/outside/the/workspace" {
					t.Errorf("link: %+v → %+v", c.Before, c.After)
				}
			case "j":
				if c.Before.Mode != "0644" || c.After.Mode != "0755" {
					t.Errorf("j: mode %s → %s", c.Before.Mode, c.After.Mode)
				}
			}
		}

		// The next action sees none of it again, and an out-of-band change
		// before it is not its own.
		f.write("keep/k", "edited by hand\n", 0o644)
		fx = f.record("A2", func() { f.write("f", "y\n", 0o644) })
		if got := summary(fx); strings.Join(got, ",") != "modified f" {
			t.Errorf("second action: %q, want only f", got)
		}
		if fx.Changes[0].Before.SHA256 != cas.Sum([]byte("x\n")) {
			t.Errorf("second action: f before = %s, want what the first left", fx.Changes[0].Before.SHA256)
		}
	})
}

func TestEffectsNothingChanged(t *testing.T) {
	modes(t, func(t *testing.T) {
		f := newFixture(t)
		f.write("a", "a", 0o644)
		f.open()
		fx := f.record("A", func() {
			// Touching a file (a new mtime) or rewriting the same content is no change.
			f.write("a", "a", 0o644)
		})
		if len(fx.Changes) != 0 || !fx.Complete() {
			t.Errorf("effects = %+v, want none", fx)
		}
	})
}

func TestExclude(t *testing.T) {
	modes(t, func(t *testing.T) {
		f := newFixture(t)
		f.open(func(o *snapshot.Options, w *snapshot.Workspace) {
			w.Exclude = []string{".git", "*.o", "build/cache"}
			o.Protected = []string{filepath.Join(f.ws, "state"), filepath.Join(f.ws, "src", "journal.db")}
		})
		fx := f.record("A", func() {
			f.write(".git/HEAD", "ref", 0o644)
			f.write("src/.git/x", "ref", 0o644)
			f.write("src/a.o", "obj", 0o644)
			f.write("build/cache/c", "c", 0o644)
			f.write("build/out", "o", 0o644)
			f.write("state/gatehouse.db", "journal", 0o600)
			f.write("src/journal.db", "journal", 0o600)
			f.write("src/a.c", "int x;", 0o644)
		})
		got := summary(fx)
		sort.Strings(got)
		want := "created build,created build/out,created src,created src/a.c"
		if strings.Join(got, ",") != want {
			t.Errorf("effects = %q, want %s", got, want)
		}
	})
}

func TestMaxFiles(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 20; i++ {
		f.write(fmt.Sprintf("f%d", i), "x", 0o644)
	}
	f.open(func(o *snapshot.Options, w *snapshot.Workspace) { w.MaxFiles = 10 })
	_, err := f.m.Begin(ctx, action("A", f.ws))
	if err == nil || !strings.Contains(err.Error(), "more than 10 entries") {
		t.Errorf("Begin over max_files = %v, want a refusal naming the limit", err)
	}
}

func TestConcurrentActionsAreAmbiguous(t *testing.T) {
	modes(t, func(t *testing.T) {
		f := newFixture(t)
		f.open()
		a, err := f.m.Begin(ctx, action("A", f.ws))
		must(t, err)
		f.write("by-a", "a", 0o644)
		b, err := f.m.Begin(ctx, action("B", f.ws))
		must(t, err)
		f.write("by-b", "b", 0o644)
		fa := a.End(ctx)
		fb := b.End(ctx)
		// A saw both files appear while it ran; B saw by-b (by-a was there
		// when it began). Each names the other.
		if got := strings.Join(summary(fa), ","); got != "created by-a,created by-b" {
			t.Errorf("A: %s", got)
		}
		if got := strings.Join(summary(fb), ","); got != "created by-b" {
			t.Errorf("B: %s", got)
		}
		if strings.Join(fa.Ambiguous, ",") != "B" || strings.Join(fb.Ambiguous, ",") != "A" {
			t.Errorf("ambiguous: A %v, B %v", fa.Ambiguous, fb.Ambiguous)
		}
		// After both, a new action is not ambiguous.
		if fx := f.record("C", func() {}); len(fx.Ambiguous) != 0 {
			t.Errorf("C: ambiguous %v", fx.Ambiguous)
		}
	})
}

func TestAbortedRecordingIsForgotten(t *testing.T) {
	f := newFixture(t)
	f.open()
	a, err := f.m.Begin(ctx, action("A", f.ws))
	must(t, err)
	a.Abort()
	if fx := f.record("B", func() {}); len(fx.Ambiguous) != 0 {
		t.Errorf("B: ambiguous with an aborted action: %v", fx.Ambiguous)
	}
}

func TestWhichActionsAreRecorded(t *testing.T) {
	f := newFixture(t)
	f.open()
	other := t.TempDir()
	an := func(class gatehouse.Class, targets ...string) *gatehouse.Analysis {
		return &gatehouse.Analysis{Class: class, Targets: targets}
	}
	for _, tc := range []struct {
		name string
		a    gatehouse.Action
		want bool
	}{
		{"a write in the workspace", gatehouse.Action{Agent: "ag", Cwd: f.ws, Analysis: an(gatehouse.ClassWrite)}, true},
		{"a write in a subdirectory", gatehouse.Action{Agent: "ag", Cwd: f.ws + "/sub", Analysis: an(gatehouse.ClassDestructive)}, true},
		{"a read in the workspace", gatehouse.Action{Agent: "ag", Cwd: f.ws, Analysis: an(gatehouse.ClassRead)}, false},
		{"a write elsewhere", gatehouse.Action{Agent: "ag", Cwd: other, Analysis: an(gatehouse.ClassWrite, "x")}, false},
		{"a write elsewhere with a target inside", gatehouse.Action{Agent: "ag", Cwd: other, Analysis: an(gatehouse.ClassWrite, f.ws+"/x")}, true},
		{"a relative target into it", gatehouse.Action{Agent: "ag", Cwd: filepath.Dir(f.ws), Analysis: an(gatehouse.ClassWrite, "ws/x")}, true},
		{"a sibling with the same prefix", gatehouse.Action{Agent: "ag", Cwd: f.ws + "2", Analysis: an(gatehouse.ClassWrite)}, false},
		{"a command's own target", gatehouse.Action{Agent: "ag", Cwd: other, Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite,
			Commands: []gatehouse.AnalyzedCommand{{Name: "cp", Targets: []string{f.ws + "/y"}}}}}, true},
		{"not analysed, in the workspace", gatehouse.Action{Agent: "ag", Cwd: f.ws}, true},
		{"another agent", gatehouse.Action{Agent: "other", Cwd: f.ws, Analysis: an(gatehouse.ClassWrite)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			a.ID = "X"
			r, err := f.m.Begin(ctx, &a)
			must(t, err)
			if (r != nil) != tc.want {
				t.Errorf("recorded = %v, want %v", r != nil, tc.want)
			}
			if r != nil {
				r.Abort()
			}
		})
	}

	// always: every action of the agent, reads too.
	g := newFixture(t)
	g.open(func(o *snapshot.Options, w *snapshot.Workspace) { w.Always = true })
	r, err := g.m.Begin(ctx, &gatehouse.Action{ID: "R", Agent: "ag", Cwd: other, Analysis: an(gatehouse.ClassRead)})
	must(t, err)
	if r == nil {
		t.Error("always: a read elsewhere was not recorded")
	} else {
		r.Abort()
	}
}

func TestIndexSurvivesRestart(t *testing.T) {
	modes(t, func(t *testing.T) {
		f := newFixture(t)
		f.write("a", "a1", 0o644)
		f.write("b", "b1", 0o644)
		f.open()
		f.record("A", func() { f.write("a", "a2", 0o644) })
		must(t, f.m.Close())
		idx, _ := filepath.Glob(filepath.Join(f.state, "snapshots", "*.idx"))
		if len(idx) != 1 {
			t.Fatalf("indexes saved: %v", idx)
		}
		// While the daemon is down, b changes; the next action does not count
		// that as its own, and its before of b is what b became.
		f.write("b", "b2", 0o644)
		f.open()
		fx := f.record("B", func() { f.write("b", "b3", 0o644) })
		if got := strings.Join(summary(fx), ","); got != "modified b" {
			t.Fatalf("after restart: %s", got)
		}
		if fx.Changes[0].Before.SHA256 != cas.Sum([]byte("b2")) || !fx.Changes[0].Before.Stored {
			t.Errorf("b before = %+v, want b2, stored", fx.Changes[0].Before)
		}
	})
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	f.open(func(o *snapshot.Options, w *snapshot.Workspace) { o.Protected = []string{f.state} })
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o600))
	fresh := t.TempDir()
	for _, tc := range []struct {
		dir, want string
	}{
		{"relative", "not an absolute path"},
		{"/", "whole file system"},
		{"/nonexistent/dir", "not a directory"},
		{file, "not a directory"},
		{filepath.Join(f.ws, "sub"), "not a directory"},
		{f.state, "state directory"},
		{filepath.Dir(f.ws), "must not nest"},
		{fresh, ""},
		{f.ws, ""},
		{fresh + "/", ""},
	} {
		got, err := f.m.Check([]string{tc.dir})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%s) = %v", tc.dir, err)
		case tc.want == "" && (len(got) != 1 || got[0] != filepath.Clean(tc.dir)):
			t.Errorf("Check(%s) = %v", tc.dir, got)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || gatehouse.ErrorCode(err) != gatehouse.EINVALID):
			t.Errorf("Check(%s) = %v, want EINVALID %q", tc.dir, err, tc.want)
		}
	}
	must(t, os.MkdirAll(filepath.Join(f.ws, "sub"), 0o755))
	if _, err := f.m.Check([]string{filepath.Join(f.ws, "sub")}); err == nil || !strings.Contains(err.Error(), "nest") {
		t.Errorf("Check(inside a workspace) = %v", err)
	}
}

func TestAssign(t *testing.T) {
	f := newFixture(t)
	f.open()
	mine := t.TempDir()
	f.m.Assign("bot", []string{mine})
	if got := f.m.Workspaces("bot"); len(got) != 1 || got[0] != mine {
		t.Errorf("Workspaces(bot) = %v", got)
	}
	r, err := f.m.Begin(ctx, &gatehouse.Action{ID: "A", Agent: "bot", Cwd: mine, Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite}})
	must(t, err)
	if r == nil {
		t.Fatal("an assigned workspace was not recorded")
	}
	must(t, os.WriteFile(filepath.Join(mine, "x"), []byte("x"), 0o644))
	if got := strings.Join(summary(r.End(ctx)), ","); got != "created x" {
		t.Errorf("effects = %s", got)
	}
}

// Changes whose effects a snapshot that follows events could get wrong,
// in both modes: each case prepares the workspace, then one action does
// something, and its effects are compared.
func TestTrickyChanges(t *testing.T) {
	rm := func(f *fixture, p string) { must(f.t, os.RemoveAll(filepath.Join(f.ws, p))) }
	mkdir := func(f *fixture, p string) { must(f.t, os.MkdirAll(filepath.Join(f.ws, p), 0o755)) }
	for _, tc := range []struct {
		name  string
		setup func(f *fixture)
		act   func(f *fixture)
		want  string
	}{
		{"a directory replaced by another of the same name",
			func(f *fixture) { f.write("d/old", "o", 0o644) },
			func(f *fixture) { rm(f, "d"); mkdir(f, "d"); f.write("d/new", "n", 0o644) },
			"created d/new,deleted d/old"},
		{"a directory renamed", func(f *fixture) { f.write("d/x", "x", 0o644); f.write("d/sub/y", "y", 0o644) },
			func(f *fixture) { must(t, os.Rename(filepath.Join(f.ws, "d"), filepath.Join(f.ws, "e"))) },
			"created e,created e/sub,deleted d,deleted d/sub,renamed e/sub/y from d/sub/y,renamed e/x from d/x"},
		{"a tree replaced by another", func(f *fixture) { f.write("a/b/old", "o", 0o644) },
			func(f *fixture) { rm(f, "a"); f.write("a/b/c/new", "n", 0o644) },
			"created a/b/c,created a/b/c/new,deleted a/b/old"},
		{"a new tree", func(f *fixture) {},
			func(f *fixture) { f.write("a/b/c/f", "f", 0o644) },
			"created a,created a/b,created a/b/c,created a/b/c/f"},
		{"a file becomes a directory", func(f *fixture) { f.write("p", "p", 0o644) },
			func(f *fixture) { rm(f, "p"); f.write("p/q", "q", 0o644) },
			"created p/q,modified p"},
		{"a directory becomes a file", func(f *fixture) { f.write("p/q", "q", 0o644) },
			func(f *fixture) { rm(f, "p"); f.write("p", "p", 0o644) },
			"deleted p/q,modified p"},
		{"a directory's mode", func(f *fixture) { mkdir(f, "d") },
			func(f *fixture) { must(t, os.Chmod(filepath.Join(f.ws, "d"), 0o700)) },
			"mode d"},
		{"in a directory an earlier action made", func(f *fixture) {
			r, err := f.m.Begin(ctx, action("earlier", f.ws))
			must(t, err)
			f.write("made/by/earlier", "1", 0o644)
			r.End(ctx)
		}, func(f *fixture) { f.write("made/by/earlier", "2", 0o644); f.write("made/by/more", "m", 0o644) },
			"created made/by/more,modified made/by/earlier"},
		{"the same content written back", func(f *fixture) { f.write("same", "s", 0o644) },
			func(f *fixture) { f.write("same", "t", 0o644); f.write("same", "s", 0o644) },
			""},
		{"created and removed within the action", func(f *fixture) {},
			func(f *fixture) { f.write("tmp/x", "x", 0o644); rm(f, "tmp") },
			""},
		{"a symlink retargeted", func(f *fixture) { must(t, os.Symlink("a", filepath.Join(f.ws, "l"))) },
			func(f *fixture) { rm(f, "l"); must(t, os.Symlink("b", filepath.Join(f.ws, "l"))) },
			"modified l"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modes(t, func(t *testing.T) {
				f := newFixture(t)
				f.open()
				tc.setup(f)
				fx := f.record("A", func() { tc.act(f) })
				got := summary(fx)
				sort.Strings(got)
				if strings.Join(got, ",") != tc.want {
					t.Errorf("effects = %s\nwant      %s", strings.Join(got, ","), tc.want)
				}
			})
		})
	}
}
