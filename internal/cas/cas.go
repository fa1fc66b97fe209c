// Package cas is a content-addressed store of file contents on local
// disk: each content is kept once, under its SHA-256, compressed with
// DEFLATE when that makes it smaller, within a budget of bytes on disk.
// The workspace snapshots (internal/snapshot) keep the content of every
// file they record here, so that a rollback can write it back.
//
// Layout: DIR/objects/ab/cdef… (the hex SHA-256 split after two
// characters). Each object is one byte of format (0 raw, 1 DEFLATE)
// followed by the bytes. An object is written to a temporary file and
// renamed into place, so a reader never sees half of one; Get checks the
// hash of what it reads, so a damaged object is an error, never wrong
// content.
//
// The budget bounds the bytes of objects on disk. Content that does not
// fit — a file larger than the per-file limit, or any content once the
// budget is used up — is not stored: Put reports it, and its callers
// record such a file by hash only. Nothing is ever deleted: reclaiming
// space (garbage collection of objects no journal entry needs) is not
// implemented; raise the budget or move the directory aside.
package cas

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-dev/gatehouse"
)

// Defaults.
const (
	DefaultBudget      = 1 << 30  // 1 GiB on disk
	DefaultMaxFileSize = 16 << 20 // 16 MiB per file
)

// Options configure a store.
type Options struct {
	// Budget is the most bytes the store's objects may take on disk; 0
	// stores nothing.
	Budget int64
	// MaxFileSize is the largest content stored; larger content is never
	// stored (its callers still hash it).
	MaxFileSize int64
}

// Store is a content-addressed store. It is safe for concurrent use.
type Store struct {
	dir  string // DIR/objects
	opts Options

	mu       sync.Mutex
	used     int64
	inflight map[string]chan struct{} // objects being written
	dirs     map[string]bool          // fan-out directories known to exist
	unsynced []string                 // objects written without fsync (Put with durable false)
}

// Open opens (creating it, mode 0700) the store in dir and counts the
// bytes its objects take.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Budget < 0 || opts.MaxFileSize < 0 {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "cas: negative budget or file size")
	}
	objects := filepath.Join(dir, "objects")
	if err := os.MkdirAll(objects, 0o700); err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Open", err, "the content store cannot be created")
	}
	s := &Store{dir: objects, opts: opts, inflight: map[string]chan struct{}{}, dirs: map[string]bool{}}
	err := filepath.WalkDir(objects, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != objects {
				s.dirs[filepath.Base(p)] = true
			}
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			s.used += fi.Size()
		}
		return nil
	})
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Open", err, "the content store cannot be read")
	}
	return s, nil
}

// Sum returns the hex SHA-256 of data: the name content is stored under.
func Sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// MaxFileSize is the largest content Put stores.
func (s *Store) MaxFileSize() int64 { return s.opts.MaxFileSize }

// Used returns the bytes the objects take on disk.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

func validSum(sum string) bool {
	if len(sum) != 64 {
		return false
	}
	_, err := hex.DecodeString(sum)
	return err == nil
}

func (s *Store) path(sum string) string { return filepath.Join(s.dir, sum[:2], sum[2:]) }

// Has reports whether content with the given hex SHA-256 is stored.
func (s *Store) Has(sum string) bool {
	if !validSum(sum) {
		return false
	}
	_, err := os.Lstat(s.path(sum))
	return err == nil
}

// Object formats: the first byte of an object.
const (
	formatRaw     = 0
	formatDeflate = 1
)

// Put stores data under its SHA-256 and returns it, with whether the
// content is stored (now or before). Content over MaxFileSize, or that
// does not fit in what is left of the budget, is not stored; that is not
// an error. With durable, the object is synced to disk before Put
// returns; without, Sync must be called before relying on it.
func (s *Store) Put(data []byte, durable bool) (sum string, stored bool, err error) {
	sum = Sum(data)
	if int64(len(data)) > s.opts.MaxFileSize {
		return sum, false, nil
	}
	p := s.path(sum)
	for {
		s.mu.Lock()
		ch, busy := s.inflight[sum]
		if !busy {
			break
		}
		s.mu.Unlock()
		<-ch // someone else writes the same content: wait, then look again
	}
	// Under s.mu.
	if _, err := os.Lstat(p); err == nil {
		s.mu.Unlock()
		return sum, true, nil
	}
	ch := make(chan struct{})
	s.inflight[sum] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, sum)
		s.mu.Unlock()
		close(ch)
	}()

	obj := encode(data)
	s.mu.Lock()
	if s.used+int64(len(obj)) > s.opts.Budget {
		s.mu.Unlock()
		return sum, false, nil
	}
	s.used += int64(len(obj)) // reserved; given back if the write fails
	s.mu.Unlock()
	if err := s.write(p, sum[:2], obj, durable); err != nil {
		s.mu.Lock()
		s.used -= int64(len(obj))
		s.mu.Unlock()
		return sum, false, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Put", err, "the content store cannot be written")
	}
	return sum, true, nil
}

