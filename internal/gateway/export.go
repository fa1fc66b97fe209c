package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// ExportQuery selects the events of an export: those after seq After (a
// cursor: the last seq a SIEM has), with their time in [Since, Until) —
// zero bounds are open — and, if Agent is set, those concerning that
// agent (see ExportedEvent.Agent).
type ExportQuery struct {
	Since, Until time.Time
	Agent        string
	After        int64
}

// ExportedEvent is one line of `gatehouse export -o jsonl`: the event
// exactly as journaled — seq, time, type, subject, data (the very bytes
// that were hashed), prev_hash, hash — so that a SIEM can check the chain
// itself (gatehouse.HashEvent), plus the agent it concerns, which is not
// part of the hash.
type ExportedEvent struct {
	Seq     int64               `json:"seq"`
	Time    time.Time           `json:"time"`
	Type    gatehouse.EventType `json:"type"`
	Subject string              `json:"subject"`
	// Agent is the agent the event concerns: an action's agent for
	// action.* events, the agent added or revoked for agent.*, the
	// reporting agent for session.event, the halted agent for a halt of
	// one agent; "" for the others.
	Agent    string          `json:"agent,omitempty"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// exportSkew is how far an event's time may lag behind the time of the
// one journaled before it: an event is stamped just before it is
// appended, and appends queue for at most a few commits. The export reads
// from a minute before --since and stops a minute after --until, and
// selects by each event's own time in between.
const exportSkew = time.Minute

// agentCacheMax bounds the export's memory of action agents; past it the
// memory is dropped and rebuilt from the store as needed.
const agentCacheMax = 100_000

var errStop = errors.New("stop")

// Export calls fn with each event q selects, in journal order, from one
// snapshot of the journal. Nothing is buffered: each event goes to fn as
// it is read. The events hold no secret the journal does not: environment
// values are never journaled, tokens only as hashes.
//
// Errors: EFORBIDDEN unless p is the admin; EINVALID for a negative After
// or Until before Since; the first error fn returns; EUNAVAILABLE if the
// store cannot be read.
func (g *Gateway) Export(ctx context.Context, p gatehouse.Principal, q ExportQuery, fn func(ExportedEvent) error) error {
	if err := requireAdmin(p); err != nil {
		return err
	}
	if q.After < 0 {
		return gatehouse.Errorf(gatehouse.EINVALID, "after must be a sequence number, 0 or more")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return gatehouse.Errorf(gatehouse.EINVALID, "until (%s) is before since (%s)",
			q.Until.UTC().Format(time.RFC3339Nano), q.Since.UTC().Format(time.RFC3339Nano))
	}
	after := q.After
	if !q.Since.IsZero() {
		s, err := g.seqBefore(ctx, q.Since.Add(-exportSkew))
		if err != nil {
			return err
		}
		after = max(after, s)
	}
	agents := map[string]string{} // action id → agent
	agentOf := func(e gatehouse.Event) (string, error) {
		switch {
		case e.Type == gatehouse.EventActionRequested:
			var r struct {
				Agent string `json:"agent"`
			}
			_ = json.Unmarshal(e.Data, &r)
			if len(agents) >= agentCacheMax {
				clear(agents)
			}
			agents[e.Subject] = r.Agent
			return r.Agent, nil
		case e.Type.IsAction():
			if a, ok := agents[e.Subject]; ok {
				return a, nil
			}
			a, err := g.store.Action(ctx, e.Subject)
			if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
				return "", nil // verify says why; the event is exported as it is
			}
			if err != nil {
				return "", err
			}
			agents[e.Subject] = a.Agent
			return a.Agent, nil
		case e.Type.IsAgent():
			return e.Subject, nil
		case e.Type == gatehouse.EventSession:
			var s gatehouse.SessionEvent
			_ = json.Unmarshal(e.Data, &s)
			return s.Agent, nil
		case e.Type == gatehouse.EventHaltIssued:
			var h gatehouse.HaltIssued
			_ = json.Unmarshal(e.Data, &h)
			return h.Scope.Agent, nil
		}
		return "", nil
	}
	err := g.store.Events(ctx, after, func(e gatehouse.Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !q.Until.IsZero() && !e.Time.Before(q.Until) {
			if e.Time.After(q.Until.Add(exportSkew)) {
				return errStop
			}
			return nil
		}
		if !q.Since.IsZero() && e.Time.Before(q.Since) {
			return nil
		}
		agent, err := agentOf(e)
		if err != nil {
			return err
		}
		if q.Agent != "" && agent != q.Agent {
			return nil
		}
		return fn(ExportedEvent{Seq: e.Seq, Time: e.Time, Type: e.Type, Subject: e.Subject, Agent: agent,
			Data: e.Data, PrevHash: e.PrevHash, Hash: e.Hash})
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// seqBefore returns a sequence number after which every event is at or
// after t as far as the journal's order goes: the seq of the last event
// before t, found by bisection over the sequence (whose times rise with
// it, to within exportSkew), or 0.
func (g *Gateway) seqBefore(ctx context.Context, t time.Time) (int64, error) {
	head, err := g.store.Head(ctx)
	if gatehouse.ErrorCode(err) == gatehouse.ENOTFOUND {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	timeAfter := func(seq int64) (time.Time, bool, error) { // the time of the first event after seq
		var at time.Time
		found := false
		err := g.store.Events(ctx, seq, func(e gatehouse.Event) error {
			at, found = e.Time, true
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return time.Time{}, false, err
		}
		return at, found, nil
	}
	// Invariant: every event up to lo is before t; the first event after
	// hi is not (or there is none).
	lo, hi := int64(0), head.Seq
	for lo < hi {
		mid := lo + (hi-lo+1)/2 // the event after mid-1 is the one at mid (no gaps)
		at, found, err := timeAfter(mid - 1)
		if err != nil {
			return 0, err
		}
		if found && at.Before(t) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}
