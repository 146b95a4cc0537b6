-- claudemesh reference schema, part 5: mention notifications.
CREATE TABLE mesh.notification (
	id text PRIMARY KEY,
	mesh_id text NOT NULL REFERENCES mesh.mesh (id) ON DELETE CASCADE,
	topic_id text NOT NULL REFERENCES mesh.topic (id) ON DELETE CASCADE,
	message_id text NOT NULL REFERENCES mesh.topic_message (id) ON DELETE CASCADE,
	recipient_member_id text NOT NULL REFERENCES mesh.member (id) ON DELETE CASCADE,
	sender_member_id text NOT NULL REFERENCES mesh.member (id) ON DELETE CASCADE,
	kind text NOT NULL DEFAULT 'mention',
	created_at timestamp NOT NULL DEFAULT now(),
	read_at timestamp,
	CONSTRAINT notification_message_recipient_unique UNIQUE (message_id, recipient_member_id)
);
CREATE INDEX notification_unread_idx ON mesh.notification (recipient_member_id, created_at DESC)
	WHERE read_at IS NULL;
