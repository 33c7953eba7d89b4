-- +goose Up
-- Card fingerprints were keyed by a key kept in this same database, so a
-- copy of it was enough to brute-force the card numbers behind them. The
-- key is deleted and the fingerprints it made are cleared; new ones use a
-- key derived from the master secret, which never enters the database.
UPDATE payment_methods SET fingerprint = '';
DELETE FROM secrets WHERE name = 'card_fingerprint_key';

-- +goose Down
-- Nothing to put back: the old key and its fingerprints are gone on purpose.
SELECT 1;
