-- +goose Up
-- The IDs of the gateways' webhook events already processed, so that an
-- event delivered again (a gateway's retry, or a signed request replayed
-- within the signature's tolerance) is acknowledged without being acted on
-- twice. The sweep deletes the rows older than tierup.WebhookEventRetention,
-- longer than the 3 days over which Stripe retries a delivery.
CREATE TABLE webhook_events (
    gateway     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (gateway, event_id)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- +goose Down
DROP TABLE webhook_events;
