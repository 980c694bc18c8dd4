-- Conditional requests: the validator (`ETag`) of each page a sync fetched, by request URL, with
-- where the page led (the sync's JSON, NULL for the last page) and the last run that fetched or
-- used it (a run that ends well forgets the others). A reset of the sync forgets them all.
-- (PostgreSQL's 0015: its 0014 was taken.)
CREATE TABLE page_validators (
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT NOT NULL,
    led_to TEXT,
    run INTEGER NOT NULL,
    PRIMARY KEY (connection, sync, url)
);
