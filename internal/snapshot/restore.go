package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse"
)

// Restore carries out the file part of a rollback plan. Under the locks of
// the workspaces involved (so no action's snapshot runs meanwhile) it
// first brings their indexes up to date and checks each restore against
// the disk: a path must hold exactly what the last rolled-back action
// left (Expect), no action may be running in the workspace, and the
// wanted content must be at hand (in the store, or at the restore's
// Source). Problems are written into the restores' Problem.
//
// If there are problems and not force, Restore stops there and returns
// the checked restores with done false; so does a dry run (commit nil).
// Otherwise it calls commit with the checked restores — the gateway
// journals the rollback's start there; an error from commit stops it —
// and then restores: removals deepest first, directories shallowest
// first, then files and symlinks (each written to a staging file and
// renamed into place, so a path never holds half a file), then permission
// bits. A restore whose content is not at hand is skipped even when
// forced. Each restore made is marked Done; one that fails gets its
// Problem. The restored files are owned by the daemon's user, except that
// a daemon running as root gives each the owner of what it replaces, or of
// its directory.
func (m *Manager) Restore(ctx context.Context, files []gatehouse.FileRestore, force bool, commit func([]gatehouse.FileRestore) error) ([]gatehouse.FileRestore, bool, error) {
	out := make([]gatehouse.FileRestore, len(files))
	copy(out, files)
	byWS := map[string][]int{}
	var spaces []*space
	for i := range out {
		f := &out[i]
		sp := m.space(f.Workspace)
		if sp == nil {
			setProblem(f, "not restorable: "+f.Workspace+" is not a workspace the gateway records")
			continue
		}
		if _, ok := byWS[f.Workspace]; !ok {
			spaces = append(spaces, sp)
		}
		byWS[f.Workspace] = append(byWS[f.Workspace], i)
	}
	sort.Slice(spaces, func(i, j int) bool { return spaces[i].cfg.Dir < spaces[j].cfg.Dir })
	for _, sp := range spaces {
		sp.mu.Lock()
		defer sp.mu.Unlock()
	}
	for _, sp := range spaces {
		if err := sp.refresh(ctx); err != nil {
			return nil, false, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "snapshot.Restore", err,
				fmt.Sprintf("the workspace %s could not be read: %s", sp.cfg.Dir, gatehouse.ErrorMessage(asCoded(err))))
		}
		var running []string
		for r := range sp.active {
			running = append(running, r.id)
		}
		sort.Strings(running)
		for _, i := range byWS[sp.cfg.Dir] {
			sp.check(&out[i], running)
		}
		for _, i := range byWS[sp.cfg.Dir] {
			sp.checkSource(&out[i])
		}
	}
	problems := false
	for _, f := range out {
		problems = problems || f.Problem != ""
	}
	if commit == nil || problems && !force {
		return out, false, nil
	}
	if err := commit(out); err != nil {
		return out, false, err
	}
	for _, sp := range spaces {
		sp.apply(out, byWS[sp.cfg.Dir])
		if err := sp.refresh(ctx); err != nil {
			m.log.Warn("workspace walk after a rollback failed", "workspace", sp.cfg.Dir, "err", err)
		}
	}
	return out, true, nil
}

func setProblem(f *gatehouse.FileRestore, p string) {
	if f.Problem == "" {
		f.Problem = p
	}
}

// current returns what the index holds at rel, or nil.
func (sp *space) current(rel string) *entry {
	dir, name := path.Split(rel)
	d := sp.x.dirs[strings.TrimSuffix(dir, "/")]
	if d == nil {
		return nil
	}
	return d.ents[name]
}

