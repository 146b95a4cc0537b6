CREATE INDEX IF NOT EXISTS "member_pubkey_idx" ON "mesh"."member" ("peer_pubkey");
-- comment with CRLF
ALTER TYPE "mesh"."role" ADD VALUE IF NOT EXISTS 'owner';
