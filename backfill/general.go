package backfill

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// General gives every live mesh a #general topic and subscribes its
// non-revoked members (SPEC §5): role lead for the mesh owner's user,
// member for everyone else. Archived meshes get no #general (counted as
// skipped "archived"), but the members of an archived mesh that has one
// are subscribed like any other's. The unit of work is a mesh, in id order.
type General struct{}

func (General) Name() string { return "general" }
func (General) Description() string {
	return "create #general in every live mesh and subscribe its members (owner as lead)"
}
func (General) MaxBatch() int { return 2000 }

func (General) Estimate(ctx context.Context, conn *pgx.Conn) (int64, error) {
	return estimateRows(ctx, conn, "mesh.mesh")
}

func (General) Step(ctx context.Context, tx pgx.Tx, cursor string, limit int, dry bool) (Step, error) {
	p, err := meshPage(ctx, tx, cursor, limit)
	if err != nil {
		return Step{}, err
	}
	st := Step{Scanned: int64(p.n), Done: p.n < limit, Next: cursor, Skipped: map[string]int64{}}
	if p.archived > 0 {
		st.Skipped["archived"] = int64(p.archived)
	}
	if p.n > 0 {
		st.Next = p.last
	}
	if len(p.all) == 0 {
		return st, nil
	}
	if dry {
		return generalDry(ctx, tx, p.live, p.all, st)
	}
	// A join in flight (the broker inserts the member, then subscribes it
	// to #general if #general exists, in one transaction) must not slip
	// between this batch's topic and its subscriptions. mesh.member.mesh_id
	// references mesh.mesh, so every uncommitted member insert holds FOR
	// KEY SHARE on its mesh's row until it commits; FOR UPDATE conflicts
	// with it. Locking the meshes about to get a #general therefore waits
	// for the joins in flight, whose members the statements below (read
	// committed: a new snapshot each) then see; and a join that starts
	// later waits for this batch's commit, after which it sees #general.
	// Meshes that already have #general need no lock: a join sees it.
	if _, err := tx.Exec(ctx, `
		SELECT m.id FROM mesh.mesh m
		WHERE m.id = ANY($1::text[])
		  AND NOT EXISTS (SELECT 1 FROM mesh.topic t WHERE t.mesh_id = m.id AND t.name = 'general')
		ORDER BY m.id
		FOR UPDATE OF m`, p.live); err != nil {
		return Step{}, fmt.Errorf("lock the meshes about to get #general: %w", err)
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO mesh.topic (id, mesh_id, name, visibility)
		SELECT replace(gen_random_uuid()::text, '-', ''), m.id, 'general', 'public'
		FROM unnest($1::text[]) AS m(id)
		WHERE NOT EXISTS (SELECT 1 FROM mesh.topic t WHERE t.mesh_id = m.id AND t.name = 'general')
		ON CONFLICT (mesh_id, name) DO NOTHING`, p.live)
	if err != nil {
		return Step{}, fmt.Errorf("create #general: %w", err)
	}
	st.Written += tag.RowsAffected()
	// Every mesh of the page that has #general, archived or not (SPEC §5:
	// only the topic's creation is limited to live meshes).
	tag, err = tx.Exec(ctx, `
		INSERT INTO mesh.topic_member (topic_id, member_id, role)
		SELECT t.id, mb.id, CASE WHEN mb.user_id = m.owner_user_id THEN 'lead' ELSE 'member' END::mesh.topic_member_role
		FROM mesh.mesh m
		JOIN mesh.topic t ON t.mesh_id = m.id AND t.name = 'general'
		JOIN mesh.member mb ON mb.mesh_id = m.id AND mb.revoked_at IS NULL
		WHERE m.id = ANY($1::text[])
		ON CONFLICT (topic_id, member_id) DO NOTHING`, p.all)
	if err != nil {
		return Step{}, fmt.Errorf("subscribe members to #general: %w", err)
	}
	st.Written += tag.RowsAffected()
	return st, nil
}

// generalDry counts what Step would write, reading only.
func generalDry(ctx context.Context, tx pgx.Tx, live, all []string, st Step) (Step, error) {
	rows, err := tx.Query(ctx, `
		SELECT 'mesh ' || m.id || ': create #general'
		FROM unnest($1::text[]) AS m(id)
		WHERE NOT EXISTS (SELECT 1 FROM mesh.topic t WHERE t.mesh_id = m.id AND t.name = 'general')
		UNION ALL
		SELECT 'mesh ' || m.id || ': subscribe member ' || mb.id || ' to #general as ' ||
		       CASE WHEN mb.user_id = m.owner_user_id THEN 'lead' ELSE 'member' END
		FROM mesh.mesh m
		JOIN mesh.member mb ON mb.mesh_id = m.id AND mb.revoked_at IS NULL
		WHERE m.id = ANY($2::text[])
		  AND (m.id = ANY($1::text[]) OR EXISTS (SELECT 1 FROM mesh.topic t WHERE t.mesh_id = m.id AND t.name = 'general'))
		  AND NOT EXISTS (SELECT 1 FROM mesh.topic t JOIN mesh.topic_member tm ON tm.topic_id = t.id
		                  WHERE t.mesh_id = m.id AND t.name = 'general' AND tm.member_id = mb.id)`, live, all)
	if err != nil {
		return Step{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return Step{}, err
		}
		st.Written++
		if len(st.Sample) < 20 {
			st.Sample = append(st.Sample, s)
		}
	}
	return st, rows.Err()
}

// page is one keyset page of meshes.
type page struct {
	all      []string // ids of every mesh read
	live     []string // ids of those that are not archived
	archived int      // how many were archived
	n        int      // rows read
	last     string   // the last id in the server's order: the next cursor
}

// meshPage reads the next limit meshes after cursor, in the server's
// order of the primary key (its collation decides, so the cursor is
// always the id the server returned last, never one compared in Go).
func meshPage(ctx context.Context, tx pgx.Tx, cursor string, limit int) (page, error) {
	rows, err := tx.Query(ctx, `SELECT id, archived_at IS NOT NULL FROM mesh.mesh WHERE id > $1 ORDER BY id LIMIT $2`, cursor, limit)
	if err != nil {
		return page{}, err
	}
	defer rows.Close()
	var p page
	for rows.Next() {
		var id string
		var arch bool
		if err := rows.Scan(&id, &arch); err != nil {
			return page{}, err
		}
		p.n++
		p.last = id
		p.all = append(p.all, id)
		if arch {
			p.archived++
		} else {
			p.live = append(p.live, id)
		}
	}
	return p, rows.Err()
}

// estimateRows is the planner's row count for table (cheap), or an exact
// count for small tables whose statistics are missing.
func estimateRows(ctx context.Context, conn *pgx.Conn, table string) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, `SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::regclass`, table).Scan(&n)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		err = conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	}
	return n, err
}
