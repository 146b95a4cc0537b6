package migrate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

const driftBase = "CREATE TABLE t (a int, b int, j jsonb);\n" +
	"CREATE VIEW v AS SELECT a <= b AS le, '1'::int AS c, j->>'k' AS f, 2 ^ -1 AS p, a+-b AS d FROM t;\n"

// driftEdits are edits of driftBase. semantic: PostgreSQL reads the edit
// differently (the classification must say so); the rest must be called
// cosmetic, and the oracle below checks the server agrees.
var driftEdits = []struct {
	name, body string
	semantic   bool
}{
	{"<= respaced", strings.Replace(driftBase, "a <= b", "a < = b", 1), true},
	{":: respaced", strings.Replace(driftBase, "'1'::int", "'1': :int", 1), true},
	{"->> respaced", strings.Replace(driftBase, "j->>'k'", "j-> >'k'", 1), true},
	{"^ - joined", strings.Replace(driftBase, "2 ^ -1", "2^-1", 1), true},
	{"quoted identifier case", strings.Replace(driftBase, "AS le", `AS "LE"`, 1), true},
	{"keyword and identifier case", "create table T (A INT, B int, J JSONB);\n" +
		"Create View V As Select A <= B as LE, '1'::INT as c, J->>'k' as F, 2 ^ -1 as p, A+-B as D from T;\n", false},
	{"whitespace, comments and line endings", strings.ReplaceAll("-- the view\r\nCREATE TABLE t (\r\n  a int,\r\n  b int,\r\n  j jsonb\r\n);\r\n"+
		"CREATE VIEW v AS\r\n  SELECT a<=b AS le, /* cast */ '1' :: int AS c, j ->> 'k' AS f, 2 ^ - 1 AS p, a + - b AS d\r\n  FROM t;", "\r\n", "\r\n"), false},
	{"operators unspaced", strings.Replace(driftBase, "a <= b", "a<=b", 1), false},
}

// TestDriftClassificationAgreesWithPostgreSQL applies the base file, edits
// it, and checks status and --strict: an operator re-spaced into other
// tokens is a semantic change (the edited file fails on a fresh database);
// a change PostgreSQL does not see is cosmetic. The oracle is the server:
// every edit called cosmetic must apply on a fresh database and define the
// same view and table as the base; every edit called semantic here fails
// or defines something else.
func TestDriftClassificationAgreesWithPostgreSQL(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	fresh := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	baseDef, err := definition(ctx, fresh, driftBase)
	if err != nil {
		t.Fatalf("base file on a fresh database: %v", err)
	}
	mustUp(t, testRunner(t, db.URL, mapFS(map[string]string{"0001_v.sql": driftBase})))
	for _, e := range driftEdits {
		t.Run(e.name, func(t *testing.T) {
			r := testRunner(t, db.URL, mapFS(map[string]string{"0001_v.sql": e.body}))
			st, err := r.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := migrate.ChangeCosmetic
			if e.semantic {
				want = migrate.ChangeSemantic
			}
			if f := st.Files[0]; f.State != migrate.StateChanged || f.Change != want {
				t.Fatalf("status %s (%s), want changed (%s)", f.State, f.Change, want)
			}
			_, err = r.Up(ctx, migrate.Strict())
			var de *migrate.DriftError
			if e.semantic != errors.As(err, &de) {
				t.Errorf("up --strict: %v; want a DriftError = %v", err, e.semantic)
			}
			def, err := definition(ctx, fresh, e.body)
			switch {
			case !e.semantic && (err != nil || def != baseDef):
				t.Errorf("called cosmetic, but PostgreSQL disagrees: %v\nbase: %s\nedit: %s", err, baseDef, def)
			case e.semantic && err == nil && def == baseDef:
				t.Errorf("called semantic, but PostgreSQL defines the same objects: %s", def)
			}
		})
	}
}

// TestDriftNoTransactionMarker: adding or removing the marker changes how
// the file runs (statement by statement, outside a transaction), so it is
// semantic although it is a comment.
func TestDriftNoTransactionMarker(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	mustUp(t, testRunner(t, db.URL, mapFS(map[string]string{"0001_v.sql": driftBase})))
	st, err := testRunner(t, db.URL, mapFS(map[string]string{"0001_v.sql": migrate.NoTransactionMarker + "\n" + driftBase})).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f := st.Files[0]; f.State != migrate.StateChanged || f.Change != migrate.ChangeSemantic {
		t.Errorf("marker added: %s (%s), want changed (semantic)", f.State, f.Change)
	}
}

// definition runs body in a transaction that is rolled back and returns
// what it defined: the view's definition and the table's columns.
func definition(ctx context.Context, db *pgtest.DB, body string) (string, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		return "", err
	}
	defer func() { _, _ = pc.Exec(context.Background(), "ROLLBACK").ReadAll() }()
	if _, err := pc.Exec(ctx, body).ReadAll(); err != nil {
		return "", err
	}
	var def string
	err = conn.QueryRow(ctx, `SELECT pg_get_viewdef('v'::regclass) || ' | ' ||
		(SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		 FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0)`, pgx.QueryExecModeSimpleProtocol).Scan(&def)
	return def, err
}
