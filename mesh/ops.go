package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/audit"
)

// Actor is who makes an audited change: a member of the mesh (the broker's
// admin path) or, with MemberID empty, an operator outside it (meshctl).
type Actor struct {
	MemberID    string // "" for an operator
	DisplayName string // stored beside the row, not hashed
}

func (a Actor) audit(meshID, event string, payload map[string]any) audit.Event {
	b, _ := json.Marshal(payload)
	e := audit.Event{MeshID: meshID, EventType: event, Payload: b}
	if a.MemberID != "" {
		e.Actor = &a.MemberID
	}
	if a.DisplayName != "" {
		e.ActorDisplayName = &a.DisplayName
	}
	return e
}

// Summary is one mesh as `meshctl mesh list` shows it.
type Summary struct {
	ID          string     `json:"id"`
	Slug        string     `json:"slug"`
	Name        string     `json:"name"`
	Owner       string     `json:"owner_user_id"`
	Members     int64      `json:"members"` // not revoked
	Banned      int64      `json:"banned"`
	Topics      int64      `json:"topics"`
	Messages    int64      `json:"messages"`
	AuditRows   int64      `json:"audit_rows"`
	ArchivedAt  *time.Time `json:"archived_at"`
	CreatedAt   time.Time  `json:"created_at"`
	APIKeysLive int64      `json:"api_keys_active"`
}

// List returns every mesh with its counts, by slug then id.
func List(ctx context.Context, q Querier) ([]Summary, error) {
	rows, err := q.Query(ctx, `
SELECT m.id, m.slug, m.name, m.owner_user_id, m.archived_at, m.created_at,
       (SELECT count(*) FROM mesh.member x WHERE x.mesh_id = m.id AND x.revoked_at IS NULL),
       (SELECT count(*) FROM mesh.member x WHERE x.mesh_id = m.id AND x.revoked_at IS NOT NULL),
       (SELECT count(*) FROM mesh.topic t WHERE t.mesh_id = m.id),
       (SELECT count(*) FROM mesh.topic_message tm JOIN mesh.topic t ON t.id = tm.topic_id WHERE t.mesh_id = m.id),
       (SELECT count(*) FROM mesh.audit_log a WHERE a.mesh_id = m.id),
       (SELECT count(*) FROM mesh.api_key k WHERE k.mesh_id = m.id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > (now() AT TIME ZONE 'UTC')))
FROM mesh.mesh m ORDER BY m.slug, m.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Summary, error) {
		var s Summary
		err := r.Scan(&s.ID, &s.Slug, &s.Name, &s.Owner, &s.ArchivedAt, &s.CreatedAt, &s.Members, &s.Banned, &s.Topics, &s.Messages, &s.AuditRows, &s.APIKeysLive)
		return s, err
	})
}

// APIKey is one key as listed (never its secret or hash).
type APIKey struct {
	ID           string     `json:"id"`
	Prefix       string     `json:"prefix"`
	Label        string     `json:"label"`
	Capabilities []string   `json:"capabilities"`
	TopicScopes  []string   `json:"topic_scopes"` // nil: every topic
	Status       string     `json:"status"`       // active, revoked, expired
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// APIKeys lists a mesh's API keys, newest first.
func APIKeys(ctx context.Context, q Querier, meshID string) ([]APIKey, error) {
	rows, err := q.Query(ctx, `
SELECT id, secret_prefix, label, capabilities, topic_scopes,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at IS NOT NULL AND expires_at <= (now() AT TIME ZONE 'UTC') THEN 'expired' ELSE 'active' END,
       created_at, last_used_at, expires_at
FROM mesh.api_key WHERE mesh_id = $1 ORDER BY created_at DESC, id`, meshID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := r.Scan(&k.ID, &k.Prefix, &k.Label, &k.Capabilities, &k.TopicScopes, &k.Status, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt)
		if k.Capabilities == nil {
			k.Capabilities = []string{}
		}
		return k, err
	})
}

// Timestamps in the mesh schema are UTC wall time (timestamp without time
// zone): every "now" here is now() AT TIME ZONE 'UTC', whatever the
// session's TimeZone.

// Results of RevokeAPIKey, as the broker's DELETE /v1/apikeys/{ref} says them.
const (
	Revoked   = "revoked"
	NotFound  = "not_found"
	NotUnique = "not_unique"
)

// MinRevokePrefix is the shortest id prefix a revoke accepts.
const MinRevokePrefix = 6

// Revocation is what RevokeAPIKey found and did.
type Revocation struct {
	Result         string `json:"result"` // Revoked, NotFound, NotUnique
	ID             string `json:"id,omitempty"`
	AlreadyRevoked bool   `json:"already_revoked"`
	Matches        int    `json:"matches"`
}

// RevokeAPIKey revokes, inside tx, the mesh's API key whose id is ref, or
// whose id starts with ref when ref has at least MinRevokePrefix
// characters and no other key of the mesh does. The match is literal ('%'
// and '_' are characters, not wildcards) and never leaves the mesh. With
// dry set nothing is written; otherwise the revoke is audited
// (apikey_revoked {apiKeyId}) in the same transaction. A key already
// revoked is reported, not revoked again.
func RevokeAPIKey(ctx context.Context, tx pgx.Tx, meshID, ref string, by Actor, dry bool) (Revocation, error) {
	rows, err := tx.Query(ctx, `SELECT id, revoked_at IS NOT NULL FROM mesh.api_key
WHERE mesh_id = $1 AND (id = $2 OR (length($2) >= $3 AND starts_with(id, $2)))
ORDER BY id = $2 DESC, id LIMIT 3 FOR UPDATE`, meshID, ref, MinRevokePrefix)
	if err != nil {
		return Revocation{}, err
	}
	type cand struct {
		id      string
		revoked bool
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cand, error) {
		var c cand
		return c, r.Scan(&c.id, &c.revoked)
	})
	if err != nil {
		return Revocation{}, err
	}
	switch {
	case len(cands) == 0:
		return Revocation{Result: NotFound}, nil
	case len(cands) > 1 && cands[0].id != ref:
		return Revocation{Result: NotUnique, Matches: len(cands)}, nil
	}
	r := Revocation{Result: Revoked, ID: cands[0].id, AlreadyRevoked: cands[0].revoked, Matches: 1}
	if dry || r.AlreadyRevoked {
		return r, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE mesh.api_key SET revoked_at = (now() AT TIME ZONE 'UTC') WHERE id = $1`, r.ID); err != nil {
		return Revocation{}, err
	}
	_, err = audit.Append(ctx, tx, by.audit(meshID, "apikey_revoked", map[string]any{"apiKeyId": r.ID}))
	return r, err
}

