package cas_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/cas"
)

func open(t *testing.T, dir string, budget, maxFile int64) *cas.Store {
	t.Helper()
	s, err := cas.Open(dir, cas.Options{Budget: budget, MaxFileSize: maxFile})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// objects counts the objects on disk and the bytes they take.
func objects(t *testing.T, dir string) (n int, size int64) {
	t.Helper()
	filepath.Walk(filepath.Join(dir, "objects"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
			size += fi.Size()
		}
		return nil
	})
	return n, size
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestPut(t *testing.T) {
	text := bytes.Repeat([]byte("the same line of text, again and again\n"), 1000)
	noise := random(10000)
	for _, tc := range []struct {
		name       string
		budget     int64
		maxFile    int64
		puts       [][]byte
		wantStored []bool
		wantObjs   int
		// wantUsed: a bound on the bytes on disk (0 means exactly none).
		maxUsed int64
		minUsed int64
	}{
		{"dedupe", 1 << 20, 1 << 20, [][]byte{text, text, text}, []bool{true, true, true}, 1, int64(len(text)) / 4, 1},
		{"compressible content is compressed", 1 << 20, 1 << 20, [][]byte{text}, []bool{true}, 1, int64(len(text)) / 4, 1},
		{"incompressible content is kept raw", 1 << 20, 1 << 20, [][]byte{noise}, []bool{true}, 1, int64(len(noise)) + 1, int64(len(noise)) + 1},
		{"empty content", 1 << 20, 1 << 20, [][]byte{{}}, []bool{true}, 1, 1, 1},
		{"over the file limit", 1 << 20, 1000, [][]byte{noise}, []bool{false}, 0, 0, 0},
		{"over the budget", 15000, 1 << 20, [][]byte{noise, random(10000)}, []bool{true, false}, 1, 10001, 10001},
		{"stored content dedupes even when the budget is spent", 10001, 1 << 20, [][]byte{noise, noise}, []bool{true, true}, 1, 10001, 10001},
		{"zero budget stores nothing", 0, 1 << 20, [][]byte{text}, []bool{false}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, tc.budget, tc.maxFile)
			for i, data := range tc.puts {
				sum, stored, err := s.Put(data, true)
				if err != nil {
					t.Fatal(err)
				}
				if sum != cas.Sum(data) {
					t.Errorf("put %d: sum %s, want %s", i, sum, cas.Sum(data))
				}
				if stored != tc.wantStored[i] {
					t.Errorf("put %d: stored = %v, want %v", i, stored, tc.wantStored[i])
				}
				if stored {
					got, err := s.Get(sum)
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("put %d: Get = %d bytes, %v; want the content back", i, len(got), err)
					}
				} else if s.Has(sum) {
					t.Errorf("put %d: Has(unstored) = true", i)
				}
			}
			n, size := objects(t, dir)
			if n != tc.wantObjs {
				t.Errorf("%d objects on disk, want %d", n, tc.wantObjs)
			}
			if s.Used() != size {
				t.Errorf("used = %d, but the objects take %d bytes", s.Used(), size)
			}
			if u := s.Used(); u > tc.maxUsed || u < tc.minUsed {
				t.Errorf("used = %d, want %d..%d", u, tc.minUsed, tc.maxUsed)
			}
			if u := s.Used(); u > tc.budget {
				t.Errorf("used %d is over the budget %d", u, tc.budget)
			}
			// A new store over the same directory counts the same.
			if u := open(t, dir, tc.budget, tc.maxFile).Used(); u != s.Used() {
				t.Errorf("reopened: used = %d, want %d", u, s.Used())
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1<<20, 1<<20)
	data := bytes.Repeat([]byte("x"), 1000)
	sum, _, err := s.Put(data, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(cas.Sum([]byte("never stored"))); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Errorf("Get(absent) = %v, want ENOTFOUND", err)
	}
	if _, err := s.Get("../../etc/passwd"); gatehouse.ErrorCode(err) != gatehouse.EINVALID {
		t.Errorf("Get(bad name) = %v, want EINVALID", err)
	}
	// Damage the object: Get must refuse it rather than return other content.
	obj := filepath.Join(dir, "objects", sum[:2], sum[2:])
	if err := os.WriteFile(obj, append([]byte{0}, []byte("something else")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(sum); gatehouse.ErrorCode(err) != gatehouse.EINTERNAL {
		t.Errorf("Get(damaged) = %v, want EINTERNAL", err)
	}
	if err := os.WriteFile(obj, []byte{9, 1, 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(sum); gatehouse.ErrorCode(err) != gatehouse.EINTERNAL {
		t.Errorf("Get(unknown format) = %v, want EINTERNAL", err)
	}
}

func TestConcurrentPutsOfOneContent(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1<<20, 1<<20)
	data := random(50000)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stored, err := s.Put(data, false); err != nil || !stored {
				t.Errorf("Put = %v, %v", stored, err)
			}
		}()
	}
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if n, _ := objects(t, dir); n != 1 {
		t.Errorf("%d objects, want 1", n)
	}
	if u := s.Used(); u != int64(len(data))+1 {
		t.Errorf("used = %d, want %d (counted once)", u, len(data)+1)
	}
}
