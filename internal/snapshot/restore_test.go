package snapshot_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// finished turns effects into a finished action, as the journal holds it.
func finished(id string, n int, fx *gatehouse.Effects) *gatehouse.Action {
	at := time.Date(2026, 12, 1, 10, n, 0, 0, time.UTC)
	return &gatehouse.Action{ID: id, Time: at, StartedAt: &at, FinishedAt: &at, Status: gatehouse.StatusSucceeded,
		Analysis: &gatehouse.Analysis{Class: gatehouse.ClassWrite}, Effects: fx}
}

func problems(files []gatehouse.FileRestore) []string {
	var out []string
	for _, f := range files {
		if f.Problem != "" {
			out = append(out, f.Path+": "+f.Problem)
		}
	}
	return out
}

func (f *fixture) rollback(force bool, actions ...*gatehouse.Action) ([]gatehouse.FileRestore, bool) {
	f.t.Helper()
	plan := gatehouse.PlanRollback(actions)
	committed := false
	out, done, err := f.m.Restore(ctx, plan.Files, force, func([]gatehouse.FileRestore) error { committed = true; return nil })
	if err != nil {
		f.t.Fatal(err)
	}
	if done != committed {
		f.t.Fatalf("done = %v but commit called = %v", done, committed)
	}
	return out, done
}

func TestRollbackRestores(t *testing.T) {
	modes(t, func(t *testing.T) {
		f := newFixture(t)
		f.write("f", "old f\n", 0o644)
		f.write("g", "g\n", 0o600)
		f.write("h", "h moves\n", 0o644)
		f.write("j", "#!/bin/sh\n", 0o644)
		f.write("olddir/x", "x\n", 0o644)
		f.write("olddir/sub/y", "y\n", 0o640)
		must(t, os.Chmod(filepath.Join(f.ws, "olddir/sub"), 0o700))
		f.write("huge", strings.Repeat("h", 4000), 0o644) // over the file limit: not stored
		must(t, os.Symlink("f", filepath.Join(f.ws, "link")))
		before := tree(t, f.ws)
		f.open()

		a1 := finished("A1", 1, f.record("A1", func() {
			f.write("f", "x\n", 0o644)
			must(t, os.Remove(filepath.Join(f.ws, "g")))
			must(t, os.Rename(filepath.Join(f.ws, "h"), filepath.Join(f.ws, "i")))
			must(t, os.Chmod(filepath.Join(f.ws, "j"), 0o755))
		}))
		a2 := finished("A2", 2, f.record("A2", func() {
			must(t, os.RemoveAll(filepath.Join(f.ws, "olddir")))
			f.write("newdir/n", "n\n", 0o644)
			must(t, os.Rename(filepath.Join(f.ws, "huge"), filepath.Join(f.ws, "huge2")))
			must(t, os.Remove(filepath.Join(f.ws, "link")))
			must(t, os.Symlink("/elsewhere", filepath.Join(f.ws, "link")))
			f.write("f", "x again\n", 0o600)
		}))
		if len(a2.Effects.Changes) == 0 {
			t.Fatal("A2 recorded nothing")
		}

		out, done := f.rollback(false, a1, a2)
		if p := problems(out); len(p) > 0 || !done {
			t.Fatalf("rollback refused: %q", p)
		}
		for _, r := range out {
			if !r.Done {
				t.Errorf("%s %s not done", r.Op, r.Path)
			}
		}
		after := tree(t, f.ws)
		for p, w := range before {
			if after[p] != w {
				t.Errorf("%s: %s, want %s", p, after[p], w)
			}
		}
		for p, g := range after {
			if _, ok := before[p]; !ok {
				t.Errorf("%s: left over (%s)", p, g)
			}
		}
		// The rollback's own writes are not the next action's changes.
		if fx := f.record("A3", func() {}); len(fx.Changes) != 0 {
			t.Errorf("after the rollback, an action that does nothing changed %q", summary(fx))
		}
	})
}

