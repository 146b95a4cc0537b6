-- claudemesh reference schema, part 1: schema, enums, users, meshes, members.
CREATE SCHEMA "mesh";

-- The product's user table lives in public; the mesh owner references it.
CREATE TABLE IF NOT EXISTS public."user" (
	id text PRIMARY KEY,
	name text,
	email text,
	created_at timestamp NOT NULL DEFAULT now()
);

CREATE TYPE mesh.role AS ENUM ('admin', 'member');
CREATE TYPE mesh.message_priority AS ENUM ('now', 'next', 'low');

CREATE TABLE mesh.mesh (
	id text PRIMARY KEY,
	name text NOT NULL,
	slug text NOT NULL, -- not unique: upstream allows duplicates
	owner_user_id text NOT NULL REFERENCES public."user" (id),
	visibility text NOT NULL DEFAULT 'private',
	tier text NOT NULL DEFAULT 'free',
	created_at timestamp NOT NULL DEFAULT now(),
	archived_at timestamp,
	owner_pubkey text,       -- ed25519, 64 hex
	owner_secret_key text,   -- 128 hex
	root_key text            -- base64url, no padding, 43 chars
);

CREATE TABLE mesh.member (
	id text PRIMARY KEY,
	mesh_id text NOT NULL REFERENCES mesh.mesh (id) ON DELETE CASCADE,
	user_id text,
	peer_pubkey text NOT NULL, -- ed25519, 64 hex; deliberately not unique
	display_name text NOT NULL,
	role mesh.role NOT NULL DEFAULT 'member',
	joined_at timestamp NOT NULL DEFAULT now(),
	last_seen_at timestamp,
	revoked_at timestamp,      -- set = banned
	dashboard_user_id text,
	peer_grants jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX member_mesh_id_idx ON mesh.member (mesh_id);

CREATE TABLE mesh.presence (
	id text PRIMARY KEY,
	member_id text NOT NULL REFERENCES mesh.member (id) ON DELETE CASCADE,
	session_id text NOT NULL,
	pid integer NOT NULL,
	cwd text NOT NULL,
	connected_at timestamp NOT NULL DEFAULT now(),
	last_ping_at timestamp NOT NULL DEFAULT now(),
	disconnected_at timestamp,
	session_pubkey text
);
CREATE INDEX presence_member_id_idx ON mesh.presence (member_id);

CREATE TABLE mesh.message_queue (
	id text PRIMARY KEY,
	mesh_id text NOT NULL,
	sender_member_id text NOT NULL,
	target_spec text NOT NULL,
	priority mesh.message_priority NOT NULL DEFAULT 'next',
	nonce text NOT NULL,
	ciphertext text NOT NULL,
	created_at timestamp NOT NULL DEFAULT now(),
	delivered_at timestamp,
	expires_at timestamp
);
-- The broker's queue depth and the orphan sweep both scan undelivered rows.
CREATE INDEX message_queue_undelivered_idx ON mesh.message_queue (mesh_id, created_at)
	WHERE delivered_at IS NULL;
