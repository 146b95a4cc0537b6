package backfill

import (
	"context"
	"encoding/base64"
	"fmt"

	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/notify"
)

// Notifications turns the mentions in existing topic messages into
// mesh.notification rows with the broker's own write path: the tokens of
// meshfmt.MentionTokens, the fan-out of notify.Insert. Only body_version 1 bodies (base64 of UTF-8 text) are readable;
// version 2 is ciphertext to the server. A body that is not valid base64,
// not UTF-8, or larger than MaxBody is skipped and counted, never fatal.
// The unit of work is a message, in id order.
type Notifications struct{}

// MaxBody is the largest decoded body read (the broker's MAX_MESSAGE_BYTES
// default); a larger one cannot have been sent and is skipped.
const MaxBody = 65536

func (Notifications) Name() string { return "notifications" }
func (Notifications) Description() string {
	return "create mention notifications for existing topic messages (body version 1)"
}
func (Notifications) MaxBatch() int { return 20000 }

func (Notifications) Estimate(ctx context.Context, conn *pgx.Conn) (int64, error) {
	return estimateRows(ctx, conn, "mesh.topic_message")
}

// Skip reasons.
const (
	SkipEncrypted     = "body_version_2"
	SkipUnknown       = "unknown_body_version"
	SkipInvalidBase64 = "invalid_base64"
	SkipInvalidUTF8   = "invalid_utf8"
	SkipOversized     = "oversized"
)

func (Notifications) Step(ctx context.Context, tx pgx.Tx, cursor string, limit int, dry bool) (Step, error) {
	// The body is fetched only where it can be read, and only up to a
	// size a valid message can have (base64 of MaxBody bytes).
	rows, err := tx.Query(ctx, `
		SELECT tm.id, t.mesh_id, tm.topic_id, tm.sender_member_id, tm.created_at, tm.body_version,
		       octet_length(tm.ciphertext) > $3,
		       CASE WHEN tm.body_version = 1 AND octet_length(tm.ciphertext) <= $3 THEN tm.ciphertext END
		FROM mesh.topic_message tm JOIN mesh.topic t ON t.id = tm.topic_id
		WHERE tm.id > $1 ORDER BY tm.id LIMIT $2`, cursor, limit, base64.StdEncoding.EncodedLen(MaxBody))
	if err != nil {
		return Step{}, err
	}
	st := Step{Next: cursor, Skipped: map[string]int64{}}
	var msgs []notify.Message
	for rows.Next() {
		var m notify.Message
		var version int
		var oversized bool
		var body *string
		if err := rows.Scan(&m.ID, &m.MeshID, &m.TopicID, &m.SenderID, &m.CreatedAt, &version, &oversized, &body); err != nil {
			rows.Close()
			return Step{}, err
		}
		st.Scanned++
		st.Next = m.ID
		text, reason := readableBody(version, oversized, body)
		if reason != "" {
			st.Skipped[reason]++
			continue
		}
		if m.Tokens = meshfmt.MentionTokens(text); len(m.Tokens) > 0 {
			msgs = append(msgs, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Step{}, err
	}
	st.Done = st.Scanned < int64(limit)
	if dry {
		n, sample, err := notify.Count(ctx, tx, msgs, 20)
		st.Written, st.Sample = n, sample
		return st, err
	}
	n, err := notify.Insert(ctx, tx, msgs)
	if err != nil {
		return Step{}, fmt.Errorf("write notifications: %w", err)
	}
	st.Written = n
	return st, nil
}

// readableBody decodes a version 1 body, or says why it is skipped.
func readableBody(version int, oversized bool, body *string) (string, string) {
	switch {
	case version == 2:
		return "", SkipEncrypted
	case version != 1:
		return "", SkipUnknown
	case oversized:
		return "", SkipOversized
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(*body)
	if err != nil {
		return "", SkipInvalidBase64
	}
	if len(raw) > MaxBody {
		return "", SkipOversized
	}
	if !utf8.Valid(raw) {
		return "", SkipInvalidUTF8
	}
	return string(raw), ""
}
