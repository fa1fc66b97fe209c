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
// it is hashed.
//
// # Group commit
//
// Durability costs an fsync per transaction, and an fsync costs
// milliseconds, far longer than the few microseconds of writing an
// action's rows. So all writes go through a single writer goroutine that
// owns the only write connection. Append validates its events, hands them
// to the writer and waits. The writer takes the first waiting request and
// every other one already waiting (up to a cap), and commits them in one
// transaction: everyone in the batch shares one fsync, and the more
// callers wait, the larger the batches grow. There is no timer: a lone
// caller is committed at once.
//
// In the transaction, each request is first linked into the hash chain
// (gatehouse.Chain, whose head the writer keeps in memory) and applied to
// the projections with Action.Apply and Agent.Apply, in memory. A request
// that Apply rejects is answered with that error and never reaches SQL,
// and the head goes back to where it was, so the next request takes its
// sequence numbers. The rest are written in a savepoint each: should SQL
// fail in one, ROLLBACK TO undoes it alone. Successes are answered only
// after COMMIT; if COMMIT fails, every request of the batch gets
// EUNAVAILABLE and the writer reloads its state from the database. So
// concurrent Appends share a commit but never each other's failures, and
// an Append's events are all durable or none are.
//
// The projections are written in the same transaction as the events they
// come from, so they never lag or lead the journal. The writer keeps the
// actions that are not final (pending or running) in memory: almost every
// action event is for one of them, so the common Append reads nothing from
// disk. Should another process commit to the file (detected with PRAGMA
// data_version), the writer reloads that state before its next batch.
//
// # Tamper detection
//
// Each projected row has a doc column (the JSON of the whole Action or
// Agent) and columns for the fields that queries filter on. Readers decode
// the doc and then overwrite those fields from the columns, so what a user
// reads is what a query matched. And because Verify rebuilds the
// projection from the journal with Action.Apply and compares it with
// ScanActions, an edit of either the doc or a column shows up as a
// difference. Events returns rows exactly as stored, never validated, so
// that an altered event reaches gatehouse.Chain.Check.
package sqlite
