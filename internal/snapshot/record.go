package snapshot

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
)

// Recording is the record of one action in the workspaces it may write
// in, from Begin to End (or Abort).
type Recording struct {
	m      *Manager
	id     string
	spaces []*space

	mu      sync.Mutex
	changes map[string]map[string]*pathChange // workspace → path → its first before and last after
	overlap map[string]bool                   // other actions active in a workspace at the same time
	errs    []string
}

// pathChange is a path's state when a recording first saw it change and
// its state last seen.
type pathChange struct {
	before, after *entry
}

// Begin records the state of the workspaces a may write in (see
// mayWrite), just before a starts: each workspace's index is brought up
// to date, which picks up what changed since its last walk outside any
// action (and stores that content, so that what a modifies can be put
// back). It returns nil if a may write in none of its agent's workspaces.
// An error (a workspace that cannot be read, one over max_files) means the
// state could not be recorded: the gateway refuses the action.
func (m *Manager) Begin(ctx context.Context, a *gatehouse.Action) (gatehouse.Recording, error) {
	var spaces []*space
	for _, sp := range m.spacesOf(a.Agent) {
		if sp.mayWrite(a) {
			spaces = append(spaces, sp)
		}
	}
	if len(spaces) == 0 {
		return nil, nil
	}
	r := &Recording{m: m, id: a.ID, spaces: spaces, changes: map[string]map[string]*pathChange{}, overlap: map[string]bool{}}
	for i, sp := range spaces {
		sp.mu.Lock()
		err := sp.refresh(ctx)
		if err == nil {
			for o := range sp.active {
				o.overlaps(r.id)
				r.overlaps(o.id)
			}
			sp.active[r] = true
		}
		sp.mu.Unlock()
		if err != nil {
			r.spaces = spaces[:i]
			r.Abort()
			return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "snapshot.Begin", err,
				fmt.Sprintf("the workspace %s could not be snapshotted: %s", sp.cfg.Dir, gatehouse.ErrorMessage(asCoded(err))))
		}
	}
	return r, nil
}

// asCoded keeps a coded error's message and gives a plain one (an I/O
// error: a path and errno, fine to show an admin) a code, so that
// ErrorMessage shows it rather than "internal error".
func asCoded(err error) error {
	if gatehouse.ErrorCode(err) != gatehouse.EINTERNAL {
		return err
	}
	return gatehouse.Errorf(gatehouse.EUNAVAILABLE, "%v", err)
}

// End records the workspaces' state after the action and returns its
// effects: what changed between Begin and End. Changes made meanwhile by
// anything else in the workspace (a person editing, a process the action
// left behind) are included: a snapshot cannot tell them apart. If other
// recorded actions ran in the same workspace at the same time, the
// effects are marked ambiguous and name them.
func (r *Recording) End(ctx context.Context) *gatehouse.Effects {
	for _, sp := range r.spaces {
		sp.mu.Lock()
		if sp.active[r] {
			if err := sp.refresh(ctx); err != nil {
				r.fail(sp.cfg.Dir, err)
			}
			delete(sp.active, r)
		}
		sp.mu.Unlock()
	}
	return r.effects()
}

// Abort ends a recording whose action did not start.
func (r *Recording) Abort() {
	for _, sp := range r.spaces {
		sp.mu.Lock()
		delete(sp.active, r)
		sp.mu.Unlock()
	}
}

func (r *Recording) overlaps(id string) {
	r.mu.Lock()
	r.overlap[id] = true
	r.mu.Unlock()
}

func (r *Recording) fail(ws string, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf("%s: %s", ws, gatehouse.ErrorMessage(asCoded(err))))
	r.mu.Unlock()
}

// apply folds one walk's deltas of workspace ws into the recording.
func (r *Recording) apply(ws string, deltas []delta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.changes[ws]
	if m == nil {
		m = map[string]*pathChange{}
		r.changes[ws] = m
	}
	for _, d := range deltas {
		if c, ok := m[d.path]; ok {
			c.after = d.new
			continue
		}
		m[d.path] = &pathChange{before: d.old, after: d.new}
	}
}

