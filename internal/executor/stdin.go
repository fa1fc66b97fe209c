package executor

import (
	"io"
	"os"
	"sync"
)

// feed copies a Spec's Stdin into the write end of the process's stdin
// pipe, as fast as the process reads. Its end — the source's EOF or error,
// or the process closing its stdin — closes the pipe, so the process sees
// end of file. stop closes it from outside and tells how much the process
// was given.
type feed struct {
	src io.Reader
	w   *os.File

	mu      sync.Mutex
	n       int64 // bytes written into the pipe
	stopped bool  // the run is over: no more reads, no more writes
	closed  bool
}

func newFeed(src io.Reader, w *os.File) *feed { return &feed{src: src, w: w} }

func (f *feed) run() {
	buf := chunks.Get().(*[chunkSize]byte)
	defer chunks.Put(buf)
	for {
		f.mu.Lock()
		stopped := f.stopped
		f.mu.Unlock()
		if stopped {
			return
		}
		// A Read that blocks is not waited for: stop does not take the
		// lock a Read would hold.
		n, rerr := f.src.Read(buf[:])
		f.mu.Lock()
		if f.stopped {
			f.mu.Unlock()
			return // what a late Read returned is dropped
		}
		var werr error
		if n > 0 {
			var m int
			m, werr = f.w.Write(buf[:n])
			f.n += int64(m)
		}
		if rerr != nil || werr != nil {
			// EOF or a broken source ends the input; EPIPE means the
			// process closed its stdin or has gone: nothing more to give.
			f.closeLocked()
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
	}
}

func (f *feed) closeLocked() {
	if !f.closed {
		f.closed = true
		_ = f.w.Close()
	}
}

// stop ends the feed — once the process's group is gone — and returns how
// many bytes the process was given. A Write blocked on a full pipe returns
// when the pipe is closed; the close is done before taking the lock, since
// the blocked writer holds it.
func (f *feed) stop() int64 {
	_ = f.w.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped, f.closed = true, true
	return f.n
}
