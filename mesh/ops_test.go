package mesh_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/mesh"
)

// RevokeAPIKey's rules, in the library: literal prefixes of at least 6
// characters, unique within the mesh, never across meshes; a dry run and
// an already revoked key change nothing.
func TestRevokeAPIKey(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m1', 'a', 'a', 'o'), ('m2', 'b', 'b', 'o');
		INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix) VALUES
			('abcdef01', 'm1', 'x', '', ''), ('abcdef02', 'm1', 'y', '', ''), ('a_c%ef03', 'm1', 'z', '', ''), ('zzzzzz01', 'm2', 'w', '', '')`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ref, result, id string
		dry             bool
	}{
		{"abcde", mesh.NotFound, "", false},
		{"abcdef", mesh.NotUnique, "", false},
		{"abcdef0", mesh.NotUnique, "", false},
		{"zzzzzz", mesh.NotFound, "", false},
		{"a_c%ef", mesh.Revoked, "a_c%ef03", true},
		{"abcdef02", mesh.Revoked, "abcdef02", false},
		{"a_c%ef", mesh.Revoked, "a_c%ef03", false},
	} {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := mesh.RevokeAPIKey(ctx, tx, "m1", tt.ref, mesh.Actor{DisplayName: "test"}, tt.dry)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if r.Result != tt.result || r.ID != tt.id {
			t.Errorf("%q: %+v, want %s %s", tt.ref, r, tt.result, tt.id)
		}
	}
	rows, _ := db.Pool.Query(ctx, `SELECT id FROM mesh.api_key WHERE revoked_at IS NOT NULL ORDER BY id`)
	ids, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	if len(ids) != 2 || ids[0] != "a_c%ef03" || ids[1] != "abcdef02" {
		t.Errorf("revoked: %v", ids)
	}
}
