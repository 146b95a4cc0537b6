-- Not re-runnable: drops and recreates audit_log (re-running it wipes the chain).
DROP TABLE IF EXISTS "mesh"."audit_log" CASCADE;
CREATE TABLE "mesh"."audit_log" (
  "id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  "mesh_id" text NOT NULL REFERENCES "mesh"."mesh"("id") ON DELETE CASCADE,
  "event_type" text NOT NULL,
  "actor_member_id" text,
  "payload" jsonb NOT NULL DEFAULT '{}'::jsonb,
  "prev_hash" text NOT NULL,
  "hash" text NOT NULL,
  "created_at" timestamp NOT NULL DEFAULT now()
);
CREATE INDEX "audit_log_mesh_id_idx" ON "mesh"."audit_log" ("mesh_id");
