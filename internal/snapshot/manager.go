package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cas"
)

// Defaults.
const (
	// DefaultMaxFiles bounds the entries of one workspace: a walk that
	// finds more fails (and the action is refused) rather than take
	// seconds per action.
	DefaultMaxFiles = 200000
	// DefaultMaxChanges bounds the changes journaled for one action; the
	// rest are counted (Effects.Truncated).
	DefaultMaxChanges = 10000
)

// Workspace is a directory whose changes are recorded for the agents it
// belongs to.
type Workspace struct {
	Dir string // absolute and clean
	// Agents are agent names or path.Match globs ("*" for every agent).
	Agents []string
	// Always records every action of its agents, not only those that may
	// write in it by their analysis.
	Always bool
	// Exclude lists what is never recorded: a pattern without '/'
	// matches an entry's name at any depth (".git", "*.o"); one with '/'
	// matches its path from the workspace's root ("build/cache"). Both
	// are path.Match patterns; an excluded directory is not walked.
	Exclude []string
	// MaxFiles bounds the entries walked (0: DefaultMaxFiles).
	MaxFiles int
	// NoWatch makes every snapshot a full walk instead of following
	// inotify events between full walks (see watch.go): for file systems
	// whose changes inotify does not see, such as network file systems
	// changed from elsewhere.
	NoWatch bool
}

// Options configure a Manager.
type Options struct {
	CAS *cas.Store
	// IndexDir holds each workspace's index between runs of the daemon.
	IndexDir string
	// Workspaces are those the configuration file gives.
	Workspaces []Workspace
	// Protected are directories that are never recorded nor may be a
	// workspace or inside one as a workspace: the state directory.
	// Inside a workspace they are excluded.
	Protected []string
	// MaxChanges bounds the changes journaled per action (0:
	// DefaultMaxChanges).
	MaxChanges int
	Logger     *slog.Logger
	Now        func() time.Time
}

// Manager records what actions change in the agents' workspaces, and
// restores them. It is safe for concurrent use.
type Manager struct {
	opts Options
	cas  *cas.Store
	log  *slog.Logger
	now  func() time.Time

	ctx    context.Context // ends at Close: background work stops
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu       sync.Mutex
	spaces   map[string]*space   // by Dir
	assigned map[string][]string // agent → the Dirs given at agent add
}

// space is one workspace directory and its state. Its mutex serializes
// the walks of its index and what uses the index (restores).
type space struct {
	m    *Manager
	cfg  Workspace
	real string // Dir with symlinks resolved, when it exists

	mu     sync.Mutex
	x      *index   // nil until loaded or walked
	tried  bool     // the persisted index was looked for
	watch  *watcher // nil: every scan is a full walk
	active map[*Recording]bool
	// fullWalks counts the full walks made while watching (tests).
	fullWalks int
}

