-- +goose Up
CREATE TABLE test_clocks (
    id          TEXT PRIMARY KEY,
    frozen_time TIMESTAMP NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL DEFAULT '',
    timezone             TEXT NOT NULL DEFAULT 'UTC',
    test_clock_id        TEXT REFERENCES test_clocks (id),
    plan_id              TEXT NOT NULL,
    current_period_start TIMESTAMP,
    current_period_end   TIMESTAMP,
    usage_functions      INTEGER NOT NULL DEFAULT 0,
    usage_cronjobs       INTEGER NOT NULL DEFAULT 0,
    usage_storage_mb     INTEGER NOT NULL DEFAULT 0,
    token_hash           BLOB NOT NULL UNIQUE,
    created_at           TIMESTAMP NOT NULL,
    CHECK ((current_period_start IS NULL) = (current_period_end IS NULL))
);

-- Quotes are the contract for a charge: written once, never changed.
CREATE TABLE quotes (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    from_plan  TEXT NOT NULL,
    to_plan    TEXT NOT NULL,
    policy     TEXT NOT NULL,
    amount_due INTEGER NOT NULL,
    currency   TEXT NOT NULL,
    quoted_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    body       TEXT NOT NULL,
    signature  TEXT NOT NULL
);
CREATE INDEX quotes_account ON quotes (account_id, quoted_at);

-- +goose StatementBegin
CREATE TRIGGER quotes_immutable BEFORE UPDATE ON quotes
BEGIN
    SELECT RAISE(ABORT, 'quotes are immutable');
END;
-- +goose StatementEnd

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE quotes;
DROP TABLE accounts;
DROP TABLE test_clocks;
