-- gatehouse log --trace ID finds the action behind an application's trace
-- id (ActionFilter.Trace). trace_id duplicates the document's field, as
-- the other filtered columns do (readers take it from the column, so that
-- Verify sees an edit to either), and is indexed like agent and session:
-- by (trace_id, time, id). Existing rows are filled from their documents.
ALTER TABLE actions ADD COLUMN trace_id text NOT NULL DEFAULT '';
UPDATE actions SET trace_id = coalesce(convert_from(doc, 'UTF8')::jsonb ->> 'trace_id', '');
CREATE INDEX actions_trace_time ON actions (trace_id, time, id);
