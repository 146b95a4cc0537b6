/*
 * Hand-written: seed rows and a helper function.
 * /* nested block comment; with a semicolon */ still inside the outer one;
 */
-- Übersicht: café, naïve, 日本語, emoji 🚀 — “smart quotes” ; not a statement end
INSERT INTO "user" ("id", "name") VALUES ('u1', 'Zoë');
INSERT INTO "mesh"."mesh" ("id", "name", "slug", "owner_user_id")
VALUES ('m1', 'costs $5; paid $$ twice', 'path\\to\\mesh', 'u1');
INSERT INTO "mesh"."member" ("id", "mesh_id", "peer_pubkey", "display_name")
VALUES ('p1', 'm1', repeat('a', 64), E'tab\there \\ backslash; it''s fine');
CREATE FUNCTION "mesh"."touch"(m text) RETURNS void AS $fn$
BEGIN
  -- a semicolon inside a dollar quote; and a $$ that is not the tag
  UPDATE "mesh"."mesh" SET "archived_at" = NULL WHERE "id" = m;
END;
$fn$ LANGUAGE plpgsql;
SELECT "mesh"."touch"('m1')