-- +goose Up
CREATE TABLE test_clocks (
    id          TEXT PRIMARY KEY,
    frozen_time TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL DEFAULT '',
    timezone             TEXT NOT NULL DEFAULT 'UTC',
    test_clock_id        TEXT REFERENCES test_clocks (id),
    plan_id              TEXT NOT NULL,
    current_period_start TIMESTAMPTZ,
    current_period_end   TIMESTAMPTZ,
    usage_functions      BIGINT NOT NULL DEFAULT 0,
    usage_cronjobs       BIGINT NOT NULL DEFAULT 0,
    usage_storage_mb     BIGINT NOT NULL DEFAULT 0,
    token_hash           BYTEA NOT NULL UNIQUE,
    created_at           TIMESTAMPTZ NOT NULL,
    CHECK ((current_period_start IS NULL) = (current_period_end IS NULL))
);

-- Quotes are the contract for a charge: written once, never changed.
CREATE TABLE quotes (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    from_plan  TEXT NOT NULL,
    to_plan    TEXT NOT NULL,
    policy     TEXT NOT NULL,
    amount_due BIGINT NOT NULL,
    currency   TEXT NOT NULL,
    quoted_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    body       TEXT NOT NULL,
    signature  TEXT NOT NULL
);
CREATE INDEX quotes_account ON quotes (account_id, quoted_at);

-- +goose StatementBegin
CREATE FUNCTION quotes_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'quotes are immutable';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER quotes_immutable BEFORE UPDATE ON quotes
    FOR EACH ROW EXECUTE FUNCTION quotes_immutable();

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE quotes;
DROP FUNCTION quotes_immutable CASCADE;
DROP TABLE accounts;
DROP TABLE test_clocks;
