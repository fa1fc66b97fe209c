package snapshot

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse"
)

// entry is what the index knows of one path: what a stat says, the
// content's hash (whose content is in the store when stored), and, for
// symlinks, the target. gen is the walk that last saw it.
type entry struct {
	typ    gatehouse.FileType
	mode   uint32 // permission bits with setuid, setgid, sticky
	size   int64
	mtime  int64 // ns
	ctime  int64 // ns
	ino    uint64
	sum    string // hex SHA-256 of a regular file; "" if it could not be read
	target string // of a symlink
	stored bool
	// racy: the file was hashed so soon after it last changed that a
	// change within the same timestamp tick could hide behind an
	// unchanged stat; the next walk hashes it again.
	racy bool
	gen  uint64
}

// sameStat reports whether a stat taken now matches what e recorded, so
// that e's hash still stands. Directories compare by type, mode and inode
// only: their times change whenever an entry is added or removed, which
// the walk sees in their contents.
func (e *entry) sameStat(n *entry) bool {
	if e.typ != n.typ || e.mode != n.mode {
		return false
	}
	if e.typ == gatehouse.FileDir {
		return e.ino == n.ino
	}
	return !e.racy && e.size == n.size && e.mtime == n.mtime && e.ctime == n.ctime && e.ino == n.ino
}

// sameState reports whether two entries describe the same type, mode and
// content: whether anything changed that effects report. A file that
// could not be read compares by its stat.
func sameState(a, b *entry) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.typ != b.typ || a.mode != b.mode {
		return false
	}
	switch a.typ {
	case gatehouse.FileRegular:
		if a.sum == "" || b.sum == "" {
			return a.sum == b.sum && a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime && a.ino == b.ino
		}
		return a.sum == b.sum && a.size == b.size
	case gatehouse.FileSymlink:
		return a.target == b.target
	}
	return true
}

func (e *entry) state() *gatehouse.FileState {
	if e == nil {
		return nil
	}
	s := &gatehouse.FileState{Type: e.typ, Mode: fmt.Sprintf("%04o", e.mode)}
	switch e.typ {
	case gatehouse.FileRegular:
		s.Size, s.SHA256, s.Stored = e.size, e.sum, e.stored && e.sum != ""
	case gatehouse.FileSymlink:
		s.Target = e.target
	}
	return s
}

// dirIndex holds the entries of one directory, by name.
type dirIndex struct {
	ents map[string]*entry
}

// index is a workspace's state as of its last walk: its directories by
// path relative to the root ("" is the root itself).
type index struct {
	dirs map[string]*dirIndex
	gen  uint64
}

func newIndex() *index {
	return &index{dirs: map[string]*dirIndex{"": {ents: map[string]*entry{}}}}
}

func (x *index) count() int {
	n := 0
	for _, d := range x.dirs {
		n += len(d.ents)
	}
	return n
}

// record is an entry as it is persisted.
type record struct {
	Dir, Name    string
	Type         string
	Mode         uint32
	Size         int64
	Mtime, Ctime int64
	Ino          uint64
	Sum, Target  string
	Stored, Racy bool
}

// indexHeader begins a persisted index: the format, and the directory it
// is the index of (a file found under another name is not used).
type indexHeader struct {
	Version int
	Root    string
}

const indexVersion = 1

// save writes x to file atomically.
func (x *index) save(file, root string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".index-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	enc := gob.NewEncoder(w)
	err = enc.Encode(indexHeader{Version: indexVersion, Root: root})
	recs := make([]record, 0, x.count())
	for dir, d := range x.dirs {
		for name, e := range d.ents {
			recs = append(recs, record{Dir: dir, Name: name, Type: string(e.typ), Mode: e.mode, Size: e.size,
				Mtime: e.mtime, Ctime: e.ctime, Ino: e.ino, Sum: e.sum, Target: e.target, Stored: e.stored, Racy: e.racy})
		}
	}
	if err == nil {
		err = enc.Encode(recs)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// loadIndex reads the index persisted in file for root. A missing file,
// or one for another root or format, is (nil, nil): the workspace is
// walked from scratch.
func loadIndex(file, root string) (*index, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := gob.NewDecoder(bufio.NewReader(f))
	var h indexHeader
	if err := dec.Decode(&h); err != nil || h.Version != indexVersion || h.Root != root {
		return nil, nil
	}
	var recs []record
	if err := dec.Decode(&recs); err != nil {
		return nil, nil // damaged: walk from scratch
	}
	x := newIndex()
	for _, r := range recs {
		d := x.dirs[r.Dir]
		if d == nil {
			d = &dirIndex{ents: map[string]*entry{}}
			x.dirs[r.Dir] = d
		}
		d.ents[r.Name] = &entry{typ: gatehouse.FileType(r.Type), mode: r.Mode, size: r.Size, mtime: r.Mtime, ctime: r.Ctime,
			ino: r.Ino, sum: r.Sum, target: r.Target, stored: r.Stored, racy: r.Racy}
	}
	return x, nil
}
