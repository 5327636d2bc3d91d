-- (SQLite) Secrets the servers of one deployment share, made on first use:
-- the key that seals paging cursors. Added by the second wave; nothing
-- existing is changed.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