// Open returns a manager over the configured workspaces, which must be
// directories that exist, none inside another or inside a protected
// directory. Their indexes are loaded and brought up to date in the
// background; an action in a workspace waits for that.
func Open(opts Options) (*Manager, error) {
	if opts.CAS == nil {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "snapshot: no content store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxChanges <= 0 {
		opts.MaxChanges = DefaultMaxChanges
	}
	for i, p := range opts.Protected {
		opts.Protected[i] = filepath.Clean(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{opts: opts, cas: opts.CAS, log: opts.Logger, now: opts.Now, ctx: ctx, cancel: cancel,
		spaces: map[string]*space{}, assigned: map[string][]string{}}
	var dirs []string
	for _, w := range opts.Workspaces {
		dirs = append(dirs, w.Dir)
	}
	if _, err := m.check(dirs, true); err != nil {
		cancel()
		return nil, err
	}
	for _, w := range opts.Workspaces {
		m.addSpace(w)
	}
	return m, nil
}

// Close stops background work and saves every workspace's index, so that
// the next start need not hash the workspaces again.
func (m *Manager) Close() error {
	m.cancel()
	m.bg.Wait()
	m.mu.Lock()
	spaces := make([]*space, 0, len(m.spaces))
	for _, sp := range m.spaces {
		spaces = append(spaces, sp)
	}
	m.mu.Unlock()
	var errs []error
	for _, sp := range spaces {
		sp.mu.Lock()
		if sp.x != nil {
			if err := sp.x.save(sp.indexFile(), sp.cfg.Dir); err != nil {
				errs = append(errs, fmt.Errorf("saving the index of %s: %w", sp.cfg.Dir, err))
			}
		}
		sp.watch.close()
		sp.watch = nil
		sp.mu.Unlock()
	}
	return errors.Join(errs...)
}

// addSpace registers a workspace (merging with one of the same directory)
// and starts loading its index.
func (m *Manager) addSpace(w Workspace) *space {
	m.mu.Lock()
	sp := m.spaces[w.Dir]
	if sp != nil {
		m.mu.Unlock()
		return sp
	}
	sp = &space{m: m, cfg: w, real: w.Dir, active: map[*Recording]bool{}}
	if r, err := filepath.EvalSymlinks(w.Dir); err == nil {
		sp.real = r
	}
	if !w.NoWatch {
		wt, err := newWatcher()
		if err != nil {
			m.log.Warn("inotify unavailable; every snapshot walks the workspace whole", "workspace", w.Dir, "err", err)
		} else {
			sp.watch = wt
		}
	}
	m.spaces[w.Dir] = sp
	m.mu.Unlock()
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		sp.mu.Lock()
		defer sp.mu.Unlock()
		start := m.now()
		if err := sp.refresh(m.ctx); err != nil {
			if m.ctx.Err() == nil {
				m.log.Warn("workspace snapshot failed", "workspace", w.Dir, "err", err)
			}
			return
		}
		m.log.Info("workspace ready", "workspace", w.Dir, "entries", sp.x.count(), "took", m.now().Sub(start).Round(time.Millisecond))
	}()
	return sp
}

func (sp *space) indexFile() string {
	sum := sha256.Sum256([]byte(sp.cfg.Dir))
	return filepath.Join(sp.m.opts.IndexDir, hex.EncodeToString(sum[:12])+".idx")
}

// Check validates directories for agent add --workspace: absolute, an
// existing directory, not "/", not inside a protected directory, and not
// inside or around another workspace (the same one is fine). It returns
// them cleaned. EINVALID names the first bad one.
func (m *Manager) Check(dirs []string) ([]string, error) {
	return m.check(dirs, false)
}

func (m *Manager) check(dirs []string, config bool) ([]string, error) {
	inv := func(f string, a ...any) error { return gatehouse.Errorf(gatehouse.EINVALID, f, a...) }
	out := make([]string, 0, len(dirs))
	m.mu.Lock()
	existing := make([]string, 0, len(m.spaces))
	for d := range m.spaces {
		existing = append(existing, d)
	}
	m.mu.Unlock()
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			return nil, inv("workspace %q is not an absolute path", d)
		}
		c := filepath.Clean(d)
		if c == "/" {
			return nil, inv("workspace %q: the whole file system cannot be a workspace", d)
		}
		fi, err := os.Stat(c)
		if err != nil || !fi.IsDir() {
			return nil, inv("workspace %s is not a directory the gateway can use", c)
		}
		for _, p := range m.opts.Protected {
			if within(c, p) {
				return nil, inv("workspace %s is inside the gateway's state directory %s", c, p)
			}
		}
		for _, o := range append(slices.Clone(existing), out...) {
			if o != c && (within(c, o) || within(o, c)) {
				return nil, inv("workspace %s is inside or around the workspace %s: workspaces must not nest", c, o)
			}
			if config && o == c && slices.Contains(out, c) {
				return nil, inv("workspace %s is given twice", c)
			}
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// within reports whether p is dir or inside it (both clean).
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

// Assign gives agent the workspaces dirs (from agent add --workspace),
// besides those of the configuration. The dirs must have passed Check (or
// be journaled: a directory that no longer exists is recorded as empty).
func (m *Manager) Assign(agent string, dirs []string) {
	if len(dirs) == 0 {
		return
	}
	m.mu.Lock()
	m.assigned[agent] = slices.Clone(dirs)
	m.mu.Unlock()
	for _, d := range dirs {
		m.addSpace(Workspace{Dir: filepath.Clean(d)})
	}
}

// Workspaces returns the directories recorded for agent, sorted.
func (m *Manager) Workspaces(agent string) []string {
	var out []string
	for _, sp := range m.spacesOf(agent) {
		out = append(out, sp.cfg.Dir)
	}
	return out
}

// spacesOf returns agent's workspaces, sorted by directory.
func (m *Manager) spacesOf(agent string) []*space {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*space
	for _, sp := range m.spaces {
		if slices.Contains(m.assigned[agent], sp.cfg.Dir) || matchAgent(sp.cfg.Agents, agent) {
			out = append(out, sp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cfg.Dir < out[j].cfg.Dir })
	return out
}

func matchAgent(patterns []string, agent string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, agent); ok || p == agent {
			return true
		}
	}
	return false
}

// space returns the workspace of dir, or nil.
func (m *Manager) space(dir string) *space {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spaces[dir]
}

// mayWrite reports whether a may write in sp by its analysis: every
// action when the workspace says always; else any action whose class is
// write or worse (or that was not analysed) and whose working directory,
// or one of whose targets or arguments taken as a path, is inside the
// workspace. (The analysis names targets for some commands only — rm's,
// a redirection's — so arguments count too: touch /ws/x.)
func (sp *space) mayWrite(a *gatehouse.Action) bool {
	if sp.cfg.Always {
		return true
	}
	an := a.Analysis
	if an != nil && an.Class.Severity() < gatehouse.ClassWrite.Severity() {
		return false
	}
	if a.Cwd != "" && sp.contains(filepath.Clean(a.Cwd)) {
		return true
	}
	if an == nil {
		return false
	}
	targets := slices.Clone(an.Targets)
	for _, c := range an.Commands {
		targets = append(targets, c.Targets...)
		targets = append(targets, c.Args...)
	}
	for _, t := range targets {
		switch {
		case t == "" || strings.HasPrefix(t, "~") || strings.Contains(t, "://"):
			continue
		case filepath.IsAbs(t):
		case a.Cwd != "":
			t = filepath.Join(a.Cwd, t)
		default:
			continue
		}
		if sp.contains(filepath.Clean(t)) {
			return true
		}
	}
	return false
}

func (sp *space) contains(p string) bool {
	return within(p, sp.cfg.Dir) || within(p, sp.real)
}

// excluded reports whether the entry at rel (named name) is not recorded.
func (sp *space) excluded(rel, name string) bool {
	for _, pat := range sp.cfg.Exclude {
		target := name
		if strings.Contains(pat, "/") {
			target = rel
		}
		if ok, _ := path.Match(pat, target); ok {
			return true
		}
	}
	for _, p := range sp.m.opts.Protected {
		if within(sp.cfg.Dir+"/"+rel, p) || within(sp.real+"/"+rel, p) {
			return true
		}
	}
	return false
}

// refresh brings the index up to date, loading the persisted one first if
// there is no index yet, and gives what changed to the active recordings.
// A workspace walked from scratch gives them nothing (everything would
// look created): they are marked incomplete instead. On error the index
// is dropped, and the active recordings are marked incomplete. Called
// with sp.mu held.
func (sp *space) refresh(ctx context.Context) error {
	fresh, loaded := false, false
	if sp.x == nil && !sp.tried {
		sp.tried = true
		x, err := loadIndex(sp.indexFile(), sp.cfg.Dir)
		if err != nil {
			sp.m.log.Warn("workspace index unreadable; hashing the workspace again", "workspace", sp.cfg.Dir, "err", err)
		}
		if x != nil {
			sp.forgetMissing(x)
			loaded = true
		}
		sp.x = x
	}
	if sp.x == nil {
		sp.x, fresh = newIndex(), true
	}
	deltas, err := sp.scan(ctx, sp.x, fresh || loaded)
	if err != nil {
		sp.x = nil
		for r := range sp.active {
			r.fail(sp.cfg.Dir, err)
		}
		return err
	}
	if fresh {
		for r := range sp.active {
			r.fail(sp.cfg.Dir, errors.New("its index was rebuilt while the action ran"))
		}
		if err := sp.x.save(sp.indexFile(), sp.cfg.Dir); err != nil {
			sp.m.log.Warn("saving a workspace index failed", "workspace", sp.cfg.Dir, "err", err)
		}
		return nil
	}
	for r := range sp.active {
		r.apply(sp.cfg.Dir, deltas)
	}
	return nil
}

// forgetMissing marks the persisted entries whose content the store no
// longer has (its directory was cleared) to be hashed and stored again.
func (sp *space) forgetMissing(x *index) {
	for _, d := range x.dirs {
		for _, e := range d.ents {
			if e.stored && !sp.m.cas.Has(e.sum) {
				e.stored, e.racy = false, true
			}
		}
	}
}