func (r *Recording) effects() *gatehouse.Effects {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &gatehouse.Effects{Workspaces: []string{}, Changes: []gatehouse.FileChange{}}
	for _, sp := range r.spaces {
		e.Workspaces = append(e.Workspaces, sp.cfg.Dir)
		e.Changes = append(e.Changes, changes(sp.cfg.Dir, r.changes[sp.cfg.Dir])...)
	}
	sort.SliceStable(e.Changes, func(i, j int) bool {
		if e.Changes[i].Workspace != e.Changes[j].Workspace {
			return e.Changes[i].Workspace < e.Changes[j].Workspace
		}
		return e.Changes[i].Path < e.Changes[j].Path
	})
	if max := r.m.opts.MaxChanges; len(e.Changes) > max {
		e.Truncated = len(e.Changes) - max
		e.Changes = e.Changes[:max]
	}
	for id := range r.overlap {
		e.Ambiguous = append(e.Ambiguous, id)
	}
	sort.Strings(e.Ambiguous)
	e.Error = strings.Join(r.errs, "; ")
	return e
}

// changes turns a workspace's path changes into the effects' changes:
// paths left as they were drop out, and a file deleted at one path and
// created with the same content (and type) at a path that did not exist
// is a rename.
func changes(ws string, m map[string]*pathChange) []gatehouse.FileChange {
	var out []gatehouse.FileChange
	deleted := map[string][]string{} // content key → paths
	created := map[string][]string{}
	for p, c := range m {
		if sameState(c.before, c.after) {
			continue
		}
		ch := gatehouse.FileChange{Workspace: ws, Path: p, Before: c.before.state(), After: c.after.state()}
		switch {
		case c.before == nil:
			ch.Op = gatehouse.ChangeCreated
			if k := renameKey(c.after); k != "" {
				created[k] = append(created[k], p)
			}
		case c.after == nil:
			ch.Op = gatehouse.ChangeDeleted
			if k := renameKey(c.before); k != "" {
				deleted[k] = append(deleted[k], p)
			}
		case c.before.typ == c.after.typ && sameState(c.before, withMode(c.after, c.before.mode)):
			ch.Op = gatehouse.ChangeMode
		default:
			ch.Op = gatehouse.ChangeModified
		}
		out = append(out, ch)
	}
	if len(deleted) == 0 || len(created) == 0 {
		return out
	}
	pair := map[string]string{} // created path → deleted path it came from
	for k, from := range deleted {
		to := created[k]
		sort.Strings(from)
		sort.Strings(to)
		for i := 0; i < len(from) && i < len(to); i++ {
			pair[to[i]] = from[i]
		}
	}
	moved := map[string]bool{}
	for _, f := range pair {
		moved[f] = true
	}
	kept := out[:0]
	for _, ch := range out {
		switch {
		case ch.Op == gatehouse.ChangeDeleted && moved[ch.Path]:
			continue
		case ch.Op == gatehouse.ChangeCreated && pair[ch.Path] != "":
			from := pair[ch.Path]
			ch.Op, ch.From, ch.Before = gatehouse.ChangeRenamed, from, m[from].before.state()
		}
		kept = append(kept, ch)
	}
	return kept
}

// renameKey is what a rename keeps: a file's content, a symlink's target.
// Files that could not be read, and directories, are never paired.
func renameKey(e *entry) string {
	switch e.typ {
	case gatehouse.FileRegular:
		if e.sum == "" {
			return ""
		}
		return fmt.Sprintf("f%s:%d", e.sum, e.size)
	case gatehouse.FileSymlink:
		return "l" + e.target
	}
	return ""
}

func withMode(e *entry, mode uint32) *entry {
	c := *e
	c.mode = mode
	return &c
}
