// Package gatehouse is the domain of the Gatehouse execution gateway: the
// types every other package speaks (Action, Event, Decision, Agent,
// Principal), the journal's hash chain and projection rules, the error
// codes, and the interfaces of the services that adapters implement
// (Store). It performs no I/O.
//
// The journal is the source of truth. It is an append-only sequence of
// Events, each linked to its predecessor by a SHA-256 hash (see Chain). The
// actions that users query are a projection of those events (see
// Action.Apply), which a store keeps up to date in the same transaction as
// the append, and which Verify can rebuild at any time to detect tampering
// with either.
package gatehouse
