-- Names that look alike are the same name (SPEC §2): the UTS #39 confusable skeleton of the
-- case-folded NFKC form of API usernames (installation-wide) and user emails (per organization),
-- computed in Rust (countersign_core::names::skeleton) and unique. Rows from before this
-- migration are filled in by `Store::migrate`; a row whose skeleton collides with another's
-- keeps NULL (unique indexes let NULLs repeat), so nothing existing is lost, new look-alikes
-- are refused, and `countersign doctor` lists the collisions.
ALTER TABLE api_users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX api_users_username_skeleton ON api_users (username_skeleton);

ALTER TABLE users ADD COLUMN email_skeleton TEXT;
CREATE UNIQUE INDEX users_email_skeleton ON users (organization_id, email_skeleton);
