-- The journal and its projections. Tables are STRICT so that a value keeps
-- the type it was written with: event data stays a BLOB, byte for byte,
-- because it is hashed; times stay integers (Unix nanoseconds, UTC).

-- events is the journal: the source of truth. seq is the rowid, assigned
-- by the writer from its in-memory chain head, never by SQLite.
CREATE TABLE events (
	seq       INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	type      TEXT    NOT NULL,
	subject   TEXT    NOT NULL,
	data      BLOB    NOT NULL,
	prev_hash TEXT    NOT NULL,
	hash      TEXT    NOT NULL
) STRICT;

-- actions is the projection of action.* events. doc is the JSON of the
-- whole gatehouse.Action; the other columns duplicate the fields that
-- queries filter on, and readers overwrite the doc's fields with them.
CREATE TABLE actions (
	id      TEXT    PRIMARY KEY,
	time    INTEGER NOT NULL,
	agent   TEXT    NOT NULL,
	session TEXT    NOT NULL,
	status  TEXT    NOT NULL,
	command TEXT    NOT NULL,
	intent  TEXT    NOT NULL,
	doc     BLOB    NOT NULL
) STRICT;

-- Queries return the newest rows first (ORDER BY time DESC, id DESC LIMIT
-- n). Ending each index with (time, id) lets SQLite walk it backwards and
-- stop after n rows instead of sorting every match.
CREATE INDEX actions_agent_time   ON actions (agent, time, id);
CREATE INDEX actions_session_time ON actions (session, time, id);
CREATE INDEX actions_time         ON actions (time, id);
CREATE INDEX actions_status_time  ON actions (status, time, id);

-- agents is the projection of agent.* events.
CREATE TABLE agents (
	name       TEXT    PRIMARY KEY,
	token_hash TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER,
	doc        BLOB    NOT NULL
) STRICT;

CREATE INDEX agents_token_hash ON agents (token_hash);
