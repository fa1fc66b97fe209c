package gateway

import (
	"context"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
)

// Feed carries journaled events to subscribers in this process, such as
// the console's live views. It has two sides:
//
//   - Publish hands it events that are in the journal. The gateway
//     publishes the linked events of every successful Store.Append (its
//     store is wrapped at New), so a subscriber never sees an event that is
//     not durable. Other sources may publish too — a replica that learns
//     of events appended elsewhere, say — each event once.
//   - Subscribe returns a channel of the events published from then on.
//
// Publish never blocks and never fails: each subscriber has a buffer of
// its own, and one whose buffer is full is dropped — its channel is
// closed — rather than made to hold up the journal. A dropped subscriber
// has missed events; it reads what it shows from the store again and
// subscribes anew. A subscriber tells being dropped from its own end by
// its context: the channel also closes when the context is done.
//
// The events of one Publish arrive together and in their order; events of
// concurrent Appends may arrive out of Seq order (group commit answers the
// callers of one commit in no particular order). A subscriber that needs
// an action's current state reads it from the store.
type Feed struct {
	buffer int
	mu     sync.Mutex
	subs   map[chan gatehouse.Event]struct{}
}

// DefaultFeedBuffer is how many events a subscriber may fall behind
// before it is dropped.
const DefaultFeedBuffer = 1024

// NewFeed returns a feed whose subscribers each buffer up to buffer
// events (DefaultFeedBuffer if buffer < 1).
func NewFeed(buffer int) *Feed {
	if buffer < 1 {
		buffer = DefaultFeedBuffer
	}
	return &Feed{buffer: buffer, subs: map[chan gatehouse.Event]struct{}{}}
}

// Publish hands events to every subscriber, dropping those that cannot
// take all of them at once. It is safe for concurrent use.
func (f *Feed) Publish(events ...gatehouse.Event) {
	if len(events) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		if cap(ch)-len(ch) < len(events) {
			delete(f.subs, ch)
			close(ch)
			continue
		}
		for _, e := range events {
			ch <- e // cannot block: there is room, and only Publish sends, under f.mu
		}
	}
}

// Subscribe returns a channel of the events published from now on. It is
// closed when ctx is done or when the subscriber falls behind by more
// than the feed's buffer; ctx.Err() is nil in the second case.
func (f *Feed) Subscribe(ctx context.Context) <-chan gatehouse.Event {
	ch := make(chan gatehouse.Event, f.buffer)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[ch]; ok {
			delete(f.subs, ch)
			close(ch)
		}
	})
	return ch
}

// subscribers counts the subscriptions in force (for tests).
func (f *Feed) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// publishing is the gateway's store: every successful Append is
// published to the feed once its events are durable.
type publishing struct {
	gatehouse.Store
	feed *Feed
}

// Unwrap returns the store publishing wraps.
func (s publishing) Unwrap() gatehouse.Store { return s.Store }

func (s publishing) Append(ctx context.Context, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	linked, err := s.Store.Append(ctx, events...)
	if err == nil {
		s.feed.Publish(linked...)
	}
	return linked, err
}

// Subscribe returns the journal's events as they are appended (see Feed),
// for those who may read the journal: admins and reviewers. The channel
// closes when ctx is done or when the subscriber fell behind.
func (g *Gateway) Subscribe(ctx context.Context, p gatehouse.Principal) (<-chan gatehouse.Event, error) {
	if err := requireReader(p); err != nil {
		return nil, err
	}
	return g.feed.Subscribe(ctx), nil
}
