package backfill

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/notify"
)

// Notifications turns the mentions in existing topic messages into
// mesh.notification rows with the broker's own write path: the tokens of
// meshfmt.MentionTokens, the fan-out of notify.Insert. Only body_version 1 bodies (base64 of UTF-8 text) are readable;
// version 2 is ciphertext to the server. A body that is not valid base64,
// not UTF-8, or larger than Options.MaxBody is skipped and counted, never
// fatal.
// The unit of work is a message, in id order.
//
// Only messages from before the broker wrote notifications are covered:
// once it did, it decided each message's notifications itself, from an
// explicit mentions[] list when the sender gave one (even an empty one,
// which is not stored), so re-reading the body would add notifications the
// broker chose not to send. A message created at or after the cutoff is
// skipped as SkipAfterCutoff. The cutoff is Options.Until, or by default
// when the migration that creates mesh.notification was applied (its row in
// the tracking table, a file named NNNN_notifications.sql); a run that can
// determine neither fails with a *CutoffError before writing anything.
type Notifications struct {
	until   time.Time // set by Run (prepare); zero: not prepared
	maxBody int       // Options.MaxBody
}

// DefaultMaxBody is Options.MaxBody's default: the default of the broker's
// MAX_MESSAGE_BYTES (broker.DefaultMaxMessageBytes).
const DefaultMaxBody = 65536

func (Notifications) Name() string { return "notifications" }
func (Notifications) Description() string {
	return "create mention notifications for existing topic messages (body version 1)"
}
func (Notifications) MaxBatch() int { return 20000 }

func (Notifications) Estimate(ctx context.Context, conn *pgx.Conn) (int64, error) {
	return estimateRows(ctx, conn, "mesh.topic_message")
}

// prepare settles the cutoff: opt.Until, or the notifications migration's
// applied_at.
func (n Notifications) prepare(ctx context.Context, conn *pgx.Conn, opt *Options) (Job, error) {
	n.maxBody = opt.MaxBody
	if !opt.Until.IsZero() {
		n.until = opt.Until
		return n, nil
	}
	table := opt.TrackingTable
	if table == "" {
		table = migrate.DefaultTable
	}
	applied, err := migrate.AppliedAt(ctx, conn, table)
	if err != nil {
		return nil, &CutoffError{Table: table, Reason: "its tracking table could not be read", Err: err}
	}
	if applied == nil {
		return nil, &CutoffError{Table: table, Reason: "there is no migration tracking table " + table}
	}
	for name, at := range applied {
		if notificationsMigration.MatchString(name) && (n.until.IsZero() || at.Before(n.until)) {
			n.until = at
		}
	}
	if n.until.IsZero() {
		return nil, &CutoffError{Table: table, Reason: "no row of " + table + " is a NNNN_notifications.sql migration"}
	}
	return n, nil
}

// notificationsMigration names the migration that creates
// mesh.notification: 0004_notifications.sql here, 0025_notifications.sql
// upstream. Several matches: the earliest applied counts.
var notificationsMigration = regexp.MustCompile(`^[0-9]+_notifications\.sql$`)

// CutoffError says the notifications backfill cannot tell which messages
// the broker already wrote notifications for, and was given no cutoff
// (Options.Until): it writes nothing rather than guess.
type CutoffError struct {
	Table  string // the tracking table read
	Reason string
	Err    error
}

func (e *CutoffError) Error() string {
	msg := "backfill notifications: cannot tell when the broker began writing notifications: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; give the cutoff explicitly"
}
func (e *CutoffError) Unwrap() error { return e.Err }

// Skip reasons.
const (
	SkipEncrypted     = "body_version_2"
	SkipUnknown       = "unknown_body_version"
	SkipInvalidBase64 = "invalid_base64"
	SkipInvalidUTF8   = "invalid_utf8"
	SkipOversized     = "oversized"
	SkipAfterCutoff   = "after_cutoff" // the broker wrote its notifications
)

func (n Notifications) Step(ctx context.Context, tx pgx.Tx, cursor string, limit int, dry bool) (Step, error) {
	if n.until.IsZero() {
		return Step{}, &CutoffError{Reason: "the job was not prepared by Run"}
	}
	// The body is fetched only where it can be read, and only up to a
	// size a valid message can have (base64 of maxBody bytes). Messages at
	// or after the cutoff are read (and counted) without their body, so
	// that a batch stays bounded however many of them there are.
	// created_at is a timestamp without time zone holding UTC wall time
	// (the broker's sessions run with TimeZone UTC).
	rows, err := tx.Query(ctx, `
		SELECT tm.id, t.mesh_id, tm.topic_id, tm.sender_member_id, tm.created_at, tm.body_version,
		       octet_length(tm.ciphertext) > $3, tm.created_at >= ($4::timestamptz AT TIME ZONE 'UTC'),
		       CASE WHEN tm.body_version = 1 AND octet_length(tm.ciphertext) <= $3
		             AND tm.created_at < ($4::timestamptz AT TIME ZONE 'UTC') THEN tm.ciphertext END
		FROM mesh.topic_message tm JOIN mesh.topic t ON t.id = tm.topic_id
		WHERE tm.id > $1 ORDER BY tm.id LIMIT $2`, cursor, limit, base64.StdEncoding.EncodedLen(n.maxBody), n.until)
	if err != nil {
		return Step{}, err
	}
	st := Step{Next: cursor, Skipped: map[string]int64{}}
	var msgs []notify.Message
	for rows.Next() {
		var m notify.Message
		var version int
		var oversized, late bool
		var body *string
		if err := rows.Scan(&m.ID, &m.MeshID, &m.TopicID, &m.SenderID, &m.CreatedAt, &version, &oversized, &late, &body); err != nil {
			rows.Close()
			return Step{}, err
		}
		st.Scanned++
		st.Next = m.ID
		if late {
			st.Skipped[SkipAfterCutoff]++
			continue
		}
		text, reason := readableBody(version, oversized, body, n.maxBody)
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
		count, sample, err := notify.Count(ctx, tx, msgs, 20)
		st.Written, st.Sample = count, sample
		return st, err
	}
	written, err := notify.Insert(ctx, tx, msgs)
	if err != nil {
		return Step{}, fmt.Errorf("write notifications: %w", err)
	}
	st.Written = written
	return st, nil
}

// readableBody decodes a version 1 body, or says why it is skipped.
func readableBody(version int, oversized bool, body *string, maxBody int) (string, string) {
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
	if len(raw) > maxBody {
		return "", SkipOversized
	}
	if !utf8.Valid(raw) {
		return "", SkipInvalidUTF8
	}
	return string(raw), ""
}
