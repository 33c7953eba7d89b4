-- +goose Up
-- One number that every replaced API token and every deleted session
-- raises, in the transaction that does it: the processes that keep
-- credentials in memory read it to know when to forget them.
CREATE TABLE auth_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO auth_version (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE auth_version;
