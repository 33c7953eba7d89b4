-- +goose Up
-- Run by the Go migration 00003 (sqlstore/migrate.go), which then backfills
-- the derived columns below from each upgrade's document with the same
-- Go code that writes them, after rewriting every stored time in the
-- sortable form (timeLayout); goose does not read this file by itself.

-- Derived from the upgrade's document by the store on every write (the
-- rule is Upgrade.Active, Moving, RunningWorker and DueAt, in Go).
ALTER TABLE upgrades ADD COLUMN active BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE upgrades ADD COLUMN moving BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE upgrades ADD COLUMN running_worker TEXT;
-- NULL only until the backfill has run.
ALTER TABLE upgrades ADD COLUMN due_at TIMESTAMP;

-- One upgrade at a time per account, whatever the application does.
DROP INDEX upgrades_one_active;
CREATE UNIQUE INDEX upgrades_one_active ON upgrades (account_id) WHERE active;

-- Workflow processes' heartbeats, at the database's time.
CREATE TABLE processes (
    id         TEXT PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL
);

-- +goose Down
-- Upgrade documents stay version 1, which a store from before 00003 cannot
-- read: going down is for development databases.
-- Times stay in timeLayout, which the driver reads as well.
DROP TABLE processes;
DROP INDEX upgrades_one_active;
CREATE UNIQUE INDEX upgrades_one_active ON upgrades (account_id)
    WHERE status IN ('processing', 'payment_failed', 'paused', 'needs_support');
ALTER TABLE upgrades DROP COLUMN due_at;
ALTER TABLE upgrades DROP COLUMN running_worker;
ALTER TABLE upgrades DROP COLUMN moving;
ALTER TABLE upgrades DROP COLUMN active;
