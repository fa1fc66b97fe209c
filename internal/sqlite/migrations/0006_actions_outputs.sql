-- What can be large in an action — its argv, stdout, stderr, the response
-- an external action reported and its input — is kept in its own column,
-- the last of the row, as a JSON object; doc holds the rest. A reader that
-- does not select outputs (ActionFilter.Brief: the incident report's
-- 100,000 actions) then reads neither it nor its overflow pages. Rows
-- written before this keep everything in doc and NULL here; readers take
-- both forms.
ALTER TABLE actions ADD COLUMN outputs BLOB;
