package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/meshfmt"
)

// Event is one audit event to append.
type Event struct {
	MeshID           string
	EventType        string  // peer_joined, peer_left, message_sent, ...
	Actor            *string // actor_member_id; nil for none
	ActorDisplayName *string // stored, not hashed
	Payload          []byte  // a JSON document; nil means {}
	// CreatedAt is the event time; zero means now. It is truncated to
	// milliseconds, the precision the v1 hash covers.
	CreatedAt time.Time
}

// Entry is an appended row.
type Entry struct {
	ID        int64
	MeshID    string
	PrevHash  string
	Hash      string
	CreatedAt time.Time
	Payload   []byte // canonical JSON, as hashed
}

// ErrInvalidEvent reports an event that cannot be appended.
var ErrInvalidEvent = errors.New("invalid audit event")

// Append writes e as the next row of its mesh's chain inside tx. It takes
// the mesh's transaction-level advisory lock (the key upstream writers
// use), so concurrent writers on any connection queue up instead of
// forking the chain; the lock is held until tx ends, so the caller must
// commit promptly. The payload is canonicalised first, so the hash covers
// exactly what jsonb gives back. On any error the caller must roll tx back:
// a payload that jsonb alters is detected only after the INSERT.
func Append(ctx context.Context, tx pgx.Tx, e Event) (Entry, error) {
	return appendEvent(ctx, tx, e, true)
}

func appendEvent(ctx context.Context, tx pgx.Tx, e Event, lock bool) (Entry, error) {
	if e.MeshID == "" || e.EventType == "" {
		return Entry{}, fmt.Errorf("%w: mesh id and event type are required", ErrInvalidEvent)
	}
	payload := e.Payload
	if payload == nil {
		payload = []byte("{}")
	}
	canon, err := Canonical(payload)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: payload: %v", ErrInvalidEvent, err)
	}
	created := e.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	created = created.UTC().Truncate(time.Millisecond)
	if _, ok := unixMilli(created); !ok {
		return Entry{}, fmt.Errorf("%w: %v", ErrInvalidEvent, ErrTimeRange)
	}
	if lock {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, meshfmt.AuditLockKey(e.MeshID)); err != nil {
			return Entry{}, fmt.Errorf("audit append: taking the mesh lock: %w", err)
		}
	}
	prev := Genesis
	err = tx.QueryRow(ctx, `SELECT hash FROM mesh.audit_log WHERE mesh_id = $1 ORDER BY id DESC LIMIT 1`, e.MeshID).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("audit append: reading the chain tail: %w", err)
	}
	hash, err := HashV1(prev, e.MeshID, e.EventType, e.Actor, canon, created)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	// created_at goes in as text: a timestamp without time zone holds UTC
	// wall time, whatever the session's TimeZone.
	var id int64
	var back string
	err = tx.QueryRow(ctx, `INSERT INTO mesh.audit_log
	(mesh_id, event_type, actor_member_id, actor_display_name, payload, prev_hash, hash, created_at)
VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8::text::timestamp)
RETURNING id, payload::text`,
		e.MeshID, e.EventType, e.Actor, e.ActorDisplayName, string(canon), prev, hash,
		created.Format("2006-01-02 15:04:05.000")).Scan(&id, &back)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22P05" || pe.Code == "22P02") {
		return Entry{}, fmt.Errorf("%w: payload: jsonb refuses it: %s", ErrInvalidEvent, pe.Message)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("audit append: %w", err)
	}
	// jsonb may refuse or alter what JSON allows (\u0000, lone surrogates);
	// never leave a row whose hash would not verify.
	again, err := Canonical([]byte(back))
	if err != nil || string(again) != string(canon) {
		return Entry{}, fmt.Errorf("%w: payload does not survive jsonb unchanged", ErrInvalidEvent)
	}
	return Entry{ID: id, MeshID: e.MeshID, PrevHash: prev, Hash: hash, CreatedAt: created, Payload: canon}, nil
}
