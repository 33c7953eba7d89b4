-- +goose Up
-- The plan whose limits and entitlements the account enjoys; NULL follows plan_id.
ALTER TABLE accounts ADD COLUMN entitlements_plan TEXT;

-- Cards as tierup keeps them: never the number or the CVC.
CREATE TABLE payment_methods (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    brand       TEXT NOT NULL,
    last4       TEXT NOT NULL,
    exp_month   INTEGER NOT NULL,
    exp_year    INTEGER NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL,
    gateway_ref TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX payment_methods_account ON payment_methods (account_id);

CREATE TABLE upgrades (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    quote_id   TEXT NOT NULL UNIQUE REFERENCES quotes (id),
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    state      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One upgrade at a time per account, whatever the application does.
CREATE UNIQUE INDEX upgrades_one_active ON upgrades (account_id)
    WHERE status IN ('processing', 'payment_failed', 'paused', 'needs_support');
CREATE INDEX upgrades_status ON upgrades (status);

CREATE TABLE upgrade_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    upgrade_id TEXT NOT NULL REFERENCES upgrades (id),
    account_id TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    message    TEXT NOT NULL,
    state      TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX upgrade_events_upgrade ON upgrade_events (upgrade_id, seq);
CREATE INDEX upgrade_events_account ON upgrade_events (account_id, action, created_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notifications_account ON notifications (account_id, created_at);

CREATE TABLE support_tickets (
    id         TEXT PRIMARY KEY,
    upgrade_id TEXT NOT NULL REFERENCES upgrades (id),
    account_id TEXT NOT NULL,
    step       TEXT NOT NULL,
    error      TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Small documents adapters keep: the sandbox gateway's ledger, the simulated
-- cluster, injected faults, idempotent API responses.
CREATE TABLE records (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);

-- +goose Down
DROP TABLE records;
DROP TABLE support_tickets;
DROP TABLE notifications;
DROP TABLE upgrade_events;
DROP TABLE upgrades;
DROP TABLE payment_methods;
ALTER TABLE accounts DROP COLUMN entitlements_plan;
