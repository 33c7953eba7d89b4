-- +goose Up
-- No query reads quotes by account (a quote is read by its ID, an account
-- is never deleted), and every quote written paid for this index: one
-- b-tree page more in each commit.
DROP INDEX quotes_account;

-- +goose Down
CREATE INDEX quotes_account ON quotes (account_id, quoted_at);