// writers are DEFLATE compressors for reuse: a new one costs about a
// megabyte of allocation.
var writers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
	return w
}}

// encode compresses data when that saves at least an eighth of it.
func encode(data []byte) []byte {
	if len(data) >= 64 {
		var b bytes.Buffer
		b.Grow(len(data)/2 + 16)
		b.WriteByte(formatDeflate)
		w := writers.Get().(*flate.Writer)
		w.Reset(&b)
		_, _ = w.Write(data)
		err := w.Close()
		w.Reset(io.Discard)
		writers.Put(w)
		if err == nil && b.Len()-1 <= len(data)-len(data)/8 {
			return b.Bytes()
		}
	}
	obj := make([]byte, 1+len(data))
	obj[0] = formatRaw
	copy(obj[1:], data)
	return obj
}

func (s *Store) write(p, fan string, obj []byte, durable bool) error {
	dir := filepath.Dir(p)
	s.mu.Lock()
	known := s.dirs[fan]
	s.mu.Unlock()
	if !known {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		s.mu.Lock()
		s.dirs[fan] = true
		s.mu.Unlock()
		if durable {
			if err := syncDir(s.dir); err != nil {
				return err
			}
		}
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(obj); err != nil {
		tmp.Close()
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	if durable {
		return syncDir(dir)
	}
	s.mu.Lock()
	s.unsynced = append(s.unsynced, p)
	s.mu.Unlock()
	return nil
}

// Sync makes durable every object Put without durable: one sync of the
// file system the store is on, when there are many, else one fsync each.
func (s *Store) Sync() error {
	s.mu.Lock()
	pending := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if len(pending) > 64 {
		fd, err := unix.Open(s.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Sync", err, "the content store cannot be synced")
		}
		defer unix.Close(fd)
		if err := unix.Syncfs(fd); err != nil {
			return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Sync", err, "the content store cannot be synced")
		}
		return nil
	}
	dirs := map[string]bool{s.dir: true}
	for _, p := range pending {
		f, err := os.Open(p)
		if err != nil {
			return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Sync", err, "the content store cannot be synced")
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Sync", err, "the content store cannot be synced")
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Sync", err, "the content store cannot be synced")
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// maxRead bounds what Get reads, whatever the object claims.
const maxRead = 1 << 31

// Get returns the content stored under sum. ENOTFOUND if none is;
// EINTERNAL if the object is damaged (its content does not hash to sum).
func (s *Store) Get(sum string) ([]byte, error) {
	if !validSum(sum) {
		return nil, gatehouse.Errorf(gatehouse.EINVALID, "invalid content hash %q", sum)
	}
	obj, err := os.ReadFile(s.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, gatehouse.Errorf(gatehouse.ENOTFOUND, "content %s is not stored", sum)
	}
	if err != nil {
		return nil, gatehouse.WrapError(gatehouse.EUNAVAILABLE, "cas.Get", err, "the content store cannot be read")
	}
	damaged := func(why string) error {
		return gatehouse.WrapError(gatehouse.EINTERNAL, "cas.Get", errors.New(why), fmt.Sprintf("stored content %s is damaged", sum))
	}
	if len(obj) == 0 {
		return nil, damaged("empty object")
	}
	var data []byte
	switch obj[0] {
	case formatRaw:
		data = obj[1:]
	case formatDeflate:
		r := flate.NewReader(bytes.NewReader(obj[1:]))
		data, err = io.ReadAll(io.LimitReader(r, maxRead))
		r.Close()
		if err != nil {
			return nil, damaged(err.Error())
		}
	default:
		return nil, damaged(fmt.Sprintf("unknown format %d", obj[0]))
	}
	if Sum(data) != sum {
		return nil, damaged("hash mismatch")
	}
	return data, nil
}
