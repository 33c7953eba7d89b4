-- +goose Up
-- Each account's customer at the payment gateway, created when its first
-- card is saved. The primary key keeps the first of two concurrent writes;
-- the gateway answers both with the same customer anyway (the idempotency
-- key is derived from the account ID). Keyed by gateway too, so that a
-- sandbox customer is never sent to Stripe.
CREATE TABLE gateway_customers (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    gateway    TEXT NOT NULL,
    ref        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, gateway)
);

-- The customer a card is attached to ('' for cards saved before), and when
-- its owner deleted it: deleted cards stay, because past upgrades show them.
ALTER TABLE payment_methods ADD COLUMN customer_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_methods ADD COLUMN deleted_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN deleted_at;
ALTER TABLE payment_methods DROP COLUMN customer_ref;
DROP TABLE gateway_customers;