// Member is one member as the ban verbs show it.
type Member struct {
	ID          string     `json:"id"`
	DisplayName string     `json:"display_name"`
	PublicKey   string     `json:"peer_pubkey"`
	Role        string     `json:"role"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// TargetError says a member target named nobody, or several members.
type TargetError struct {
	Target  string
	Matches int // 0 or more than 1
}

func (e *TargetError) Error() string {
	if e.Matches == 0 {
		return fmt.Sprintf("no member of the mesh has id, display name or public key %q", e.Target)
	}
	return fmt.Sprintf("%q names several members (same display name): give the member id or public key", e.Target)
}

// FindMember returns the one member of the mesh whose id, exact display
// name or full public key is target, locking its row in tx.
func FindMember(ctx context.Context, tx pgx.Tx, meshID, target string) (Member, error) {
	rows, err := tx.Query(ctx, `SELECT id, display_name, peer_pubkey, role::text, revoked_at FROM mesh.member
WHERE mesh_id = $1 AND (id = $2 OR display_name = $2 OR peer_pubkey = $2) ORDER BY id LIMIT 2 FOR UPDATE`, meshID, target)
	if err != nil {
		return Member{}, err
	}
	ms, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
	if err != nil {
		return Member{}, err
	}
	if len(ms) != 1 {
		return Member{}, &TargetError{Target: target, Matches: len(ms)}
	}
	return ms[0], nil
}

// BanChange is what Ban or Unban found and did.
type BanChange struct {
	Member  Member `json:"member"`
	Changed bool   `json:"changed"` // false: already banned (Ban) or not banned (Unban)
}

// Ban sets revoked_at on the member target names (see FindMember) and
// audits member_banned {target, targetPubkey}, as the broker's admin ban
// does; an already banned member is left as is. With dry set nothing is
// written. The broker refuses a revoked member's hello and API keys.
func Ban(ctx context.Context, tx pgx.Tx, meshID, target string, by Actor, dry bool) (BanChange, error) {
	m, err := FindMember(ctx, tx, meshID, target)
	if err != nil {
		return BanChange{}, err
	}
	c := BanChange{Member: m, Changed: m.RevokedAt == nil}
	if dry || !c.Changed {
		return c, nil
	}
	if err := tx.QueryRow(ctx, `UPDATE mesh.member SET revoked_at = (now() AT TIME ZONE 'UTC') WHERE id = $1 RETURNING revoked_at`, m.ID).Scan(&c.Member.RevokedAt); err != nil {
		return BanChange{}, err
	}
	_, err = audit.Append(ctx, tx, by.audit(meshID, "member_banned", map[string]any{"target": m.DisplayName, "targetPubkey": m.PublicKey}))
	return c, err
}

// Unban clears revoked_at and audits member_unbanned {target}.
func Unban(ctx context.Context, tx pgx.Tx, meshID, target string, by Actor, dry bool) (BanChange, error) {
	m, err := FindMember(ctx, tx, meshID, target)
	if err != nil {
		return BanChange{}, err
	}
	c := BanChange{Member: m, Changed: m.RevokedAt != nil}
	if dry || !c.Changed {
		return c, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE mesh.member SET revoked_at = NULL WHERE id = $1`, m.ID); err != nil {
		return BanChange{}, err
	}
	c.Member.RevokedAt = nil
	_, err = audit.Append(ctx, tx, by.audit(meshID, "member_unbanned", map[string]any{"target": m.DisplayName}))
	return c, err
}

