-- claudemesh reference schema, part 4: API keys (only the sha256 of a secret is stored).
CREATE TABLE mesh.api_key (
	id text PRIMARY KEY,
	mesh_id text NOT NULL REFERENCES mesh.mesh (id) ON DELETE CASCADE,
	label text NOT NULL,
	secret_hash text NOT NULL,
	secret_prefix text NOT NULL,
	capabilities jsonb NOT NULL DEFAULT '[]',
	topic_scopes jsonb, -- NULL = all topics
	issued_by_member_id text REFERENCES mesh.member (id) ON DELETE SET NULL,
	created_at timestamp NOT NULL DEFAULT now(),
	last_used_at timestamp,
	revoked_at timestamp,
	expires_at timestamp
);
CREATE INDEX api_key_mesh_id_idx ON mesh.api_key (mesh_id);
CREATE INDEX api_key_secret_prefix_idx ON mesh.api_key (secret_prefix);
