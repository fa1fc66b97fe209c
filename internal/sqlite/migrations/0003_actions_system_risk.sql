-- The console filters actions by system (the client's claim) and by
-- analysed risk. Both get columns, so that queries read them without
-- decoding every document, and readers overwrite the doc's fields with
-- them as they do for the other columns. Existing rows are filled from
-- their documents (the doc is JSON text kept as a BLOB).
ALTER TABLE actions ADD COLUMN system TEXT NOT NULL DEFAULT '';
ALTER TABLE actions ADD COLUMN risk INTEGER NOT NULL DEFAULT 0;
UPDATE actions SET
	system = coalesce(json_extract(CAST(doc AS TEXT), '$.system'), ''),
	risk = coalesce(json_extract(CAST(doc AS TEXT), '$.analysis.risk'), 0);

-- system is an equality filter like agent and session. risk is a lower
-- bound: an index on it could not keep the (time, id) order, so queries
-- walk actions_time and test it per row.
CREATE INDEX actions_system_time ON actions (system, time, id);
