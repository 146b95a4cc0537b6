package backfill

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// OwnerMember gives every live mesh whose owner has no non-revoked member
// row one (SPEC §5): a fresh ed25519 key pair whose secret half is
// discarded at once (never printed, logged or stored), role admin, user_id
// and dashboard_user_id the owner's, display name "<mesh name>-owner",
// subscribed to the mesh's #general as lead. One mesh per transaction.
//
// Two runs at once never create two owner rows for one mesh: every batch
// holds the job's state row (SELECT ... FOR UPDATE) while it looks for the
// next mesh without an owner and inserts, so the second run's search
// starts after the first run's commit and no longer finds that mesh. An
// owner join in flight in the broker is waited for (the mesh's row is
// locked FOR UPDATE, which its member insert's foreign-key lock blocks)
// and then seen: that mesh is skipped as owner_joined.
type OwnerMember struct{}

func (OwnerMember) Name() string { return "owner-member" }
func (OwnerMember) Description() string {
	return "add an owner member (fresh key, secret discarded) to live meshes that lack one"
}
func (OwnerMember) MaxBatch() int { return 1 }

const ownerlessWhere = `m.archived_at IS NULL AND NOT EXISTS (
	SELECT 1 FROM mesh.member mb WHERE mb.mesh_id = m.id AND mb.user_id = m.owner_user_id AND mb.revoked_at IS NULL)`

func (OwnerMember) Estimate(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, `SELECT count(*) FROM mesh.mesh m WHERE `+ownerlessWhere).Scan(&n)
	return n, err
}

func (OwnerMember) Step(ctx context.Context, tx pgx.Tx, cursor string, limit int, dry bool) (Step, error) {
	var id, name, owner string
	err := tx.QueryRow(ctx, `SELECT m.id, m.name, m.owner_user_id FROM mesh.mesh m
		WHERE m.id > $1 AND `+ownerlessWhere+` ORDER BY m.id LIMIT 1`, cursor).Scan(&id, &name, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return Step{Next: cursor, Done: true}, nil
	}
	if err != nil {
		return Step{}, err
	}
	st := Step{Next: id, Scanned: 1}
	if !dry {
		// An owner join in flight holds FOR KEY SHARE on the mesh's row
		// (mesh.member.mesh_id references it) until it commits: FOR
		// UPDATE waits for it, and the re-check below, a new snapshot,
		// sees its member. (A join that starts later waits for this
		// commit; whether it adds a second owner row is the broker's rule.)
		var still bool
		if err := tx.QueryRow(ctx, `SELECT true FROM mesh.mesh m WHERE m.id = $1 FOR UPDATE`, id).Scan(&still); err != nil {
			return Step{}, fmt.Errorf("lock mesh %s: %w", id, err)
		}
		if err := tx.QueryRow(ctx, `SELECT `+ownerlessWhere+` FROM mesh.mesh m WHERE m.id = $1`, id).Scan(&still); err != nil {
			return Step{}, fmt.Errorf("re-check the owner of mesh %s: %w", id, err)
		}
		if !still {
			st.Skipped = map[string]int64{"owner_joined": 1}
			return st, nil
		}
	}
	if dry {
		st.Written = 1
		st.Sample = []string{fmt.Sprintf("mesh %s: add member %q (admin, user %s) and subscribe it to #general as lead", id, name+"-owner", owner)}
		return st, nil
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader) // the secret is dropped here
	if err != nil {
		return Step{}, err
	}
	var member string
	err = tx.QueryRow(ctx, `
		INSERT INTO mesh.member (id, mesh_id, user_id, dashboard_user_id, peer_pubkey, display_name, role)
		VALUES (replace(gen_random_uuid()::text, '-', ''), $1, $2, $2, $3, $4, 'admin')
		RETURNING id`, id, owner, hex.EncodeToString(pub), name+"-owner").Scan(&member)
	if err != nil {
		return Step{}, fmt.Errorf("add the owner member of mesh %s: %w", id, err)
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO mesh.topic_member (topic_id, member_id, role)
		SELECT t.id, $2, 'lead' FROM mesh.topic t WHERE t.mesh_id = $1 AND t.name = 'general'
		ON CONFLICT (topic_id, member_id) DO NOTHING`, id, member)
	if err != nil {
		return Step{}, fmt.Errorf("subscribe the owner of mesh %s to #general: %w", id, err)
	}
	st.Written = 1 + tag.RowsAffected()
	return st, nil
}
