-- +goose Up
-- The admin listings page newest first by (created_at, id), optionally for
-- one account: these indexes serve the order and the keyset position
-- without a sort of every row.
CREATE INDEX upgrades_created ON upgrades (created_at, id);
CREATE INDEX upgrades_account_created ON upgrades (account_id, created_at, id);
CREATE INDEX support_tickets_created ON support_tickets (created_at, id);

-- +goose Down
DROP INDEX support_tickets_created;
DROP INDEX upgrades_account_created;
DROP INDEX upgrades_created;
