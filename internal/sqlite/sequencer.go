package sqlite

import (
	"encoding/json"
	"errors"

	"github.com/gatehouse-dev/gatehouse"
)

// The write path has two stages, each one goroutine, so that the CPU work
// of the next batch overlaps the SQL and fsync of the current one:
//
//   - the sequencer (Store.run) takes requests as they come, links their
//     events after its chain head, applies them with Action.Apply to its
//     copy of the live actions, and encodes the rows' documents. It
//     never touches the database. While the committer is busy it keeps
//     adding requests to the batch it is building; the batch is handed
//     over as soon as the committer is free. So batches grow with load,
//     without a timer.
//   - the committer (writer.loop) owns the write connection. It writes a
//     batch's rows in one transaction and commits it: that COMMIT is the
//     fsync its requests share. Only then are they answered.
//
// The sequencer's state runs ahead of the database by the batches in
// flight. Should the committer fail to commit a batch exactly as it was
// sequenced (an I/O error, an id that the sequencer took for new but the
// table has, another process having written to the file), it falls back
// to applying that batch's requests itself, against the table, one
// savepoint each (the slow path), and bumps its generation. The sequencer
// notices the new generation, lets the committer finish what is in
// flight, and reloads its state from the committer: batches sequenced on
// the old state reach the committer with the old generation and take the
// slow path too.
//
// Requests whose outcome depends on rows that the sequencer does not hold
// (agent events, and action events for actions that are not live) go the
// same slow way, after the batches before them: they are rare.

// batch is what the sequencer hands the committer.
type batch struct {
	reqs []*request
	// For a sequenced batch: per request, its linked and applied events
	// (ps[i]) or the error Apply returned (errs[i]).
	ps   []*pending
	errs []error
	base gatehouse.Chain // the head the batch was linked after
	head gatehouse.Chain // the head after it
	gen  uint64          // the committer generation the sequencer's state is from
	// slow asks the committer to apply the requests itself.
	slow bool
	// sync, if set (and reqs empty), asks the committer for its state.
	sync *syncState
}

// syncState is the committer's answer to a sync batch, valid once done is
// closed.
type syncState struct {
	done chan struct{}
	head gatehouse.Chain
	live map[string]*gatehouse.Action
	gen  uint64
	err  error
}

// sequencer is the state of the first stage; only Store.run uses it.
type sequencer struct {
	head gatehouse.Chain
	live map[string]*gatehouse.Action // pending and running actions, as of the last request sequenced
	gen  uint64
}

// errNeedsTable means a request cannot be sequenced from memory.
var errNeedsTable = errors.New("needs the table")

// run is the sequencer goroutine.
func (s *Store) run() {
	defer close(s.batches)
	var cur *batch
	for {
		var (
			send = s.batches
			recv = s.reqs
		)
		if cur == nil {
			send = nil
		} else if len(cur.reqs) >= s.maxBatch {
			recv = nil
		}
		select {
		case send <- cur:
			cur = nil
		case r := <-recv:
			cur = s.sequence(cur, r)
		case <-s.closing:
			// Requests already taken are committed; Append turns away
			// the others.
			if cur != nil {
				s.batches <- cur
			}
			return
		}
	}
}

// sequence adds r to cur (a new batch if nil) and returns the batch being
// built, or nil if it was handed over.
func (s *Store) sequence(cur *batch, r *request) *batch {
	q := &s.seq
	if s.w.gen.Load() != q.gen {
		s.flush(cur)
		cur = nil
		s.resync()
	}
	var p *pending
	err := errNeedsTable // a secret's row is the committer's to check and write
	if r.secret == nil {
		p, err = q.apply(r.events)
	}
	if errors.Is(err, errNeedsTable) {
		s.flush(cur)
		s.batches <- &batch{reqs: []*request{r}, slow: true}
		s.resync()
		return nil
	}
	if cur == nil {
		cur = &batch{base: q.head, head: q.head, gen: q.gen}
	}
	cur.reqs = append(cur.reqs, r)
	cur.ps = append(cur.ps, p)
	cur.errs = append(cur.errs, err)
	if p != nil {
		p.marshal()
		q.head = p.chain
		cur.head = p.chain
		keep(q.live, p)
	}
	return cur
}

