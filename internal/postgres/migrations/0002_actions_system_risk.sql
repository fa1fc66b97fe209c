-- Actions are filtered by system (the client's claim) and by analysed risk
-- (the console, GET /v1/actions). Both get columns, so that queries read
-- them without decoding every document. Existing rows are filled from
-- their documents (JSON kept as bytea).
ALTER TABLE actions ADD COLUMN system text NOT NULL DEFAULT '';
ALTER TABLE actions ADD COLUMN risk integer NOT NULL DEFAULT 0;
UPDATE actions SET
	system = coalesce(convert_from(doc, 'UTF8')::jsonb ->> 'system', ''),
	risk = coalesce((convert_from(doc, 'UTF8')::jsonb -> 'analysis' ->> 'risk')::integer, 0);

-- system is an equality filter like agent and session. risk is a lower
-- bound: an index on it could not keep the (time, id) order, so queries
-- walk actions_time and test it per row.
CREATE INDEX actions_system_time ON actions (system, time, id);

-- Paging compares (time, id) with a cursor, and gatehouse.Cursor orders ids
-- by their bytes: the C collation, whatever the database's default, so
-- that the (…, time, id) indexes serve the comparison and the order.
ALTER TABLE actions ALTER COLUMN id TYPE text COLLATE "C";
