// Package notify writes mention notifications: the one implementation of
// the runtime fan-out (SPEC §5) that the broker's write path and the
// notifications backfill both call, so the two can never disagree.
//
// The rule itself is meshfmt's: the tokens come from meshfmt.MentionTokens
// (or ExplicitMentionTokens), the recipients from meshfmt.MentionRecipients
// over the mesh's non-revoked members in byte order of their ids — the
// mesh's members whose display name, lower-cased as JavaScript does, is a
// token, except the sender, at most 32. The database only narrows the
// roster (names whose lower() is a token, or that hold non-ASCII
// characters, where PostgreSQL's lower() and JavaScript's toLowerCase()
// may differ); the match is made in Go. Each recipient gets one row, kind
// 'mention', created at the message's time; ON CONFLICT (message_id,
// recipient_member_id) DO NOTHING makes writing idempotent.
package notify

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/meshfmt"
)

// Message is one message whose mentions are to be written.
type Message struct {
	ID        string
	MeshID    string
	TopicID   string
	SenderID  string
	CreatedAt time.Time // the notification's created_at
	Tokens    []string  // meshfmt.MentionTokens or ExplicitMentionTokens
}

// Querier is what Insert needs: a pgx.Tx, *pgx.Conn or pool.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Notification is one (message, recipient) pair the rule selects.
type Notification struct {
	Message     Message
	RecipientID string
}

// rosterSQL reads, for the meshes of a batch, every non-revoked member who
// could match a token: lower(name) is one, or the name is not plain ASCII.
const rosterSQL = `
SELECT mesh_id, id, display_name FROM mesh.member
WHERE mesh_id = ANY($1::text[]) AND revoked_at IS NULL
  AND (lower(display_name) = ANY($2::text[]) OR display_name !~ '^[ -~]*$')
ORDER BY mesh_id, id COLLATE "C"`

// Recipients returns the notifications the rule gives for msgs, reading
// the rosters of their meshes in one query.
func Recipients(ctx context.Context, q Querier, msgs []Message) ([]Notification, error) {
	var meshes, tokens []string
	seenMesh, seenTok := map[string]bool{}, map[string]bool{}
	for _, m := range msgs {
		if len(m.Tokens) == 0 {
			continue
		}
		if !seenMesh[m.MeshID] {
			seenMesh[m.MeshID] = true
			meshes = append(meshes, m.MeshID)
		}
		for _, t := range m.Tokens {
			if !seenTok[t] {
				seenTok[t] = true
				tokens = append(tokens, t)
			}
		}
	}
	if len(meshes) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, rosterSQL, meshes, tokens)
	if err != nil {
		return nil, err
	}
	roster := map[string][]meshfmt.MentionCandidate{}
	for rows.Next() {
		var mesh string
		var c meshfmt.MentionCandidate
		if err := rows.Scan(&mesh, &c.ID, &c.DisplayName); err != nil {
			rows.Close()
			return nil, err
		}
		roster[mesh] = append(roster[mesh], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Notification
	for _, m := range msgs {
		for _, c := range meshfmt.MentionRecipients(m.Tokens, m.SenderID, roster[m.MeshID]) {
			out = append(out, Notification{Message: m, RecipientID: c.ID})
		}
	}
	return out, nil
}

const insertSQL = `
INSERT INTO mesh.notification (id, mesh_id, topic_id, message_id, recipient_member_id, sender_member_id, kind, created_at)
SELECT replace(gen_random_uuid()::text, '-', ''), n.mesh_id, n.topic_id, n.message_id, n.recipient_id, n.sender_id, 'mention', n.created_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamp[])
     AS n(message_id, mesh_id, topic_id, sender_id, recipient_id, created_at)
ON CONFLICT (message_id, recipient_member_id) DO NOTHING`

// Insert writes the notifications of msgs and returns how many rows were
// new.
func Insert(ctx context.Context, q Querier, msgs []Message) (int64, error) {
	ns, err := Recipients(ctx, q, msgs)
	if err != nil || len(ns) == 0 {
		return 0, err
	}
	tag, err := q.Exec(ctx, insertSQL, arrays(ns)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Count returns how many rows Insert would write now, reading only, and up
// to sample of them described ("message M: notify member R").
func Count(ctx context.Context, q Querier, msgs []Message, sample int) (int64, []string, error) {
	ns, err := Recipients(ctx, q, msgs)
	if err != nil || len(ns) == 0 {
		return 0, nil, err
	}
	a := arrays(ns)
	rows, err := q.Query(ctx, `
		SELECT n.message_id, n.recipient_id
		FROM unnest($1::text[], $2::text[]) AS n(message_id, recipient_id)
		WHERE NOT EXISTS (SELECT 1 FROM mesh.notification x WHERE x.message_id = n.message_id AND x.recipient_member_id = n.recipient_id)`,
		a[0], a[4])
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

func arrays(ns []Notification) []any {
	var ids, meshes, topics, senders, recipients []string
	var times []time.Time
	for _, n := range ns {
		ids = append(ids, n.Message.ID)
		meshes = append(meshes, n.Message.MeshID)
		topics = append(topics, n.Message.TopicID)
		senders = append(senders, n.Message.SenderID)
		recipients = append(recipients, n.RecipientID)
		times = append(times, n.Message.CreatedAt)
	}
	return []any{ids, meshes, topics, senders, recipients, times}
}
