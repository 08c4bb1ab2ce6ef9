-- A counter bumped by every directory change. Nodes poll it as the safety net behind
-- PostgreSQL LISTEN/NOTIFY (and, on SQLite, to see changes the CLI makes while a server runs).
CREATE TABLE directory_version (
    id BIGINT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO directory_version (id, version) VALUES (1, 0);
