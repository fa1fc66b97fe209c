-- The journal and its projections, as in the SQLite store: event data is
-- bytea, byte for byte, because it is hashed; times are bigint Unix
-- nanoseconds (UTC), which timestamptz (microseconds) could not keep.

-- events is the journal: the source of truth. seq is assigned by the
-- appending transaction from head, which it holds locked.
CREATE TABLE events (
	seq       bigint PRIMARY KEY,
	time      bigint NOT NULL,
	type      text   NOT NULL,
	subject   text   NOT NULL,
	data      bytea  NOT NULL,
	prev_hash text   NOT NULL,
	hash      text   NOT NULL,
	-- origin is the replica that appended the event ('' for none, and for
	-- events copied by gatehouse migrate). It is not hashed: replicas use
	-- it to tell their own events from others' when they follow the
	-- journal, and operators to see who wrote what.
	origin    text   NOT NULL DEFAULT ''
);

-- The daemon rebuilds its control state at start (halts, learned rules)
-- from a few kinds of event, and a fenced append asks whether an event of
-- some kinds came after a point: both read this index.
CREATE INDEX events_type ON events (type, seq);

-- head is the end of the chain: one row, locked FOR UPDATE by every
-- appending transaction, which serialises writers across replicas. It is
-- updated in the same transaction as the events it points at.
CREATE TABLE head (
	id   integer PRIMARY KEY CHECK (id = 1),
	seq  bigint  NOT NULL,
	hash text    NOT NULL
);
INSERT INTO head (id, seq, hash) VALUES (1, 0, '');

-- actions is the projection of action.* events. doc is the JSON of the
-- whole gatehouse.Action; the other columns duplicate the fields queries
-- filter on, and readers overwrite the doc's fields with them. first_seq
-- is the seq of its action.requested event: journal order.
CREATE TABLE actions (
	id        text   PRIMARY KEY,
	first_seq bigint NOT NULL UNIQUE,
	time      bigint NOT NULL,
	agent     text   NOT NULL,
	session   text   NOT NULL,
	status    text   NOT NULL,
	command   text   NOT NULL,
	intent    text   NOT NULL,
	doc       bytea  NOT NULL
);

-- Queries return the newest rows first (ORDER BY time DESC, id DESC LIMIT
-- n); ending each index with (time, id) lets the planner walk it backwards
-- and stop after n rows.
CREATE INDEX actions_agent_time   ON actions (agent, time, id);
CREATE INDEX actions_session_time ON actions (session, time, id);
CREATE INDEX actions_time         ON actions (time, id);
CREATE INDEX actions_status_time  ON actions (status, time, id);

-- agents is the projection of agent.* events.
CREATE TABLE agents (
	name       text   PRIMARY KEY,
	token_hash text   NOT NULL,
	created_at bigint NOT NULL,
	revoked_at bigint,
	doc        bytea  NOT NULL
);

CREATE INDEX agents_token_hash ON agents (token_hash);
