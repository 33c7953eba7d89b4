-- +goose Up
-- The account credit ledger: append-only rows whose sum is the balance,
-- so that every change of the balance is explained by an entry and no
-- stored figure can drift from them. Each upgrade writes at most one
-- entry of each kind (granted, applied, returned, revoked): the unique key
-- makes a repeated step append nothing.
-- seq orders the entries as they were appended.
CREATE TABLE credit_entries (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    kind       TEXT NOT NULL CHECK (kind IN ('granted', 'applied', 'returned', 'revoked')),
    amount     BIGINT NOT NULL CHECK ((amount > 0) = (kind IN ('granted', 'returned')) AND amount <> 0),
    currency   TEXT NOT NULL,
    upgrade_id TEXT NOT NULL REFERENCES upgrades (id),
    quote_id   TEXT NOT NULL REFERENCES quotes (id),
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (upgrade_id, kind)
);
CREATE INDEX credit_entries_account ON credit_entries (account_id, seq);

-- +goose StatementBegin
CREATE FUNCTION credit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credit entries are append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER credit_entries_append_only BEFORE UPDATE OR DELETE ON credit_entries
    FOR EACH ROW EXECUTE FUNCTION credit_entries_append_only();

-- What the current period cost (tierup.Subscription.Value), which the next
-- upgrade prorates; NULL for a free plan and for periods begun before it
-- was kept, which are worth their plan's price.
ALTER TABLE accounts ADD COLUMN period_value BIGINT;
ALTER TABLE accounts ADD COLUMN period_value_currency TEXT;

-- +goose Down
ALTER TABLE accounts DROP COLUMN period_value_currency;
ALTER TABLE accounts DROP COLUMN period_value;
DROP TABLE credit_entries;
DROP FUNCTION credit_entries_append_only CASCADE;
