package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Between full walks, a workspace's directories are watched with inotify,
// and a snapshot only looks at the entries the kernel says changed: its
// cost follows what changed, not the size of the workspace. A full walk is
// made when there is no index yet, when the kernel's event queue
// overflowed, when a directory was renamed or the workspace itself moved,
// when a watch cannot be added (the user's inotify limit), and in any case
// every fullWalkEvery: inotify does not see every change (writes through
// a shared memory mapping, changes made by another machine to a network
// file system), and the full walk catches those late rather than never.
// Workspace.NoWatch turns it off: every snapshot is a full walk.
const fullWalkEvery = 30 * time.Second

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_MOVED_FROM |
	unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR |
	unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

// watcher follows a workspace's directories with one inotify instance.
type watcher struct {
	fd int

	mu       sync.Mutex
	byWD     map[int32]string // watch → directory (relative)
	broken   bool             // a watch could not be added: full walks only
	warned   bool             // that was logged
	ready    bool             // a full walk has set the watches up
	lastFull time.Time
	buf      []byte
}

func newWatcher() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &watcher{fd: fd, byWD: map[int32]string{}, buf: make([]byte, 64<<10)}, nil
}

func (wt *watcher) close() {
	if wt != nil {
		unix.Close(wt.fd)
	}
}

// add watches the directory full (rel in the workspace). Called by the
// full walk before it lists the directory, so that any change after the
// listing is an event.
func (wt *watcher) add(full, rel string) {
	wd, err := unix.InotifyAddWatch(wt.fd, full, watchMask)
	wt.mu.Lock()
	defer wt.mu.Unlock()
	switch {
	case err == nil:
		wt.byWD[int32(wd)] = rel
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.ENOMEM):
		wt.broken = true // over fs.inotify.max_user_watches
	}
	// Other errors (the directory went): the walk sees that itself.
}

// events is what the events say may have changed: names by directory,
// and the directories whose watch went (deleted, or replaced: a new
// directory of the same name, which may even have the old inode number,
// has no watch and must be walked whole).
type events struct {
	dirty map[string]map[string]bool
	lost  map[string]bool
}

func (e *events) mark(dir, name string) {
	m := e.dirty[dir]
	if m == nil {
		m = map[string]bool{}
		e.dirty[dir] = m
	}
	m[name] = true
}