func TestRollbackConflicts(t *testing.T) {
	modes(t, func(t *testing.T) {
		setup := func(t *testing.T) (*fixture, *gatehouse.Action) {
			f := newFixture(t)
			f.write("f", "v1\n", 0o644)
			f.write("g", "g\n", 0o644)
			f.open()
			a := finished("A", 1, f.record("A", func() {
				f.write("f", "v2\n", 0o644)
				f.write("created", "c\n", 0o644)
				must(t, os.Remove(filepath.Join(f.ws, "g")))
			}))
			return f, a
		}
		for _, tc := range []struct {
			name    string
			since   func(f *fixture)
			problem string // for the path in want
			path    string
		}{
			{"modified since", func(f *fixture) { f.write("f", "v3\n", 0o644) }, "changed since by something else: the rolled-back actions left a file of 3 bytes", "f"},
			{"mode changed since", func(f *fixture) { must(t, os.Chmod(filepath.Join(f.ws, "f"), 0o600)) }, "it is now a file of 3 bytes, sha256", "f"},
			{"deleted since", func(f *fixture) { must(t, os.Remove(filepath.Join(f.ws, "f"))) }, "it is now nothing", "f"},
			{"recreated since", func(f *fixture) { f.write("g", "someone\n", 0o644) }, "the rolled-back actions left nothing", "g"},
			{"created file edited since", func(f *fixture) { f.write("created", "edited\n", 0o644) }, "changed since", "created"},
			{"replaced by a directory", func(f *fixture) {
				must(t, os.Remove(filepath.Join(f.ws, "created")))
				must(t, os.Mkdir(filepath.Join(f.ws, "created"), 0o755))
			}, "it is now a directory", "created"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f, a := setup(t)
				tc.since(f)
				was := tree(t, f.ws)
				out, done := f.rollback(false, a)
				if done {
					t.Fatal("rollback went ahead over a change made since")
				}
				var got string
				for _, r := range out {
					if r.Path == tc.path {
						got = r.Problem
					} else if r.Problem != "" {
						t.Errorf("%s: unexpected problem %q", r.Path, r.Problem)
					}
				}
				if !strings.Contains(got, tc.problem) {
					t.Errorf("%s: problem %q, want %q", tc.path, got, tc.problem)
				}
				if now := tree(t, f.ws); fmt.Sprint(now) != fmt.Sprint(was) {
					t.Errorf("a refused rollback changed the workspace:\n%v\nwas\n%v", now, was)
				}
				// Forced, it restores the state before A.
				out, done = f.rollback(true, a)
				if !done {
					t.Fatal("forced rollback did not run")
				}
				now := tree(t, f.ws)
				if now["f"] != fmt.Sprintf("file 644 %q", "v1\n") || now["g"] != fmt.Sprintf("file 644 %q", "g\n") {
					t.Errorf("forced: f %s, g %s", now["f"], now["g"])
				}
				if _, ok := now["created"]; ok && tc.name != "replaced by a directory" {
					t.Errorf("forced: created still exists: %s", now["created"])
				}
			})
		}
	})
}

func TestRollbackRefusesWhileAnActionRuns(t *testing.T) {
	f := newFixture(t)
	f.write("f", "v1", 0o644)
	f.open()
	a := finished("A", 1, f.record("A", func() { f.write("f", "v2", 0o644) }))
	r, err := f.m.Begin(ctx, action("RUNNING", f.ws))
	must(t, err)
	defer r.Abort()
	out, done := f.rollback(false, a)
	if done || len(out) != 1 || !strings.Contains(out[0].Problem, "action RUNNING is running") {
		t.Errorf("rollback while RUNNING runs: done %v, %q", done, problems(out))
	}
}

func TestRollbackOfUnstoredContent(t *testing.T) {
	f := newFixture(t)
	f.write("big", strings.Repeat("x", 3000), 0o644)
	f.open()
	a := finished("A", 1, f.record("A", func() { f.write("big", "small now", 0o644) }))
	out, done := f.rollback(true, a)
	if !done || len(out) != 1 || out[0].Done || !strings.Contains(out[0].Problem, "not restorable") {
		t.Errorf("forced rollback of unstored content: done %v, %+v", done, out)
	}
	if b, _ := os.ReadFile(filepath.Join(f.ws, "big")); string(b) != "small now" {
		t.Errorf("big = %q: an unrestorable file must be left alone", b)
	}
}

func TestDryRunChecksOnly(t *testing.T) {
	f := newFixture(t)
	f.write("f", "v1", 0o644)
	f.open()
	a := finished("A", 1, f.record("A", func() { f.write("f", "v2", 0o644) }))
	plan := gatehouse.PlanRollback([]*gatehouse.Action{a})
	out, done, err := f.m.Restore(ctx, plan.Files, true, nil)
	must(t, err)
	if done || len(out) != 1 || out[0].Problem != "" || out[0].Done {
		t.Errorf("dry run: done %v, %+v", done, out)
	}
	if b, _ := os.ReadFile(filepath.Join(f.ws, "f")); string(b) != "v2" {
		t.Errorf("a dry run changed f: %q", b)
	}
}

func TestDiff(t *testing.T) {
	f := newFixture(t)
	f.write("f", "one\ntwo\nthree\n", 0o644)
	f.write("bin", "\x00\x01\x02", 0o644)
	f.write("h", "moved\n", 0o644)
	f.open()
	fx := f.record("A", func() {
		f.write("f", "one\n2\nthree\n", 0o644)
		f.write("bin", "\x00\x01\x03", 0o644)
		f.write("new", "hello\n", 0o644)
		f.write("big", strings.Repeat("b\n", 1000), 0o644)
		must(t, os.Rename(filepath.Join(f.ws, "h"), filepath.Join(f.ws, "i")))
	})
	for _, tc := range []struct {
		path, text, note string
	}{
		{"f", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n", ""},
		{"new", "--- /dev/null\n+++ b/new\n@@ -0,0 +1,1 @@\n+hello\n", ""},
		{"bin", "", "binary content, 3 → 3 bytes"},
		{"big", "", "after: content not stored (over the store's budget): 2000 bytes"},
		{"i", "", "renamed from h, content unchanged"},
	} {
		var c *gatehouse.FileChange
		for i := range fx.Changes {
			if fx.Changes[i].Path == tc.path {
				c = &fx.Changes[i]
			}
		}
		if c == nil {
			t.Errorf("%s: no change recorded", tc.path)
			continue
		}
		text, note := f.m.Diff(ctx, *c)
		if text != tc.text || !strings.HasPrefix(note, tc.note) || (tc.note == "") != (note == "") {
			t.Errorf("%s: diff %q, note %q; want %q, %q", tc.path, text, note, tc.text, tc.note)
		}
	}
}
