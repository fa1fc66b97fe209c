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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse"
)

// delta is one path whose state changed between two walks: old is nil
// for a path that appeared, new nil for one that went.
type delta struct {
	path     string
	old, new *entry
}

// walkers bounds the directories read at once. Stat calls are cheap but
// not free in a VM; four in flight halve a walk's time on two cores.
const walkers = 4

// racyWindow: a file hashed within this time of its last change is hashed
// again by the next walk. It covers file systems whose timestamps are as
// coarse as a second.
const racyWindow = 2 * time.Second

// walker is one walk of a workspace, updating its index in place.
type walker struct {
	sp  *space
	x   *index
	gen uint64
	now time.Time

	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex // guards x.dirs during the walk, deltas, gone, err
	out   []delta
	gone  []string // directories that disappeared (or stopped being directories)
	err   error
	seen  atomic.Int64
	ctx   context.Context
	limit int
}

// walk brings x up to date with the workspace on disk, reading every
// directory, and returns what changed. Every changed regular file is
// hashed and its content put in the store, durably before walk returns.
// On error x may be partly updated: the caller drops it.
func (sp *space) walk(ctx context.Context, x *index) ([]delta, error) {
	w := sp.newWalker(ctx, x)
	root, err := os.Lstat(sp.real)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// A workspace that does not exist (yet) is empty.
		w.vanish("")
	case err != nil:
		return nil, err
	case !root.IsDir():
		return nil, fmt.Errorf("%s is not a directory", sp.real)
	default:
		w.dir("")
	}
	return w.finish()
}

func (sp *space) newWalker(ctx context.Context, x *index) *walker {
	x.gen++
	w := &walker{sp: sp, x: x, gen: x.gen, now: sp.m.now(), sem: make(chan struct{}, walkers),
		ctx: ctx, limit: sp.cfg.MaxFiles}
	if w.limit <= 0 {
		w.limit = DefaultMaxFiles
	}
	return w
}

// finish waits for the walk's directories, drops the directories that
// went, and makes the new content durable.
func (w *walker) finish() ([]delta, error) {
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	w.removeGone()
	if err := w.sp.m.cas.Sync(); err != nil {
		return nil, err
	}
	return w.out, nil
}

func (w *walker) removeGone() {
	for _, g := range w.gone {
		w.removeTree(g)
	}
	w.gone = nil
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *walker) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// dir walks one directory in a goroutine of its own (bounded by sem).
func (w *walker) dir(rel string) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.sem <- struct{}{}
		defer func() { <-w.sem }()
		if err := w.ctx.Err(); err != nil {
			w.fail(err)
			return
		}
		if w.failed() {
			return
		}
		if err := w.readDir(rel); err != nil {
			w.fail(err)
		}
	}()
}

// vanish records that the directory rel (and all under it) is gone.
func (w *walker) vanish(rel string) {
	w.mu.Lock()
	w.gone = append(w.gone, rel)
	w.mu.Unlock()
}

func (w *walker) readDir(rel string) error {
	full := w.sp.real
	if rel != "" {
		full += "/" + rel
	}
	if wt := w.sp.watch; wt != nil {
		wt.add(full, rel) // before the listing: a change after it is an event
	}
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		w.vanish(rel) // it went (or was replaced) after its parent was read
		return nil
	case errors.Is(err, unix.EACCES):
		// Contents unknown: what the index had stands. Logged, not fatal:
		// a directory only root can read is common in a workspace.
		w.sp.m.log.Debug("workspace directory not readable; its contents are not recorded", "dir", full)
		return nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", full, err)
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading %s: %w", full, err)
	}
	if n := w.seen.Add(int64(len(names))); n > int64(w.limit) {
		return gatehouse.Errorf(gatehouse.EUNAVAILABLE, "workspace %s has more than %d entries (max_files): exclude some, or raise the limit", w.sp.cfg.Dir, w.limit)
	}

	w.mu.Lock()
	d := w.x.dirs[rel]
	if d == nil {
		d = &dirIndex{ents: make(map[string]*entry, len(names))}
		w.x.dirs[rel] = d
	}
	w.mu.Unlock()

	var acc found
	known := 0
	for _, name := range names {
		present, err := w.visit(fd, full, d, rel, name, false, &acc)
		if err != nil {
			return err
		}
		if present && d.ents[name] != nil {
			known++
		}
	}
	if known < len(d.ents) {
		for name, e := range d.ents {
			if e.gen == w.gen {
				continue
			}
			acc.remove(d, rel, name)
		}
	}
	w.collect(&acc)
	return nil
}