// flush hands b, if any, to the committer, waiting until it takes it.
func (s *Store) flush(b *batch) {
	if b != nil {
		s.batches <- b
	}
}

// resync waits for the committer to finish every batch handed over and
// takes its state. If the committer cannot tell it (the database is
// failing), the sequencer keeps a generation that matches none, so that
// its batches take the slow path and the next request tries again.
func (s *Store) resync() {
	st := &syncState{done: make(chan struct{})}
	s.batches <- &batch{sync: st}
	<-st.done
	q := &s.seq
	if st.err != nil {
		q.gen = st.gen - 1
		return
	}
	q.head, q.live, q.gen = st.head, st.live, st.gen
}

// apply links events after the sequencer's head and folds them into
// copies of the actions they are about, from the request's own earlier
// events or the live actions. An action.requested for an id that is not
// live is taken to be new; the committer's INSERT checks that.
func (q *sequencer) apply(events []gatehouse.Event) (*pending, error) {
	p := &pending{chain: q.head, events: make([]gatehouse.Event, len(events))}
	for i, e := range events {
		e.Time = e.Time.UTC()
		e = p.chain.Link(e)
		switch {
		case e.Type.IsAction():
			t := p.find(e.Subject)
			if t == nil {
				t = &touchedAction{id: e.Subject}
				if a := q.live[e.Subject]; a != nil {
					t.a, t.stored = *a, true
				} else if e.Type != gatehouse.EventActionRequested {
					return nil, errNeedsTable
				}
				p.add(t)
			}
			if err := t.a.Apply(e); err != nil {
				return nil, err
			}
		case e.Type.IsAgent():
			return nil, errNeedsTable
		}
		p.events[i] = e
	}
	return p, nil
}

// keep folds an applied request into a map of live actions.
func keep(live map[string]*gatehouse.Action, p *pending) {
	for _, t := range p.actions {
		if t.a.Status.Final() {
			delete(live, t.id)
		} else {
			a := t.a
			live[t.id] = &a
		}
	}
}

// pending is a request linked and applied in memory, not yet written.
type pending struct {
	chain   gatehouse.Chain // the head after its events
	events  []gatehouse.Event
	actions []*touchedAction // in the order first touched
	agents  []*touchedAgent
	byID    map[string]*touchedAction // built once actions is long (bulk appends)
	secret  *secretOp                 // slow path only
}

type touchedAction struct {
	id     string
	a      gatehouse.Action
	stored bool   // a row exists, or an earlier request writes it: UPDATE, not INSERT
	doc    []byte // JSON of a but its outputs, set by marshal
	out    []byte // JSON of a's outputs (nil if none), set by marshal
	err    error  // from marshal
}

type touchedAgent struct {
	name string
	g    gatehouse.Agent
	doc  []byte
	err  error
}

func (p *pending) find(id string) *touchedAction {
	if p.byID != nil {
		return p.byID[id]
	}
	for _, t := range p.actions {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (p *pending) add(t *touchedAction) {
	p.actions = append(p.actions, t)
	switch {
	case p.byID != nil:
		p.byID[t.id] = t
	case len(p.actions) > 8:
		p.byID = make(map[string]*touchedAction, 2*len(p.actions))
		for _, t := range p.actions {
			p.byID[t.id] = t
		}
	}
}

// marshal encodes the documents of the rows p will write.
func (p *pending) marshal() {
	for _, t := range p.actions {
		t.doc, t.out, t.err = marshalAction(&t.a)
	}
	for _, t := range p.agents {
		t.doc, t.err = json.Marshal(&t.g)
	}
}
