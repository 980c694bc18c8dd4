-- The records query of GET /records on a PostgreSQL store with 4M records: 10,000 connections of
-- 300 records (written interleaved, as many syncs at once write them) and one connection of 1M.
-- Reproduce from the repository's root (about 2 minutes on 2 cores; the database
-- `nango_scaling` is made anew and left for inspection; drop it when done):
--
--   psql -h 127.0.0.1 -U postgres -X -v ON_ERROR_STOP=1 -f docs/scaling/records-explain.sql
--
-- The schema is the store's own (migrations/postgres/), the statements are the ones
-- `store/postgres/records.rs` sends, with the values bound.
\set ON_ERROR_STOP 1
DROP DATABASE IF EXISTS nango_scaling;
CREATE DATABASE nango_scaling;
\c nango_scaling
\i nango-runtime/migrations/postgres/0010_schema_of_sqlite_0001_to_0010.sql
\i nango-runtime/migrations/postgres/0011_deployments.sql
\i nango-runtime/migrations/postgres/0012_task_queue.sql
\i nango-runtime/migrations/postgres/0013_records_by_change_time_and_deleted.sql
\timing on

-- Connection 1 is the big one; 2..10001 the small ones.
INSERT INTO connections (provider_config_key, connection_id, provider, credentials, credentials_kind,
    connection_config, metadata, created_at, updated_at)
SELECT 'github', 'c' || i, 'github', '\x'::bytea, 'none', '{}', '{}', 0, 0 FROM generate_series(1, 10001) i;

-- About 190 bytes of JSON a record, as the records benchmark stores. One write per 1,000
-- records shares a `seq`, as a batch does.
INSERT INTO records (connection, model, id, json, hash, first_seen_at, last_modified_at, last_action,
    seq, seen_run, seen_epoch)
SELECT 2 + (g % 10000), 'Ticket', (1000000 + g / 10000)::text,
    json_build_object('id', (1000000 + g / 10000)::text, 'number', g / 10000,
        'title', 'Issue #' || g || ': something to fix in the sync engine',
        'state', CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'open' END, 'updated_at', '2024-01-01T00:00:00Z')::text,
    '\x00112233445566778899aabbccddeeff'::bytea, 1700000000000000 + g, 1700000000000000 + g, 'ADDED',
    g / 1000 + 1, 1, 1
FROM generate_series(0, 2999999) g;
INSERT INTO records (connection, model, id, json, hash, first_seen_at, last_modified_at, last_action,
    seq, seen_run, seen_epoch)
SELECT 1, 'Ticket', (1000000 + g)::text,
    json_build_object('id', (1000000 + g)::text, 'number', g,
        'title', 'Issue #' || g || ': something to fix in the sync engine',
        'state', CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'open' END, 'updated_at', '2024-01-01T00:00:00Z')::text,
    '\x00112233445566778899aabbccddeeff'::bytea, 1710000000000000 + g, 1710000000000000 + g, 'ADDED',
    3001 + g / 1000, 1, 1
FROM generate_series(0, 999999) g;
-- One record in 500 of the big connection deleted (a later write, so a later seq).
UPDATE records SET deleted_at = 1720000000000000, last_modified_at = 1720000000000000, last_action = 'DELETED',
    seq = 5000 WHERE connection = 1 AND (id::bigint % 500) = 0;
SELECT setval('records_seq', 5000);
VACUUM ANALYZE records;
\timing off

SELECT count(*) AS records, pg_size_pretty(pg_relation_size('records')) AS heap,
    pg_size_pretty(pg_relation_size('records_by_seq')) AS records_by_seq,
    pg_size_pretty(pg_relation_size('records_connection_model_id_key')) AS unique_ids,
    pg_size_pretty(pg_relation_size('records_by_modified')) AS records_by_modified,
    pg_size_pretty(pg_relation_size('records_deleted_by_seq')) AS records_deleted_by_seq
FROM records;

-- A cursor half-way through the big connection.
SELECT seq AS mid_seq, pk AS mid_pk FROM records WHERE connection = 1 AND model = 'Ticket'
ORDER BY seq, pk OFFSET 500000 LIMIT 1 \gset

\echo '== 1. a page of 100 (LIMIT 101) after a cursor half-way through the connection of 1M records'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records
WHERE connection = 1 AND model = 'Ticket' AND (seq, pk) > (:mid_seq, :mid_pk) ORDER BY seq, pk LIMIT 101;

\echo '== 2. the first page of a connection of 300 records among 10,000'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records
WHERE connection = 5000 AND model = 'Ticket' ORDER BY seq, pk LIMIT 101;

\echo '== 3. ids=... (two records by id)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records
WHERE connection = 1 AND model = 'Ticket' AND id = ANY('{1000005,1999999}'::text[]) ORDER BY seq, pk LIMIT 101;

\echo '== 4. filter=deleted on the connection of 1M records (2,000 deleted)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records
WHERE connection = 1 AND model = 'Ticket' AND (deleted_at IS NOT NULL) ORDER BY seq, pk LIMIT 101;

\echo '== 5. modified_after the last 1,000 changes of the connection of 1M records, no cursor'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records
WHERE connection = 1 AND model = 'Ticket' AND last_modified_at >= 1710000000999000 ORDER BY seq, pk LIMIT 101;

\echo '== 6. the writers'' lookup of a batch''s stored state (apply): 1,000 ids'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, hash, deleted_at IS NOT NULL AS deleted, seen_run, last_action FROM records
WHERE connection = 1 AND model = 'Ticket'
AND id = ANY(ARRAY(SELECT (1400000 + g)::text FROM generate_series(0, 999) g));
