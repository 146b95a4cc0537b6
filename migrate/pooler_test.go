package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// schemaSnapshot is everything a run could write, as the catalogs describe
// it: namespaces, relations and columns outside the system schemas, and
// the tracking rows.
func schemaSnapshot(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT 'schema ' || nspname FROM pg_namespace
 WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
UNION ALL
SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'column ' || attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'advisory lock ' || objid FROM pg_locks WHERE locktype = 'advisory'
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for f, sum := range tracking(t, pool) {
		out = append(out, "row "+f+" "+sum)
	}
	return out
}

// Through PgBouncer in transaction mode Up refuses with a *PoolerError
// before it writes anything; through session mode it works. Each case runs
// on a fresh database and on one that already has a tracking table with
// rows (so the pre-lock status path and the table upgrade path are both
// covered), and with another client holding one of the pool's two server
// connections.
func TestPgBouncer(t *testing.T) {
	first := mapFS(map[string]string{
		"0001_schema.sql": `CREATE SCHEMA "mesh"; CREATE TABLE mesh.a (id int);`,
	})
	both := mapFS(map[string]string{
		"0001_schema.sql": `CREATE SCHEMA "mesh"; CREATE TABLE mesh.a (id int);`,
		"0002_b.sql":      `CREATE TABLE mesh.b (id int);`,
	})
	for _, tc := range []struct {
		name    string
		mode    string
		history bool // 0001 already applied directly
		busy    bool // another client holds a transaction through the pooler
		refused bool
	}{
		{"transaction/empty", pgtest.PoolTransaction, false, false, true},
		{"transaction/history", pgtest.PoolTransaction, true, false, true},
		{"transaction/busy", pgtest.PoolTransaction, false, true, true},
		{"session/empty", pgtest.PoolSession, false, false, false},
		{"session/history", pgtest.PoolSession, true, false, false},
		{"session/busy", pgtest.PoolSession, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := pgtest.NewEmptyDB(t)
			if tc.history {
				mustUp(t, testRunner(t, db.URL, first))
			}
			dsn := pgtest.StartPgBouncer(t, db, tc.mode)
			if tc.busy {
				// Holds one of the pool's two server connections.
				c, err := pgx.Connect(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(ctx)
				if _, err := c.Exec(ctx, "BEGIN; SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
					t.Fatal(err)
				}
			}
			before := schemaSnapshot(t, db.Pool)
			var warnings []string
			res, err := testRunner(t, dsn, both, migrate.WithProgress(func(e migrate.Event) {
				if e.Kind == migrate.EventWarning {
					warnings = append(warnings, e.Message)
				}
			})).Up(ctx)
			after := schemaSnapshot(t, db.Pool)
			if !tc.refused {
				if err != nil {
					t.Fatalf("Up through a %s pooler: %v", tc.mode, err)
				}
				want := map[bool][]string{false: {"0001_schema.sql", "0002_b.sql"}, true: {"0002_b.sql"}}[tc.history]
				if diff := cmp.Diff(want, appliedNames(res)); diff != "" {
					t.Errorf("applied (-want +got):\n%s", diff)
				}
				if !pgtest.RelExists(t, db.Pool, "mesh.b") {
					t.Error("mesh.b was not created")
				}
				// A full session pool leaves no room for the second
				// connection of the check: a warning, not a failure.
				if got := len(warnings) == 1 && strings.Contains(warnings[0], "second connection"); got != tc.busy {
					t.Errorf("warnings %q: want one about the second connection: %v", warnings, tc.busy)
				}
				return
			}
			var pe *migrate.PoolerError
			if !errors.As(err, &pe) {
				t.Fatalf("Up through a transaction pooler: err = %v, want *migrate.PoolerError", err)
			}
			if len(res.Applied) != 0 {
				t.Errorf("applied %v through a transaction pooler", appliedNames(res))
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the refused run changed the database (-before +after):\n%s", diff)
			}
		})
	}
}