// check compares what is on disk with what the restore expects.
func (sp *space) check(f *gatehouse.FileRestore, running []string) {
	if !validRel(f.Path) {
		setProblem(f, "not restorable: the path is not inside the workspace")
		return
	}
	if len(running) > 0 {
		setProblem(f, fmt.Sprintf("action %s is running in the workspace (halt it first)", strings.Join(running, ", ")))
	}
	if sp.excluded(f.Path, path.Base(f.Path)) {
		setProblem(f, "not restorable: the path is excluded from the workspace's snapshots")
		return
	}
	cur := sp.current(f.Path).state()
	if !cur.Same(f.Expect) {
		setProblem(f, fmt.Sprintf("changed since by something else: the rolled-back actions left %s, it is now %s", describe(f.Expect), describe(cur)))
	}
	if w := f.Want; w != nil && w.Type == gatehouse.FileRegular && f.Op != gatehouse.RestoreMode && f.Source == "" {
		if !w.Stored || !sp.m.cas.Has(w.SHA256) {
			setProblem(f, "not restorable: its content before is not in the store")
		}
	}
}

// checkSource checks that a restore's Source holds the wanted content.
func (sp *space) checkSource(f *gatehouse.FileRestore) {
	if f.Source == "" || f.Want == nil {
		return
	}
	src := sp.current(f.Source)
	if !validRel(f.Source) || src == nil || src.typ != gatehouse.FileRegular || src.sum != f.Want.SHA256 {
		setProblem(f, fmt.Sprintf("not restorable: its content is not in the store, nor at %s any more", f.Source))
	}
}

func validRel(p string) bool {
	return p != "" && p != "." && !path.IsAbs(p) && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
}

func describe(s *gatehouse.FileState) string {
	switch {
	case s == nil:
		return "nothing"
	case s.Type == gatehouse.FileDir:
		return "a directory (" + s.Mode + ")"
	case s.Type == gatehouse.FileSymlink:
		return fmt.Sprintf("a symlink to %q", s.Target)
	case s.SHA256 == "":
		return fmt.Sprintf("an unreadable file of %d bytes", s.Size)
	}
	return fmt.Sprintf("a file of %d bytes, sha256 %.12s…, mode %s", s.Size, s.SHA256, s.Mode)
}

// restorable reports whether a restore can be made at all (forced or not).
func restorable(f *gatehouse.FileRestore) bool {
	return !strings.HasPrefix(f.Problem, "not restorable")
}

