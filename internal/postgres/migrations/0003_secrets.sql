-- secrets holds the values the gateway puts into the actions granted them,
-- each sealed (AES-256-GCM) with a key that is not in this database (see
-- internal/seal; every replica reads the same key file). It is not a
-- projection: the journal records that a secret was set or removed, and by
-- whom, never its value or ciphertext; each row is written in the
-- transaction that appends its event, under the head lock, and Verify
-- checks names and times against those events. Times are bigint Unix
-- nanoseconds, as elsewhere: updated_at is sealed into the ciphertext.
CREATE TABLE secrets (
	name       text   PRIMARY KEY,
	key_id     text   NOT NULL,
	ciphertext bytea  NOT NULL,
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL
);
