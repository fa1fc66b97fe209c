// Package postgres implements gatehouse.Store in a PostgreSQL database
// (with github.com/jackc/pgx/v5), so that several `gatehouse serve`
// replicas can share one journal.
//
// # Schema
//
// Open applies the migrations embedded from migrations/*.sql, tracking the
// version in the gatehouse_schema table, under an advisory lock so that
// replicas starting at once apply each migration once. The tables are the
// SQLite store's — events (the journal), actions and agents (projections
// of it), secrets (sealed, not a projection: see secrets.go) — plus head,
// one row holding the end of the chain. Event data is
// bytea and times are bigint Unix nanoseconds, so that what is hashed is
// kept exactly. The search_path of the URL selects a schema; each schema
// is its own journal.
//
// # Appends: one chain for many writers
//
// Every appending transaction, of every replica, starts by locking the
// head row (SELECT … FOR UPDATE). Holding it, the transaction reads the
// head, the current rows of the actions and agents its events touch, and
// whatever its fences ask about; links its events after the head; applies
// them with Action.Apply and Agent.Apply; writes events, rows and the new
// head; and NOTIFYs the journal's channel. So appends are serialised
// across processes: seq runs 1, 2, 3 … without gaps (a transaction that
// fails takes no numbers) or forks (events.seq is also the primary key),
// and Apply always sees the current state, whoever wrote it.
//
// Within a process, concurrent Appends share transactions (group commit):
// one writer goroutine takes every request waiting, and commits them in
// one transaction — one head lock, two round trips, one COMMIT. A request
// that Apply or its fence rejects is answered with that error and leaves
// no trace; if the server refuses a statement, the batch is split and each
// request retried alone, so that a bad one fails by itself. PutSecret and
// DeleteSecret are such requests, with a change to the secrets table that
// rides in the same transaction: whether a secret to remove exists is
// read under the head lock, so of two replicas removing one secret, one
// journals the removal and the other gets ENOTFOUND.
//
// # Losing the database
//
// A transaction that fails because the connection failed (the server
// restarted, failed over, or ended the session) is retried on a new
// connection, with a growing pause, for up to the write timeout; then the
// Append fails with EUNAVAILABLE and nothing was appended. The hard case
// is a COMMIT whose answer never came: the events may be in. The next
// attempt settles it first — under the head lock, so the old transaction
// is over, committed or not — by reading the event at the seq the lost
// commit would have written: if it is there with the hash it would have
// had, the Append succeeded and returns those events; otherwise the
// request is linked again. So a retry never appends twice. Only if the
// database stays away past the write timeout does such an Append end with
// EUNAVAILABLE wrapping gatehouse.ErrOutcomeUnknown. Reads that fail
// because the pool handed out a connection the server had ended are tried
// once more.
//
// # Replicas
//
// With WithReplica, a store belongs to one replica of the gateway (see
// presence.go): it stamps each event it appends with the replica id (the
// origin column, not hashed), holds the replica's claim (a session
// advisory lock) on a connection of its own, and LISTENs there for the
// other replicas' appends. The gateway's follower uses Changes and Tail to
// keep its in-memory state (halts, waiters, learned rules, tripwire
// counts) current; AppendUnless (a fence) lets a replica start an action
// only if no halt was journaled that it has not applied; TryTakeOver lets
// a replica close what a dead one left running. See docs/POSTGRES.md.
//
// # Tamper detection
//
// As in the SQLite store, readers decode each row's doc and overwrite the
// fields queries filter on from their columns, and Events returns rows as
// stored, so that gatehouse.Verify sees any edit. Snapshot gives Verify
// one consistent view while replicas keep appending.
package postgres
