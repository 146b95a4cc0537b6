-- claudemesh reference schema, part 3: topics, subscriptions, messages, sealed keys.
CREATE TYPE mesh.topic_visibility AS ENUM ('public', 'private', 'dm');
CREATE TYPE mesh.topic_member_role AS ENUM ('lead', 'member', 'observer');

CREATE TABLE mesh.topic (
	id text PRIMARY KEY,
	mesh_id text NOT NULL REFERENCES mesh.mesh (id) ON DELETE CASCADE,
	name text NOT NULL, -- stored without '#': general
	description text,
	visibility mesh.topic_visibility NOT NULL DEFAULT 'public',
	created_by_member_id text REFERENCES mesh.member (id) ON DELETE SET NULL,
	created_at timestamp NOT NULL DEFAULT now(),
	archived_at timestamp,
	encrypted_key_pubkey text, -- x25519 hex; NULL = legacy unencrypted topic
	CONSTRAINT topic_mesh_name_unique UNIQUE (mesh_id, name)
);

CREATE TABLE mesh.topic_member (
	topic_id text NOT NULL REFERENCES mesh.topic (id) ON DELETE CASCADE,
	member_id text NOT NULL REFERENCES mesh.member (id) ON DELETE CASCADE,
	role mesh.topic_member_role NOT NULL DEFAULT 'member',
	joined_at timestamp NOT NULL DEFAULT now(),
	last_read_at timestamp,
	CONSTRAINT topic_member_unique UNIQUE (topic_id, member_id)
);
CREATE INDEX topic_member_member_id_idx ON mesh.topic_member (member_id);

CREATE TABLE mesh.topic_message (
	id text PRIMARY KEY,
	topic_id text NOT NULL REFERENCES mesh.topic (id) ON DELETE CASCADE,
	sender_member_id text NOT NULL REFERENCES mesh.member (id) ON DELETE CASCADE,
	nonce text NOT NULL,
	ciphertext text NOT NULL,
	created_at timestamp NOT NULL DEFAULT now(),
	body_version integer NOT NULL DEFAULT 1 -- 1 = base64 plaintext, 2 = secretbox
);
CREATE INDEX topic_message_topic_created_idx ON mesh.topic_message (topic_id, created_at);

CREATE TABLE mesh.topic_member_key (
	id text PRIMARY KEY,
	topic_id text NOT NULL REFERENCES mesh.topic (id) ON DELETE CASCADE,
	member_id text NOT NULL REFERENCES mesh.member (id) ON DELETE CASCADE,
	encrypted_key text NOT NULL, -- base64(sender_pk(32) || box(48))
	nonce text NOT NULL,         -- base64, 24 bytes
	created_at timestamp NOT NULL DEFAULT now(),
	rotated_at timestamp,
	CONSTRAINT topic_member_key_unique UNIQUE (topic_id, member_id)
);
