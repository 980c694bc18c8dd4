-- Deployments (as SQLite's 0011): the manifest of each binary that applied one, newest last (the
-- newest is what is deployed), and the webhooks telling consumers of removed models, queued in
-- the deployment's transaction.
CREATE TABLE deployments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployed_at BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    previous TEXT,
    applied_by TEXT NOT NULL,
    manifest TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE TABLE deploy_webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment BIGINT NOT NULL REFERENCES deployments (id),
    model TEXT NOT NULL,
    body BYTEA NOT NULL,
    queued_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX deploy_webhooks_pending ON deploy_webhooks (id) WHERE done_at IS NULL;
