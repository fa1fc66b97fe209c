package snapshot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cas"
)

// Once a full walk has set up the watches, snapshots follow the events:
// no further full walk until fullWalkEvery, an overflow or a directory
// rename.
func TestSnapshotsFollowEvents(t *testing.T) {
	ws := t.TempDir()
	for i := 0; i < 50; i++ {
		os.MkdirAll(filepath.Join(ws, fmt.Sprint("d", i%5)), 0o755)
		os.WriteFile(filepath.Join(ws, fmt.Sprint("d", i%5), fmt.Sprint("f", i)), []byte("x"), 0o644)
	}
	c, err := cas.Open(t.TempDir(), cas.Options{Budget: 1 << 20, MaxFileSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(Options{CAS: c, IndexDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workspaces: []Workspace{{Dir: ws, Agents: []string{"a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	record := func(id string, fn func()) *gatehouse.Effects {
		r, err := m.Begin(ctx, &gatehouse.Action{ID: id, Agent: "a", Cwd: ws})
		if err != nil {
			t.Fatal(err)
		}
		fn()
		return r.End(ctx)
	}
	record("warm", func() {})
	sp := m.space(ws)
	if sp.watch == nil {
		t.Skip("inotify is not available here: every snapshot is a full walk")
	}
	sp.mu.Lock()
	before := sp.fullWalks
	sp.mu.Unlock()
	for i := 0; i < 10; i++ {
		fx := record(fmt.Sprint("A", i), func() {
			os.WriteFile(filepath.Join(ws, "d1", fmt.Sprint("f", 1)), []byte(fmt.Sprint("v", i)), 0o644)
			os.MkdirAll(filepath.Join(ws, "new", fmt.Sprint(i), "deep"), 0o755)
			os.WriteFile(filepath.Join(ws, "new", fmt.Sprint(i), "deep", "g"), []byte("g"), 0o644)
		})
		if len(fx.Changes) != 4 { // f1, new/i, new/i/deep, new/i/deep/g (and new, the first time)
			if !(i == 0 && len(fx.Changes) == 5) {
				t.Errorf("action %d: %d changes: %+v", i, len(fx.Changes), fx.Changes)
			}
		}
	}
	sp.mu.Lock()
	after := sp.fullWalks
	sp.mu.Unlock()
	if after != before {
		t.Errorf("%d full walks for 10 actions, want none", after-before)
	}
	// A directory renamed: a full walk, and the right effects.
	fx := record("mv", func() { os.Rename(filepath.Join(ws, "d2"), filepath.Join(ws, "moved")) })
	sp.mu.Lock()
	if sp.fullWalks != after+1 {
		t.Errorf("a directory rename made %d full walks, want 1", sp.fullWalks-after)
	}
	sp.mu.Unlock()
	renamed := 0
	for _, c := range fx.Changes {
		if c.Op == gatehouse.ChangeRenamed {
			renamed++
		}
	}
	if renamed != 10 {
		t.Errorf("mv d2 moved: %d renames, want 10: %+v", renamed, fx.Changes)
	}
}

func TestDedupe(t *testing.T) {
	got := dedupe([]string{"a/b", "c", "a", "a/b/c", "ab", "c"})
	if fmt.Sprint(got) != "[a ab c]" {
		t.Errorf("dedupe = %v", got)
	}
}
