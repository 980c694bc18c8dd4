-- Two filters of GET /records that the (connection, model, seq, pk) index answers only by
-- reading every record of the connection before the first match (measured in docs/SCALING.md:
-- 1.1 s and 1.6 s for a connection of 1M records):
-- - `modified_after` a recent time: the recent changes are the last positions, so an ordered scan
--   from the start passes all the others. With the change time indexed, the planner picks the
--   few rows changed since and sorts them, or (for a time long past) keeps the ordered scan.
-- - `filter=deleted`: deleted records are few. Their own ordered index has nothing else in it.
-- (PostgreSQL only: SQLite's schema is the same without them.)
CREATE INDEX records_by_modified ON records (connection, model, last_modified_at);
CREATE INDEX records_deleted_by_seq ON records (connection, model, seq, pk) WHERE deleted_at IS NOT NULL;