// apply makes the restores idx of out in sp. Called with sp.mu held.
func (sp *space) apply(out []gatehouse.FileRestore, idx []int) {
	root := sp.real
	failed := func(f *gatehouse.FileRestore, err error) {
		f.Problem, f.Done = "restore failed: "+gatehouse.ErrorMessage(asCoded(err)), false
	}
	var todo []*gatehouse.FileRestore
	for _, i := range idx {
		if restorable(&out[i]) {
			todo = append(todo, &out[i])
		}
	}
	if len(todo) == 0 {
		return
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		for _, f := range todo {
			failed(f, err)
		}
		return
	}
	stage, err := os.MkdirTemp(root, ".gatehouse-rollback-")
	if err != nil {
		for _, f := range todo {
			failed(f, err)
		}
		return
	}
	defer os.RemoveAll(stage)
	abs := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

	// Stage the content first: a Source may be removed or overwritten by
	// another restore below.
	staged := map[*gatehouse.FileRestore]string{}
	for n, f := range todo {
		w := f.Want
		if w == nil || f.Op == gatehouse.RestoreMode || w.Type == gatehouse.FileDir {
			continue
		}
		tmp := filepath.Join(stage, strconv.Itoa(n))
		var err error
		switch w.Type {
		case gatehouse.FileSymlink:
			err = os.Symlink(w.Target, tmp)
		case gatehouse.FileRegular:
			err = sp.stageFile(tmp, f, abs)
		default:
			err = fmt.Errorf("cannot restore a %s", w.Type)
		}
		if err != nil {
			failed(f, err)
			continue
		}
		staged[f] = tmp
	}
	ok := func(f *gatehouse.FileRestore) bool { return !strings.HasPrefix(f.Problem, "restore failed") }
	depth := func(p string) int { return strings.Count(p, "/") }
	byDepth := func(desc bool) []*gatehouse.FileRestore {
		s := append([]*gatehouse.FileRestore(nil), todo...)
		sort.SliceStable(s, func(i, j int) bool {
			if desc {
				return depth(s[i].Path) > depth(s[j].Path)
			}
			return depth(s[i].Path) < depth(s[j].Path)
		})
		return s
	}
	touched := map[string]bool{}

	// Removals, deepest first: what did not exist, and what must change
	// type (a directory where a file was, or the reverse).
	for _, f := range byDepth(true) {
		if !ok(f) {
			continue
		}
		p := abs(f.Path)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			failed(f, err)
			continue
		}
		isDir := fi.IsDir()
		if f.Want != nil && (f.Want.Type == gatehouse.FileDir) == isDir {
			continue // a directory kept, or a file or symlink replaced by rename below
		}
		if isDir {
			err = unix.Rmdir(p)
			if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
				err = errors.New("the directory is not empty (it holds files the snapshots do not record)")
			}
		} else {
			err = os.Remove(p)
		}
		if err != nil {
			failed(f, err)
			continue
		}
		touched[filepath.Dir(p)] = true
		if f.Want == nil {
			f.Done = true
		}
	}
	// Directories, shallowest first.
	for _, f := range byDepth(false) {
		if !ok(f) || f.Want == nil || f.Want.Type != gatehouse.FileDir {
			continue
		}
		p := abs(f.Path)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			continue // exists: its mode is set last
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			failed(f, err)
			continue
		}
		if err := os.Mkdir(p, 0o700); err != nil {
			failed(f, err)
			continue
		}
		sp.own(p, nil)
		touched[filepath.Dir(p)] = true
	}
	// Files and symlinks.
	for _, f := range todo {
		tmp, ok2 := staged[f]
		if !ok(f) || !ok2 {
			continue
		}
		p := abs(f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			failed(f, err)
			continue
		}
		prev, _ := os.Lstat(p)
		if err := os.Rename(tmp, p); err != nil {
			failed(f, err)
			continue
		}
		sp.own(p, prev)
		touched[filepath.Dir(p)] = true
		if f.Want.Type != gatehouse.FileDir {
			f.Done = true
		}
	}
	// Permission bits, deepest first (a directory made read-only last).
	for _, f := range byDepth(true) {
		if !ok(f) || f.Want == nil || f.Want.Type == gatehouse.FileSymlink {
			continue
		}
		mode, err := strconv.ParseUint(f.Want.Mode, 8, 32)
		if err == nil {
			err = unix.Fchmodat(unix.AT_FDCWD, abs(f.Path), uint32(mode), 0)
		}
		if err != nil {
			failed(f, err)
			continue
		}
		f.Done = true
	}
	for d := range touched {
		_ = syncPath(d)
	}
}

// stageFile writes f's wanted content to tmp: from the store, or copied
// from f.Source (checked against the hash as it is copied).
func (sp *space) stageFile(tmp string, f *gatehouse.FileRestore, abs func(string) string) error {
	w := f.Want
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if f.Source == "" {
		data, err := sp.m.cas.Get(w.SHA256)
		if err != nil {
			return err
		}
		if _, err := out.Write(data); err != nil {
			return err
		}
	} else {
		in, err := os.Open(abs(f.Source))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(out, h), in)
		in.Close()
		if err != nil {
			return err
		}
		if hex.EncodeToString(h.Sum(nil)) != w.SHA256 {
			return fmt.Errorf("%s no longer holds the content", f.Source)
		}
	}
	return out.Sync()
}

// own gives a restored path the owner of what it replaced (prev), or of
// its directory, when the daemon runs as root; otherwise the path keeps
// the daemon's user.
func (sp *space) own(p string, prev os.FileInfo) {
	if os.Geteuid() != 0 {
		return
	}
	var st *unix.Stat_t
	if prev != nil {
		st, _ = prev.Sys().(*unix.Stat_t)
	}
	if st == nil {
		var parent unix.Stat_t
		if unix.Stat(filepath.Dir(p), &parent) != nil {
			return
		}
		st = &parent
	}
	_ = os.Lchown(p, int(st.Uid), int(st.Gid))
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
