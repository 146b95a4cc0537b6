package pgtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Eight parallel tests each get their own migrated database and cannot see
// each other's rows.
func TestIsolatedParallelDatabases(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := pgtest.NewDB(t)
			user := fmt.Sprintf("user-%d", i)
			if _, err := db.Pool.Exec(ctx, `INSERT INTO public."user" (id) VALUES ($1)`, user); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Pool.Exec(ctx, `INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ($1, $1, $1, $2)`,
				fmt.Sprintf("mesh-%d", i), user); err != nil {
				t.Fatal(err)
			}
			var n int
			var only string
			if err := db.Pool.QueryRow(ctx, `SELECT count(*), min(id) FROM mesh.mesh`).Scan(&n, &only); err != nil {
				t.Fatal(err)
			}
			if n != 1 || only != fmt.Sprintf("mesh-%d", i) {
				t.Fatalf("database %s sees %d meshes (first %q); want only its own", db.Name, n, only)
			}
			var tracked int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM mesh.__cmh_migrations`).Scan(&tracked); err != nil {
				t.Fatal(err)
			}
			if tracked == 0 {
				t.Fatal("template database has no tracked migrations")
			}
		})
	}
}

func TestEmptyDatabaseHasNoMeshSchema(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	var n int
	if err := db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_namespace WHERE nspname = 'mesh'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("empty database already has schema mesh")
	}
}
