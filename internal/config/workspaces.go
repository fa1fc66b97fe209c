package config

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse"
)

// Workspaces is the workspaces section: the directories agents work in,
// whose changes the gateway records before and after each action so that
// they can be shown (gatehouse diff) and rolled back (gatehouse rollback),
// and the content store those records keep file contents in.
type Workspaces struct {
	// Budget is the most the content store (STATE/cas) may take on disk,
	// e.g. "2GiB"; default 1GiB. Content that does not fit is recorded
	// by hash only and cannot be restored.
	Budget string `yaml:"budget"`
	// MaxFileSize is the largest file whose content is stored, e.g.
	// "64MiB"; default 16MiB.
	MaxFileSize string `yaml:"max_file_size"`
	// Dirs are the workspaces.
	Dirs []WorkspaceDir `yaml:"dirs"`
}

// WorkspaceDir is one workspace.
type WorkspaceDir struct {
	Path string `yaml:"path"` // absolute
	// Agents are the agents it belongs to: names or globs ("*": all).
	Agents []string `yaml:"agents"`
	// Snapshot is when actions are recorded: "writes" (the default), the
	// actions whose analysis says they may write in it, or "always",
	// every action of its agents.
	Snapshot string `yaml:"snapshot"`
	// Exclude lists what is never recorded: a name at any depth (".git",
	// "node_modules", "*.o") or, with a '/', a path from the workspace's
	// root ("build/cache"); path.Match patterns.
	Exclude []string `yaml:"exclude"`
	// MaxFiles bounds the entries walked (default 200000); a workspace
	// with more refuses its actions rather than slow each down.
	MaxFiles int `yaml:"max_files"`
	// Watch follows inotify events between full walks (the default);
	// false walks the whole workspace at every snapshot, for file systems
	// whose changes inotify does not see (a network file system written
	// from elsewhere).
	Watch *bool `yaml:"watch"`
}

// Snapshot modes.
const (
	SnapshotWrites = "writes"
	SnapshotAlways = "always"
)

// Defaults of the content store.
const (
	DefaultBudget      = 1 << 30
	DefaultMaxFileSize = 16 << 20
)

// StoreBudget returns the budget in bytes (the default when unset).
func (w Workspaces) StoreBudget() int64 {
	n, err := ParseSize(w.Budget)
	if err != nil || w.Budget == "" {
		return DefaultBudget
	}
	return n
}

// StoreMaxFileSize returns the per-file limit in bytes.
func (w Workspaces) StoreMaxFileSize() int64 {
	n, err := ParseSize(w.MaxFileSize)
	if err != nil || w.MaxFileSize == "" {
		return DefaultMaxFileSize
	}
	return n
}

var sizePattern = regexp.MustCompile(`^([0-9]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$`)

// ParseSize reads a size in bytes: a number, optionally with a unit (KB,
// MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB in powers of 1024).
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 500MB or 2GiB", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// Validate checks the section; n is its YAML node (nil if the file has
// none), for the positions of the problems, returned one a line as
// FILE:LINE:COL: message. That the directories exist is checked when the
// daemon starts.
func (w Workspaces) Validate(file string, n *yaml.Node) []string {
	var p problems
	at := func(parent *yaml.Node, key string) *yaml.Node {
		if v := field(parent, key); v != nil {
			return v
		}
		if parent != nil {
			return parent
		}
		return n
	}
	for _, s := range []struct{ key, val string }{{"budget", w.Budget}, {"max_file_size", w.MaxFileSize}} {
		if s.val == "" {
			continue
		}
		if _, err := ParseSize(s.val); err != nil {
			p.add(file, at(n, s.key), "workspaces: %s: %v", s.key, err)
		}
	}
	dirsNode := field(n, "dirs")
	seen := map[string]int{} // clean path → first index
	var order []string
	for i, d := range w.Dirs {
		var item *yaml.Node
		if dirsNode != nil && dirsNode.Kind == yaml.SequenceNode && i < len(dirsNode.Content) {
			item = dirsNode.Content[i]
		}
		what := fmt.Sprintf("workspaces: dirs[%d]", i)
		clean := filepath.Clean(d.Path)
		switch {
		case d.Path == "":
			p.add(file, at(item, "path"), "%s: path: is required", what)
		case !filepath.IsAbs(d.Path):
			p.add(file, at(item, "path"), "%s: path: %q is not an absolute path", what, d.Path)
		case clean == "/":
			p.add(file, at(item, "path"), "%s: path: the whole file system cannot be a workspace", what)
		default:
			what = "workspace " + clean
			if first, dup := seen[clean]; dup {
				p.add(file, at(item, "path"), "%s: given twice (first at dirs[%d]); list its agents once", what, first)
			}
			for _, other := range order {
				if strings.HasPrefix(clean, other+"/") || strings.HasPrefix(other, clean+"/") {
					p.add(file, at(item, "path"), "%s: is inside or around %s (dirs[%d]): workspaces must not nest", what, other, seen[other])
				}
			}
			if _, dup := seen[clean]; !dup {
				seen[clean] = i
				order = append(order, clean)
			}
		}
		if len(d.Agents) == 0 {
			p.add(file, at(item, "agents"), "%s: agents: is required (agent names or globs; \"*\" for every agent)", what)
		}
		for _, a := range d.Agents {
			if strings.ContainsAny(a, "*?[") {
				if _, err := path.Match(a, ""); err != nil {
					p.add(file, at(item, "agents"), "%s: agents: %q is not a valid glob", what, a)
				}
				continue
			}
			if err := gatehouse.ValidateAgentName(a); err != nil {
				p.add(file, at(item, "agents"), "%s: agents: %s", what, gatehouse.ErrorMessage(err))
			}
		}
		switch d.Snapshot {
		case "", SnapshotWrites, SnapshotAlways:
		default:
			p.add(file, at(item, "snapshot"), "%s: snapshot: must be writes or always, not %q", what, d.Snapshot)
		}
		for _, x := range d.Exclude {
			_, err := path.Match(x, "")
			switch {
			case strings.TrimSpace(x) == "":
				p.add(file, at(item, "exclude"), "%s: exclude: an empty pattern", what)
			case err != nil:
				p.add(file, at(item, "exclude"), "%s: exclude: %q is not a valid pattern", what, x)
			case strings.HasPrefix(x, "/") || x == ".." || strings.HasPrefix(x, "../") || strings.Contains(x, "/../"):
				p.add(file, at(item, "exclude"), "%s: exclude: %q must be a name or a path inside the workspace", what, x)
			}
		}
		if d.MaxFiles < 0 {
			p.add(file, at(item, "max_files"), "%s: max_files: must not be negative", what)
		}
	}
	return p
}
