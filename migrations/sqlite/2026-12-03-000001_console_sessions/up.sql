-- (SQLite) Analyst console sessions: one row per signed-in browser. The
-- session id itself is never stored, only its SHA-256 (hex); the session is
-- bound to the certificate it was made with (its SHA-256 fingerprint) and to
-- one API client, whose scopes it had when signing in.
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    client_id TEXT NOT NULL REFERENCES api_clients(id),
    certificate_fingerprint TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);

-- Where each API client's console user stopped reading the change feed
-- ("new for me"): the opaque feed cursor given at the last visit.
CREATE TABLE console_feed_positions (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES api_clients(id),
    cursor TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
