package audit

import (
	"bytes"
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

// ErrIsolation reports an Append in a transaction that is not READ
// COMMITTED. Under REPEATABLE READ or SERIALIZABLE the transaction's
// snapshot predates the mesh lock, so the chain tail it reads can miss the
// row the previous lock holder committed, and the new row would fork the
// chain. Begin the transaction with pgx.TxOptions{IsoLevel:
// pgx.ReadCommitted}: the database's default_transaction_isolation may
// say otherwise.
var ErrIsolation = errors.New("audit append needs a READ COMMITTED transaction")

// ErrUnstorable reports a payload that is valid JSON but that PostgreSQL
// cannot store faithfully as jsonb: a \u0000 or a lone surrogate (text
// cannot hold them), a number beyond numeric's range, nesting beyond its
// stack, or anything jsonb would give back with another canonical form.
// Errors carrying it also match ErrInvalidEvent.
var ErrUnstorable = errors.New("payload cannot be stored faithfully as jsonb")

// Append writes e as the next row of its mesh's chain inside tx. It takes
// the mesh's transaction-level advisory lock (the key upstream writers
// use), so concurrent writers on any connection queue up instead of
// forking the chain; the lock is held until tx ends, so the caller must
// commit promptly. tx must be READ COMMITTED (ErrIsolation otherwise).
//
// Append stores exactly what it hashes: it has PostgreSQL convert the
// payload to jsonb and back inside tx, hashes the canonical form of what
// comes back, stores that jsonb, and checks the stored row once more. A
// payload jsonb cannot hold faithfully is refused with ErrUnstorable and
// nothing is written; \u0000 and lone surrogates are refused before any
// statement runs, so tx stays usable. On any other error the caller must
// roll tx back.
func Append(ctx context.Context, tx pgx.Tx, e Event) (Entry, error) {
	return appendEvent(ctx, tx, e, true)
}

func unstorable(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrInvalidEvent, ErrUnstorable}, args...)...)
}

func appendEvent(ctx context.Context, tx pgx.Tx, e Event, lock bool) (Entry, error) {
	if e.MeshID == "" || e.EventType == "" {
		return Entry{}, fmt.Errorf("%w: mesh id and event type are required", ErrInvalidEvent)
	}
	payload := e.Payload
	if payload == nil {
		payload = []byte("{}")
	}
	var c Canonicalizer
	canon, err := c.Append(nil, payload)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: payload: %v", ErrInvalidEvent, err)
	}
	if c.notText >= 0 {
		return Entry{}, unstorable("a \\u0000 or lone surrogate escape before byte %d (PostgreSQL text cannot hold it)", c.notText)
	}
	created := e.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	created = created.UTC().Truncate(time.Millisecond)
	if _, ok := unixMilli(created); !ok {
		return Entry{}, fmt.Errorf("%w: %v", ErrInvalidEvent, ErrTimeRange)
	}
	var iso string
	if err := tx.QueryRow(ctx, `SELECT current_setting('transaction_isolation')`).Scan(&iso); err != nil {
		return Entry{}, fmt.Errorf("audit append: %w", err)
	}
	if iso != "read committed" {
		return Entry{}, fmt.Errorf("%w (this one is %s)", ErrIsolation, iso)
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
	// The payload as jsonb will give it back to every verifier.
	var stored string
	if err := tx.QueryRow(ctx, `SELECT $1::text::jsonb::text`, string(payload)).Scan(&stored); err != nil {
		return Entry{}, jsonbError(err)
	}
	hashed, err := c.Append(nil, []byte(stored))
	if err != nil || !bytes.Equal(hashed, canon) {
		return Entry{}, unstorable("jsonb gives it back as another document")
	}
	hash, err := HashV1(prev, e.MeshID, e.EventType, e.Actor, hashed, created)
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
		e.MeshID, e.EventType, e.Actor, e.ActorDisplayName, stored, prev, hash,
		created.Format("2006-01-02 15:04:05.000")).Scan(&id, &back)
	if err != nil {
		return Entry{}, fmt.Errorf("audit append: %w", err)
	}
	// Never leave a row whose hash would not verify.
	again, err := c.Append(nil, []byte(back))
	if err != nil || !bytes.Equal(again, hashed) {
		return Entry{}, unstorable("the stored row does not give back the hashed payload")
	}
	return Entry{ID: id, MeshID: e.MeshID, PrevHash: prev, Hash: hash, CreatedAt: created, Payload: hashed}, nil
}

// jsonbError classifies an error from converting a payload to jsonb.
func jsonbError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "22P05", "22P02", "22003", "54001", "54000":
			// untranslatable character, invalid text, numeric out of
			// range, stack depth, program limit
			return unstorable("jsonb refuses it: %s", pe.Message)
		}
	}
	return fmt.Errorf("audit append: converting the payload to jsonb: %w", err)
}
