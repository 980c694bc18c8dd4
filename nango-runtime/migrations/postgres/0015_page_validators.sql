-- Conditional requests: the validator (`ETag`) of each page a sync fetched, by request URL, with
-- where the page led (the sync's JSON, NULL for the last page) and the last run that fetched or
-- used it (a run that ends well forgets the others). A reset of the sync forgets them all.
-- (As SQLite's 0014; 0014 here was taken.)
CREATE TABLE page_validators (
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT NOT NULL,
    led_to TEXT,
    run BIGINT NOT NULL,
    PRIMARY KEY (connection, sync, url)
);
