package broker

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Mention rule (SPEC §5, the broker's write path).
const (
	maxMentionTokens     = 16
	maxMentionRecipients = 32
	maxMentionLen        = 64
)

// mentionTokens returns the mention tokens of a message: the explicit list
// when one was given (explicit != nil; one leading '@' dropped, as upstream
// does), else, for a body_version 1 body,
// the matches of
//
//	(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])
//
// over the decoded body (JavaScript global-match semantics: a match
// consumes the character before its '@', so "@a@b" yields only "a").
// Tokens are lowercased; at most 16 distinct, in order of appearance.
// Pass bodyV1 = "" for a body_version 2 message (ciphertext to the server).
//
// TODO(merge): replace with the shared meshfmt mention function, the one
// the notifications backfill uses, so there is one truth for the rule.
func mentionTokens(bodyV1 string, explicit []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(tok string) bool {
		tok = strings.ToLower(tok)
		if !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
		}
		return len(out) < maxMentionTokens
	}
	if explicit != nil {
		for _, t := range explicit {
			if !add(strings.TrimPrefix(t, "@")) {
				break
			}
		}
		return out
	}
	s := bodyV1
	consumed := 0 // end of the previous match: its characters cannot start another
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		if i > 0 && (i-1 < consumed || isMentionChar(s[i-1])) {
			continue
		}
		j := i + 1
		for j < len(s) && isMentionChar(s[j]) {
			j++
		}
		// The run of token characters after '@' is maximal, so the
		// lookahead holds exactly when the whole run fits in 64.
		if n := j - i - 1; n < 1 || n > maxMentionLen {
			continue
		}
		if !add(s[i+1 : j]) {
			break
		}
		consumed = j
		i = j - 1
	}
	return out
}

func isMentionChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// insertMentions fans a message's mentions out to notification rows, in
// one statement inside the message's transaction: non-revoked members of
// the mesh whose lower(display_name) is a token, not the sender, at most
// 32. It returns the number of rows inserted.
func insertMentions(ctx context.Context, tx pgx.Tx, meshID, topicID, messageID, senderID string, tokens []string) (int64, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `INSERT INTO mesh.notification
	(id, mesh_id, topic_id, message_id, recipient_member_id, sender_member_id, kind, created_at)
SELECT replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, r.id, $4, 'mention',
	(SELECT created_at FROM mesh.topic_message WHERE id = $3)
FROM (SELECT id FROM mesh.member
	WHERE mesh_id = $1 AND revoked_at IS NULL AND id <> $4 AND lower(display_name) = ANY($5::text[])
	ORDER BY joined_at, id LIMIT $6) r
ON CONFLICT (message_id, recipient_member_id) DO NOTHING`,
		meshID, topicID, messageID, senderID, tokens, maxMentionRecipients)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
