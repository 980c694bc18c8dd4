-- Rolling deploys: the run version of each sync of the deployed manifest (a digest of what a
-- run does and writes: its type, models and their schemas, nango.yaml's `version`), replaced by
-- every deployment. A runner claims a task only when its binary has the deployed version of the
-- task's sync, and a scheduler enqueues tasks of deployed syncs only. Deployments applied before
-- this migration recorded no versions (`sync_versions_recorded` 0): until one does, a runner
-- takes the tasks of every sync its binary has, as before.
CREATE TABLE deployed_syncs (
    integration TEXT NOT NULL,
    sync TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (integration, sync)
);
ALTER TABLE deployments ADD COLUMN sync_versions_recorded INTEGER NOT NULL DEFAULT 0;
