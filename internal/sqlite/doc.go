// Package sqlite implements gatehouse.Store in one SQLite file, with the
// pure-Go driver modernc.org/sqlite (no cgo).
//
// # Files and schema
//
// Open creates the file (mode 0600: the journal records what agents ran)
// and applies the migrations embedded from migrations/*.sql, tracking the
// schema version in PRAGMA user_version. The database runs in WAL mode
// with synchronous=FULL, so a commit is on stable storage when it returns,
// and readers never block the writer or each other. OpenReadOnly opens an
// existing store without migrating it, for `gatehouse verify` while the
// daemon runs.
//
// There are three tables (see migrations/0001_initial.sql): events, the
// journal and source of truth; and actions and agents, projections of it
// that queries read. Event data is kept as a BLOB, byte for byte, because
// it is hashed. A fourth, secrets (0004_secrets.sql), holds the gateway's
// sealed secrets (gatehouse.SecretStore): not a projection, since the
// journal never holds a ciphertext, but each row is written in the
// transaction that appends its secret.set or secret.removed event. Those
// requests always take the slow path (below): they are rare.
//
// # Group commit
//
// Durability costs an fsync per transaction, far more than writing an
// action's rows. So all writes go through one connection, and concurrent
// Appends share transactions: each Append waits while its request joins a
// batch, and the batch is committed in one transaction whose COMMIT is
// the fsync all of them share. Nothing waits on a timer: a batch is
// handed to the committer as soon as the committer is free, so a lone
// caller is committed at once and under load batches grow by themselves.
//
// The work is split in two goroutines (see sequencer.go) so that the CPU
// work of one batch overlaps the SQL and fsync of the previous one. The
// sequencer links each request's events into the hash chain
// (gatehouse.Chain, whose head it keeps in memory) and applies them with
// Action.Apply to its in-memory copy of the actions that are not final
// (nearly every action event is for one), then encodes the rows. A
// request that Apply rejects is answered with that error, takes no
// sequence numbers and never reaches SQL. The committer writes the batch's
// events and projection rows in one transaction, commits, and only then
// answers. If COMMIT fails, every request of the batch gets EUNAVAILABLE
// and the state is reloaded from the database.
//
// Should writing a batch fail, or the database turn out not to be what
// the sequencer assumed (another process wrote to the file; an id it took
// for new exists), the committer rolls back and redoes that batch on the
// slow path: each request applied against the table and written in its own
// SAVEPOINT, so that a request whose rows fail is undone (ROLLBACK TO)
// and answered with its error while the others commit. So concurrent
// Appends share a commit but never each other's failures, and an Append's
// events are all durable or none are. Requests that need rows the
// sequencer does not hold (agent events; events for actions that are not
// live) go the slow way too.
//
// The projections are written in the same transaction as the events they
// come from, so they never lag or lead the journal. Pages are copied from
// the WAL into the database file by a background checkpoint on a
// connection of its own (see checkpoint.go), off the commit path.
//
// # Tamper detection
//
// Each projected row has a doc column (the JSON of the whole Action or
// Agent) and columns for the fields that queries filter on. Readers decode
// the doc and then overwrite those fields from the columns, so what a user
// reads is what a query matched. And because gatehouse.Verify rebuilds the
// projection from the journal with Action.Apply and compares it with
// ScanActions and Agents, an edit of either the doc or a column shows up
// as a difference. Events returns rows exactly as stored, never
// validated, so that an altered event reaches gatehouse.Chain.Check.
package sqlite
