-- +goose Up
-- Sessions, login links and idempotency keys move out of records into
-- tables of their own, each with an expiry that the sweep deletes by.
--
-- Sessions and login links (records scopes web:session and web:login) live
-- hours to days, so they are dropped rather than moved: whoever was signed
-- in to the dashboard asks for a new sign-in link.
CREATE TABLE sessions (
    id_hash    BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    csrf       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_links (
    token_hash BYTEA PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_links_expires ON login_links (expires_at);

-- The first answer to a request with an Idempotency-Key, kept 24 hours.
CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    key        TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    upgrade_id TEXT NOT NULL REFERENCES upgrades (id),
    response   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- Idempotency keys are moved (scope "idempotency:<account>"), created when
-- their record was last written and expiring a day later.
INSERT INTO idempotency_keys (account_id, key, body_hash, upgrade_id, response, created_at, expires_at)
SELECT substr(scope, length('idempotency:') + 1), key, value::json ->> 'body_hash',
       value::json -> 'upgrade' ->> 'id', (value::json -> 'upgrade')::text, updated_at,
       updated_at + INTERVAL '24 hours'
FROM records
WHERE scope LIKE 'idempotency:%' AND value::json -> 'upgrade' ->> 'id' IN (SELECT id FROM upgrades);

DELETE FROM records WHERE scope IN ('web:session', 'web:login') OR scope LIKE 'idempotency:%';

-- +goose Down
-- The rows are not put back into records: sessions and links are
-- short-lived, and an idempotency key only guards a retry.
DROP TABLE idempotency_keys;
DROP TABLE login_links;
DROP TABLE sessions;