// found is what visiting entries found: changes, directories that went,
// and directories to walk.
type found struct {
	out     []delta
	gone    []string
	subdirs []string
}

// remove reports the entry name of d (at rel) as gone.
func (f *found) remove(d *dirIndex, rel, name string) {
	e := d.ents[name]
	p := join(rel, name)
	c := *e
	f.out = append(f.out, delta{path: p, old: &c})
	if e.typ == gatehouse.FileDir {
		f.gone = append(f.gone, p)
	}
	delete(d.ents, name)
}

func join(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// collect hands what a directory's visits found to the walk, and walks
// the subdirectories.
func (w *walker) collect(f *found) {
	w.mu.Lock()
	w.out = append(w.out, f.out...)
	w.gone = append(w.gone, f.gone...)
	w.mu.Unlock()
	for _, s := range f.subdirs {
		w.dir(s)
	}
}

// visit stats the entry name of the directory fd (at rel, indexed as d),
// hashes it if its stat changed, and records it in d. present says it
// exists and is recorded. A directory is queued to be walked (all of them
// in a full walk; in an incremental one only a new one, or one that was
// not a directory). An entry that is gone — or excluded, or a kind not
// recorded — is reported as gone when missing is set (an incremental
// walk); a full walk finds those by what its listing lacks.
func (w *walker) visit(fd int, full string, d *dirIndex, rel, name string, missing bool, acc *found) (present bool, err error) {
	p := join(rel, name)
	old := d.ents[name]
	gone := func() (bool, error) {
		if missing && old != nil {
			acc.remove(d, rel, name)
		}
		return false, nil
	}
	if w.sp.excluded(p, name) {
		return gone()
	}
	st, err := lstatAt(fd, name)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return gone()
	}
	if err != nil {
		return false, fmt.Errorf("stat %s/%s: %w", full, name, err)
	}
	if st.typ == "" { // a FIFO, socket or device: not recorded
		return gone()
	}
	if st.typ == gatehouse.FileDir && (!missing || old == nil || old.typ != gatehouse.FileDir || old.ino != st.ino) {
		acc.subdirs = append(acc.subdirs, p)
	}
	if missing && old != nil && old.typ == gatehouse.FileDir && st.typ == gatehouse.FileDir && old.ino != st.ino {
		acc.gone = append(acc.gone, p) // another directory now: what was in the old one went
	}
	if old != nil && old.sameStat(&st) {
		old.gen = w.gen
		return true, nil
	}
	n := st
	switch st.typ {
	case gatehouse.FileRegular:
		if err := w.hash(fd, name, &n); err != nil {
			return false, err
		}
	case gatehouse.FileSymlink:
		t, err := readlinkAt(fd, name)
		if errors.Is(err, unix.ENOENT) {
			return gone()
		}
		if err != nil {
			return false, fmt.Errorf("readlink %s/%s: %w", full, name, err)
		}
		n.target = t
	}
	n.gen = w.gen
	if old != nil && old.typ == gatehouse.FileDir && n.typ != gatehouse.FileDir {
		acc.gone = append(acc.gone, p)
	}
	if !sameState(old, &n) {
		var before *entry
		if old != nil {
			c := *old
			before = &c
		}
		after := n
		acc.out = append(acc.out, delta{path: p, old: before, new: &after})
	}
	d.ents[name] = &n
	return true, nil
}

