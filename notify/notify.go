// Package notify writes mention notifications: the one implementation of
// the runtime fan-out rule (SPEC §5) that the broker's write path and the
// notifications backfill both call, so the two can never disagree.
//
// For each message: the mention tokens (meshfmt's extraction: the explicit
// list or, for body_version 1, the @names in the decoded body, lower-cased,
// at most 16 distinct) select the mesh's non-revoked members whose
// lower(display_name) is a token, except the sender, at most 32 (by member
// id), and each gets one row kind 'mention' created at the message's time;
// ON CONFLICT (message_id, recipient_member_id) DO NOTHING makes it
// idempotent.
package notify

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MaxRecipients is the most notifications one message creates.
const MaxRecipients = 32

// Message is one message whose mentions are to be written.
type Message struct {
	ID        string
	MeshID    string
	TopicID   string
	SenderID  string
	CreatedAt time.Time // the notification's created_at
	Tokens    []string  // lower-cased mention tokens (meshfmt)
}

// Querier is what Insert needs: a pgx.Tx, *pgx.Conn or pool.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// candidates selects, for a batch given as parallel arrays (one row per
// message and token), each (message, recipient) the rule allows.
const candidates = `
SELECT c.message_id, c.mesh_id, c.topic_id, c.sender_id, c.created_at, c.member_id
FROM (
	SELECT DISTINCT ON (msg.message_id, mb.id) msg.message_id, msg.mesh_id, msg.topic_id, msg.sender_id, msg.created_at, mb.id AS member_id,
	       dense_rank() OVER (PARTITION BY msg.message_id ORDER BY mb.id) AS n
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamp[], $6::text[])
	     AS msg(message_id, mesh_id, topic_id, sender_id, created_at, token)
	JOIN mesh.member mb
	  ON mb.mesh_id = msg.mesh_id AND lower(mb.display_name) = msg.token
	 AND mb.revoked_at IS NULL AND mb.id <> msg.sender_id
	ORDER BY msg.message_id, mb.id
) c
WHERE c.n <= $7`

const insertSQL = `
INSERT INTO mesh.notification (id, mesh_id, topic_id, message_id, recipient_member_id, sender_member_id, kind, created_at)
SELECT replace(gen_random_uuid()::text, '-', ''), mesh_id, topic_id, message_id, member_id, sender_id, 'mention', created_at
FROM (` + candidates + `) k
ON CONFLICT (message_id, recipient_member_id) DO NOTHING`

const countSQL = `
SELECT k.message_id, k.member_id FROM (` + candidates + `) k
WHERE NOT EXISTS (SELECT 1 FROM mesh.notification n WHERE n.message_id = k.message_id AND n.recipient_member_id = k.member_id)
ORDER BY 1, 2`

// Insert writes the notifications of msgs and returns how many rows were
// new. Messages without tokens are skipped without a query.
func Insert(ctx context.Context, q Querier, msgs []Message) (int64, error) {
	args, ok := arrays(msgs)
	if !ok {
		return 0, nil
	}
	tag, err := q.Exec(ctx, insertSQL, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Count returns how many rows Insert would write now, reading only, and up
// to sample of them described ("message M: notify member R").
func Count(ctx context.Context, q pgx.Tx, msgs []Message, sample int) (int64, []string, error) {
	args, ok := arrays(msgs)
	if !ok {
		return 0, nil, nil
	}
	rows, err := q.Query(ctx, countSQL, args...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var n int64
	var out []string
	for rows.Next() {
		var m, r string
		if err := rows.Scan(&m, &r); err != nil {
			return 0, nil, err
		}
		n++
		if len(out) < sample {
			out = append(out, "message "+m+": notify member "+r)
		}
	}
	return n, out, rows.Err()
}

func arrays(msgs []Message) ([]any, bool) {
	var ids, meshes, topics, senders, tokens []string
	var times []time.Time
	for _, m := range msgs {
		for _, t := range m.Tokens {
			ids = append(ids, m.ID)
			meshes = append(meshes, m.MeshID)
			topics = append(topics, m.TopicID)
			senders = append(senders, m.SenderID)
			times = append(times, m.CreatedAt)
			tokens = append(tokens, t)
		}
	}
	return []any{ids, meshes, topics, senders, times, tokens, MaxRecipients}, len(ids) > 0
}

var _ Querier = (pgx.Tx)(nil)
