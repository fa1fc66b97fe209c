-- gatehouse log --trace ID finds the action behind an application's trace
-- id. trace_id duplicates the document's field, as the other filtered
-- columns do (readers take it from the column, so Verify sees an edit to
-- either), and is indexed like them: newest first by (time, id).
ALTER TABLE actions ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
UPDATE actions SET trace_id = coalesce(json_extract(CAST(doc AS TEXT), '$.trace_id'), '');
CREATE INDEX actions_trace_time ON actions (trace_id, time, id);
