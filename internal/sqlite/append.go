package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// request is one Append call on its way through the sequencer and the
// committer.
type request struct {
	events []gatehouse.Event
	// secret, if set, is written in the same transaction as events (see
	// secrets.go); such a request always takes the slow path.
	secret *secretOp
	reply  chan result // buffered (1): the committer never blocks on a caller
}

type result struct {
	events []gatehouse.Event
	err    error
}

// Append links events into the journal, applies them to the projections
// and returns them once they are committed and synced. See
// gatehouse.Store.Append for the contract.
//
// ctx bounds only the wait for the store to take the call. Once taken,
// Append waits for the outcome even if ctx ends, so that its answer is
// always the truth: an Append that returned an error appended nothing, one
// that returned events made them durable. The wait is about one commit
// (an fsync), or the busy timeout if another process holds the lock.
//
// Besides the errors of Action.Apply and Agent.Apply it returns EINVALID
// for an event that no store could keep faithfully (a time outside the
// years 1678–2262, which Unix nanoseconds cannot hold; no type; data that
// is not JSON; an action or agent event without a subject), EUNAVAILABLE
// if the journal cannot be written or the store is closed or read-only,
// and ctx.Err() if ctx ends before the store takes the call.
func (s *Store) Append(ctx context.Context, events ...gatehouse.Event) ([]gatehouse.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if s.readOnly {
		return nil, gatehouse.Errorf(gatehouse.EUNAVAILABLE, "the store is open read-only")
	}
	// Validate here, in the caller's goroutine, to keep the work of the
	// serial stages to what must be serial.
	for i := range events {
		if err := validateEvent(&events[i]); err != nil {
			return nil, err
		}
	}
	return s.submit(ctx, &request{events: events})
}

// submit hands r to the sequencer and waits for its outcome (see Append
// for what ctx bounds).
func (s *Store) submit(ctx context.Context, r *request) ([]gatehouse.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.reply = make(chan result, 1)
	select {
	case s.reqs <- r:
	case <-s.closing:
		return nil, closedErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-r.reply
	return res.events, res.err
}

func closedErr() error {
	return &gatehouse.Error{Code: gatehouse.EUNAVAILABLE, Op: "sqlite.Append", Message: "the store is closed"}
}

func validateEvent(e *gatehouse.Event) error {
	if e.Type == "" {
		return gatehouse.Errorf(gatehouse.EINVALID, "event has no type")
	}
	// The hash covers Time.UnixNano(), and the store keeps Unix
	// nanoseconds: a time that does not survive the round trip would
	// break the chain of a journal that no one tampered with.
	if !time.Unix(0, e.Time.UnixNano()).Equal(e.Time) {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s event: time %s is out of range", e.Type, e.Time)
	}
	if (e.Type.IsAction() || e.Type.IsAgent()) && e.Subject == "" {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s event has no subject", e.Type)
	}
	if !json.Valid(e.Data) {
		return gatehouse.Errorf(gatehouse.EINVALID, "%s event: data is not JSON", e.Type)
	}
	return nil
}
