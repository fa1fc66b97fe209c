package gatehouse

import (
	"context"
	"errors"
)

// Store is the journal and its projections. Implementations: internal/sqlite
// (embedded, the default) and internal/postgres (shared by replicas); the
// conformance suite both pass is internal/storetest. All methods are safe
// for concurrent use.
type Store interface {
	// Append links events into the journal (assigning Seq, PrevHash and
	// Hash), applies them to the projections with Action.Apply and
	// Agent.Apply, and returns the linked events only once they are
	// durable: committed and synced to stable storage. The events of one
	// call are atomic: all are appended or none. Concurrent calls may share
	// one commit (group commit) but never see each other's failures.
	//
	// It returns the error of Apply (EINVALID, ECONFLICT, ENOTFOUND) if an
	// event cannot follow the current state, with nothing appended, and
	// EUNAVAILABLE if the journal cannot be written.
	Append(ctx context.Context, events ...Event) ([]Event, error)

	// Action returns the action with the given id, or ENOTFOUND.
	Action(ctx context.Context, id string) (*Action, error)

	// Actions returns the actions that match f, listed oldest first in
	// the (Time, ID) order: f.Limit of them (DefaultLimit if 0), the
	// newest that match or, with f.Oldest, the oldest. ActionFilter
	// documents each condition and ActionFilter.Match is the reference;
	// internal/storetest checks a store against it. EINVALID if
	// f.Validate fails.
	Actions(ctx context.Context, f ActionFilter) ([]*Action, error)

	// Running returns every action whose status is pending or running.
	Running(ctx context.Context) ([]*Action, error)

	// Agent returns the agent with the given name, revoked or not, or
	// ENOTFOUND.
	Agent(ctx context.Context, name string) (*Agent, error)

	// AgentByTokenHash returns the active agent whose token has the given
	// SHA-256 (hex), or ENOTFOUND — also when that agent is revoked.
	AgentByTokenHash(ctx context.Context, hash string) (*Agent, error)

	// Agents returns every agent, revoked ones included, by name.
	Agents(ctx context.Context) ([]*Agent, error)

	// Events calls fn with each event whose Seq is greater than after, in
	// the order the store holds them (by Seq), exactly as stored: it does
	// not check the chain. It stops at the first error fn returns and
	// returns it.
	Events(ctx context.Context, after int64, fn func(Event) error) error

	// EventsOfType calls fn with each event of one of the given types, by
	// Seq, exactly as stored. It serves the daemon's start, which rebuilds
	// its control state (halts, learned rules) from a few kinds of event
	// and must not read the whole journal to do so.
	EventsOfType(ctx context.Context, types []EventType, fn func(Event) error) error

	// Head returns the newest event of the journal — the head of its
	// chain — exactly as stored, or ENOTFOUND if the journal is empty. A
	// checkpoint signs it, so that a later Verify can tell whether the
	// journal still holds that event with that hash.
	Head(ctx context.Context) (Event, error)

	// ScanActions calls fn with every action of the projection, as Action
	// and Actions would return it. It exists so that Verify can compare
	// the projection with one rebuilt from the events.
	ScanActions(ctx context.Context, fn func(*Action) error) error

	// Close flushes pending appends and releases the store.
	Close() error
}

// Fence is a precondition of an append, for a replica that follows a
// journal other replicas also write: "only if no event of one of Types has
// been appended after seq After" — that is, nothing of those kinds that
// this replica has not applied yet. A shared store checks it in the
// transaction that appends, under the lock that orders every append, so
// that the check and the append are one step.
type Fence struct {
	After int64
	Types []EventType
}

// ErrFenced is the error of an append whose Fence did not hold: an event
// of one of its types came after Fence.After. Nothing was appended; the
// caller catches up with the journal and decides again.
var ErrFenced = &Error{Code: ECONFLICT, Op: "gatehouse.Fence", Message: "the journal has moved on since this replica last read it; try again"}

// ErrOutcomeUnknown is wrapped in the EUNAVAILABLE error of an Append
// whose commit was sent but whose answer never came, and whose store could
// not find out, before giving up, whether it took place. The events may
// or may not be in the journal; they are never in it twice.
var ErrOutcomeUnknown = errors.New("the outcome of the write is unknown: the database did not answer its commit")
