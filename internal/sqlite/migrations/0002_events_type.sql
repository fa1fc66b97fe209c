-- The daemon rebuilds its control state at start — halts in force,
-- learned rules — from a few kinds of event. An index by type lets it read
-- just those instead of the whole journal.
CREATE INDEX events_type ON events (type, seq);