// Bans lists the mesh's banned (revoked) members, most recent first.
func Bans(ctx context.Context, q Querier, meshID string) ([]Member, error) {
	rows, err := q.Query(ctx, `SELECT id, display_name, peer_pubkey, role::text, revoked_at FROM mesh.member
WHERE mesh_id = $1 AND revoked_at IS NOT NULL ORDER BY revoked_at DESC, id`, meshID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
}

// OrphanAge is how old an undelivered message_queue row is before the
// sweep deletes it (SPEC §6).
const OrphanAge = 7 * 24 * time.Hour

// Execer runs a statement: a *pgx.Conn, pgx.Tx or pool.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Querier
}

// CountOrphans returns how many undelivered message_queue rows are older
// than olderThan (what SweepOrphans would delete now).
func CountOrphans(ctx context.Context, q Querier, olderThan time.Duration) (int64, error) {
	rows, err := q.Query(ctx, `SELECT count(*) FROM mesh.message_queue
WHERE delivered_at IS NULL AND created_at < (now() AT TIME ZONE 'UTC') - make_interval(secs => $1)`, olderThan.Seconds())
	if err != nil {
		return 0, err
	}
	return pgx.CollectOneRow(rows, pgx.RowTo[int64])
}

// SweepOrphans deletes undelivered message_queue rows older than
// olderThan, batch rows per statement (each its own short transaction, so
// no lock is held long), calling progress after each batch. It stops
// between batches when ctx is cancelled.
func SweepOrphans(ctx context.Context, q Execer, olderThan time.Duration, batch int, progress func(deleted int64)) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		tag, err := q.Exec(ctx, `DELETE FROM mesh.message_queue WHERE id IN (
	SELECT id FROM mesh.message_queue
	WHERE delivered_at IS NULL AND created_at < (now() AT TIME ZONE 'UTC') - make_interval(secs => $1)
	ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan.Seconds(), batch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if progress != nil {
			progress(total)
		}
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
	return total, ctx.Err()
}
