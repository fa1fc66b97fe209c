-- secrets holds the values the gateway puts into the actions granted them,
-- each sealed (AES-256-GCM) with a key that is not in this file (see
-- internal/seal). It is not a projection: the journal records that a
-- secret was set or removed, and by whom, never its value or ciphertext;
-- each row is written in the transaction that appends its event, and
-- Verify checks names and times against those events.
CREATE TABLE secrets (
	name       TEXT    PRIMARY KEY,
	key_id     TEXT    NOT NULL,
	ciphertext BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
