package tripwire

// The counters behind the tripwires. Every structure here is bounded:
// windows keep the times of their last Max+1 events, evidence rings their
// last EvidenceMax action ids, and the Monitor caps the scopes it tracks.

// EvidenceMax is the most action ids a Fired carries.
const EvidenceMax = 50

// ring is a fixed-capacity FIFO that overwrites its oldest element when
// full. Its zero value has capacity 0 and allocates on first use.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest element
	n     int
}

// fit gives r capacity c, keeping its newest elements.
func (r *ring[T]) fit(c int) {
	if len(r.buf) == c {
		return
	}
	keep := min(r.n, c)
	buf := make([]T, c)
	for i := range keep {
		buf[i] = r.at(r.n - keep + i)
	}
	r.buf, r.start, r.n = buf, 0, keep
}

// at returns the i-th oldest element.
func (r *ring[T]) at(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

func (r *ring[T]) push(v T) {
	if len(r.buf) == 0 {
		return
	}
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = v
		r.n++
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

func (r *ring[T]) full() bool { return r.n > 0 && r.n == len(r.buf) }

func (r *ring[T]) clear() {
	clear(r.buf)
	r.start, r.n = 0, 0
}

// event is one counted action, as evidence.
type event struct {
	t    int64 // Unix nanoseconds
	id   string
	prog string // for denials: the program the command runs
}

// window counts events within a sliding span of time. Times are made
// non-decreasing (an event older than the newest counts as the newest),
// so the ring of the last max+1 times is sorted and "more than max within
// the span" is one comparison: the ring is full and its oldest time is
// within the span of the newest.
type window struct {
	times   ring[int64]
	ev      ring[event]
	last    int64
	fired   bool
	firedAt int64
}

// add counts e and reports whether the window just crossed max (more than
// max events less than span apart). A window that fired stays silent
// until a full span has passed since it fired and it is no longer over
// max, so one crossing fires once.
func (w *window) add(e event, max int, span int64) bool {
	w.times.fit(max + 1)
	w.ev.fit(min(max+1, EvidenceMax))
	if w.times.n > 0 && e.t < w.last {
		e.t = w.last
	}
	w.last = e.t
	if w.fired && e.t-w.firedAt >= span && !w.over(e.t, span) {
		w.fired = false
	}
	w.times.push(e.t)
	w.ev.push(e)
	if !w.fired && w.over(e.t, span) {
		w.fired, w.firedAt = true, e.t
		return true
	}
	return false
}

func (w *window) over(now, span int64) bool {
	return w.times.full() && now-w.times.at(0) < span
}

// evidence returns the events within span of now, oldest first.
func (w *window) evidence(now, span int64) []event {
	out := make([]event, 0, w.ev.n)
	for i := range w.ev.n {
		if e := w.ev.at(i); now-e.t < span {
			out = append(out, e)
		}
	}
	return out
}

func (w *window) reset() {
	w.times.clear()
	w.ev.clear()
	w.fired, w.firedAt = false, 0
}

// tally counts events with no window: a run of consecutive failures, or a
// session's destructive actions.
type tally struct {
	n     int
	ev    ring[string]
	fired bool
}

func (c *tally) add(id string, evidence int) {
	c.n++
	c.ev.fit(min(max(evidence, 1), EvidenceMax))
	c.ev.push(id)
}

func (c *tally) ids() []string {
	out := make([]string, c.ev.n)
	for i := range out {
		out[i] = c.ev.at(i)
	}
	return out
}

func (c *tally) reset() {
	c.n, c.fired = 0, false
	c.ev.clear()
}

// lru is a map of at most max scopes that forgets the least recently used
// one to make room for a new one.
type lru[S any] struct {
	m    map[string]*lruNode[S]
	root lruNode[S] // sentinel: root.next is the most recent
	max  int
}

type lruNode[S any] struct {
	key        string
	prev, next *lruNode[S]
	s          S
}

func newLRU[S any](max int) *lru[S] {
	l := &lru[S]{m: map[string]*lruNode[S]{}, max: max}
	l.root.prev, l.root.next = &l.root, &l.root
	return l
}

// get returns key's state, creating it (and forgetting the least recent
// scope if that makes too many) when create is set; otherwise it returns
// nil for a scope it does not track. Either way the scope becomes the most
// recent.
func (l *lru[S]) get(key string, create bool) *S {
	if nd, ok := l.m[key]; ok {
		l.unlink(nd)
		l.front(nd)
		return &nd.s
	}
	if !create {
		return nil
	}
	nd := &lruNode[S]{key: key}
	l.m[key] = nd
	l.front(nd)
	if len(l.m) > l.max {
		old := l.root.prev
		l.unlink(old)
		delete(l.m, old.key)
	}
	return &nd.s
}

func (l *lru[S]) remove(key string) {
	if nd, ok := l.m[key]; ok {
		l.unlink(nd)
		delete(l.m, key)
	}
}

func (l *lru[S]) len() int { return len(l.m) }

func (l *lru[S]) unlink(nd *lruNode[S]) {
	nd.prev.next, nd.next.prev = nd.next, nd.prev
	nd.prev, nd.next = nil, nil
}

func (l *lru[S]) front(nd *lruNode[S]) {
	nd.prev, nd.next = &l.root, l.root.next
	l.root.next.prev = nd
	l.root.next = nd
}
