package mesh_test

import (
	"context"
	"errors"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/mesh"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestResolve(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES
			('m1', 'a', 'team', 'o'), ('m2', 'b', 'team', 'o'), ('m3', 'c', 'solo', 'o'), ('solo', 'd', 'x', 'o')`); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"m1": "m1", "m3": "m3", "solo": "solo", "x": "solo"} {
		if got, err := mesh.Resolve(ctx, db.Pool, ref); err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	var amb *mesh.AmbiguousError
	if _, err := mesh.Resolve(ctx, db.Pool, "team"); !errors.As(err, &amb) || len(amb.IDs) != 2 {
		t.Errorf("ambiguous slug: %v", err)
	}
	var nf *mesh.NotFoundError
	if _, err := mesh.Resolve(ctx, db.Pool, "nope"); !errors.As(err, &nf) {
		t.Errorf("missing: %v", err)
	}
}