// drain reads every queued event. full says a full walk is needed
// instead (an overflow, a directory moved, a watch missing).
func (wt *watcher) drain() (d *events, full bool, err error) {
	d = &events{dirty: map[string]map[string]bool{}, lost: map[string]bool{}}
	wt.mu.Lock()
	defer wt.mu.Unlock()
	full = wt.broken
	for {
		n, err := unix.Read(wt.fd, wt.buf)
		if errors.Is(err, unix.EAGAIN) || n == 0 {
			return d, full, nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, true, fmt.Errorf("reading inotify events: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&wt.buf[off]))
			nameStart := off + unix.SizeofInotifyEvent
			end := nameStart + int(ev.Len)
			if end > n {
				return nil, true, errors.New("a truncated inotify event")
			}
			name := cString(wt.buf[nameStart:end])
			off = end
			mask := ev.Mask
			if mask&unix.IN_Q_OVERFLOW != 0 {
				full = true
				continue
			}
			rel, known := wt.byWD[ev.Wd]
			if !known {
				continue
			}
			switch {
			case mask&unix.IN_IGNORED != 0:
				delete(wt.byWD, ev.Wd)
				d.lost[rel] = true
			case mask&(unix.IN_MOVE_SELF|unix.IN_UNMOUNT) != 0:
				full = true // its path changed: the watches' paths are stale
			case mask&unix.IN_DELETE_SELF != 0:
				d.lost[rel] = true
			case name == "":
				if rel != "" { // the directory's own mode: its entry in its parent
					d.mark(parentDir(rel), path.Base(rel))
				}
			case mask&unix.IN_ISDIR != 0 && mask&(unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0:
				full = true // a directory renamed: the paths under it changed
			default:
				d.mark(rel, name)
			}
		}
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func parentDir(rel string) string {
	p := path.Dir(rel)
	if p == "." {
		return ""
	}
	return p
}

// scan brings x up to date: from the watcher's events when it can, else
// (or when full) by a full walk.
func (sp *space) scan(ctx context.Context, x *index, full bool) ([]delta, error) {
	wt := sp.watch
	if wt == nil {
		return sp.walk(ctx, x)
	}
	d, overflow, err := wt.drain()
	if err != nil {
		return nil, err
	}
	full = full || overflow
	now := sp.m.now()
	wt.mu.Lock()
	incremental := wt.ready && !full && now.Sub(wt.lastFull) < fullWalkEvery && !d.lost[""]
	if !incremental {
		wt.ready = false
	}
	wt.mu.Unlock()
	if incremental {
		return sp.incremental(ctx, x, d)
	}
	// Events queued from here on are kept for the next scan: a change
	// during the walk may or may not be seen by it.
	sp.fullWalks++
	deltas, err := sp.walk(ctx, x)
	if err != nil {
		return nil, err // ready stays false: the next scan walks again
	}
	wt.mu.Lock()
	wt.ready, wt.lastFull = !wt.broken, now
	warn := wt.broken && !wt.warned
	wt.warned = wt.warned || warn
	wt.mu.Unlock()
	if warn {
		sp.m.log.Warn("inotify watches unavailable (fs.inotify.max_user_watches?); every snapshot of this workspace walks it whole", "workspace", sp.cfg.Dir)
	}
	return deltas, nil
}

// incremental visits the entries the events named, walking new
// directories whole.
func (sp *space) incremental(ctx context.Context, x *index, ev *events) ([]delta, error) {
	w := sp.newWalker(ctx, x)
	var subdirs []string
	for dir, names := range ev.dirty {
		idx := x.dirs[dir]
		if idx == nil {
			continue // unknown: the event that made it known is its parent's
		}
		full := join(sp.real, dir)
		if dir == "" {
			full = sp.real
		}
		fd, err := unix.Open(full, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP), errors.Is(err, unix.EACCES):
			continue // gone (its parent's events say so) or unreadable
		case err != nil:
			return nil, fmt.Errorf("reading %s: %w", full, err)
		}
		var acc found
		for name := range names {
			if _, err := w.visit(fd, full, idx, dir, name, true, &acc); err != nil {
				unix.Close(fd)
				return nil, err
			}
		}
		unix.Close(fd)
		w.out = append(w.out, acc.out...)
		w.gone = append(w.gone, acc.gone...)
		subdirs = append(subdirs, acc.subdirs...)
	}
	// A directory whose watch went and that is a directory again: a new
	// one, walked whole.
	for rel := range ev.lost {
		if rel == "" {
			continue
		}
		if fi, err := os.Lstat(join(sp.real, rel)); err == nil && fi.IsDir() && !sp.excluded(rel, path.Base(rel)) {
			w.gone = append(w.gone, rel)
			subdirs = append(subdirs, rel)
		}
	}
	// What went first (a directory replaced by another of the same name
	// goes, then the new one is walked), then the new directories.
	w.removeGone()
	subdirs = dedupe(subdirs)
	for _, s := range subdirs {
		w.dir(s)
	}
	return w.finish()
}

// dedupe sorts directories and drops duplicates and those inside another:
// walking a directory walks what is inside it, and two walks of one
// directory must not run at once.
func dedupe(s []string) []string {
	slices.Sort(s)
	s = slices.Compact(s)
	out := s[:0]
	for _, d := range s {
		if len(out) > 0 && (out[len(out)-1] == "" || strings.HasPrefix(d, out[len(out)-1]+"/")) {
			continue
		}
		out = append(out, d)
	}
	return out
}