// removeTree drops the index's directories at and under rel (a directory
// that went, or stopped being one), reporting every entry in them as gone;
// rel "" is the whole workspace. Its own entry in its parent was reported
// by the parent's walk. It runs after the walk, when nothing else touches
// the index.
func (w *walker) removeTree(rel string) {
	for dir, d := range w.x.dirs {
		if rel != "" && dir != rel && !strings.HasPrefix(dir, rel+"/") {
			continue
		}
		for name, e := range d.ents {
			c := *e
			w.out = append(w.out, delta{path: path.Join(dir, name), old: &c})
		}
		if dir == "" {
			d.ents = map[string]*entry{}
			continue
		}
		delete(w.x.dirs, dir)
	}
}

// hash reads a regular file, hashes it and puts its content in the store
// (when within the store's limits), filling n's sum, stored and racy.
func (w *walker) hash(dirfd int, name string, n *entry) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		n.sum, n.stored = "", false // unreadable: recorded by its stat alone
		return nil
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) {
		n.sum, n.racy = "", true // replaced under us: the next walk looks again
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	cas := w.sp.m.cas
	if n.size <= cas.MaxFileSize() {
		data := make([]byte, 0, n.size+1)
		for {
			if len(data) == cap(data) {
				data = append(data, 0)[:len(data)]
			}
			m, err := f.Read(data[len(data):cap(data)])
			data = data[:len(data)+m]
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
			if int64(len(data)) > cas.MaxFileSize() {
				break // it grew past the limit while read: hash only
			}
		}
		if int64(len(data)) <= cas.MaxFileSize() {
			sum, stored, err := cas.Put(data, false)
			if err != nil {
				return err
			}
			n.sum, n.stored = sum, stored
			n.size = int64(len(data))
			w.settle(f, n)
			return nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	n.sum, n.stored, n.size = hex.EncodeToString(h.Sum(nil)), false, size
	w.settle(f, n)
	return nil
}

// settle marks n racy when the file changed while it was read, or so
// recently that a change in the same timestamp tick would not show.
func (w *walker) settle(f *os.File, n *entry) {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Size != n.size ||
		unix.TimespecToNsec(st.Mtim) != n.mtime || unix.TimespecToNsec(st.Ctim) != n.ctime {
		n.racy = true
		return
	}
	changed := max(n.mtime, n.ctime)
	n.racy = w.now.UnixNano()-changed < racyWindow.Nanoseconds()
}

// statx is used while the kernel has it; else fstatat.
var noStatx atomic.Bool

// lstatAt stats name in dirfd without following a symlink. typ is "" for
// kinds of file that are not recorded.
func lstatAt(dirfd int, name string) (entry, error) {
	var e entry
	var mode uint32
	if !noStatx.Load() {
		var sx unix.Statx_t
		err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_SYNC_AS_STAT,
			unix.STATX_TYPE|unix.STATX_MODE|unix.STATX_SIZE|unix.STATX_MTIME|unix.STATX_CTIME|unix.STATX_INO, &sx)
		switch {
		case errors.Is(err, unix.ENOSYS):
			noStatx.Store(true)
		case err != nil:
			return e, err
		default:
			mode = uint32(sx.Mode)
			e.size, e.ino = int64(sx.Size), sx.Ino
			e.mtime = sx.Mtime.Sec*1e9 + int64(sx.Mtime.Nsec)
			e.ctime = sx.Ctime.Sec*1e9 + int64(sx.Ctime.Nsec)
		}
	}
	if noStatx.Load() {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return e, err
		}
		mode = st.Mode
		e.size, e.ino = st.Size, st.Ino
		e.mtime, e.ctime = unix.TimespecToNsec(st.Mtim), unix.TimespecToNsec(st.Ctim)
	}
	e.mode = mode & 0o7777
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.typ = gatehouse.FileRegular
	case unix.S_IFDIR:
		e.typ = gatehouse.FileDir
		e.size = 0
	case unix.S_IFLNK:
		e.typ = gatehouse.FileSymlink
	}
	return e, nil
}

func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size > 1<<16 {
			return "", errors.New("symlink target too long")
		}
	}
}
