-- claudemesh reference schema, part 2: the append-only, hash-chained audit log.
-- Chains are per mesh_id in id order; see package audit for the hash format.
CREATE TABLE mesh.audit_log (
	id integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
	mesh_id text NOT NULL REFERENCES mesh.mesh (id) ON DELETE CASCADE,
	event_type text NOT NULL,
	actor_member_id text,
	actor_display_name text,
	payload jsonb NOT NULL DEFAULT '{}',
	prev_hash text NOT NULL,
	hash text NOT NULL,
	created_at timestamp NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_mesh_id_idx ON mesh.audit_log (mesh_id);
CREATE INDEX audit_log_created_at_idx ON mesh.audit_log (created_at);
