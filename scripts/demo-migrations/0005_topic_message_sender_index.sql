-- meshctl:no-transaction
-- Who sent what: the sender lookups of the notifications backfill and the
-- member pages. Built without blocking writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS topic_message_sender_idx ON mesh.topic_message (sender_member_id);
