package migrate_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/migrations"
)

func count(t *testing.T, db *pgtest.DB, q string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// upNoTx applies body, a no-transaction file, and checks it was sent as
// statements separate calls.
func upNoTx(t *testing.T, db *pgtest.DB, body string, statements int) {
	t.Helper()
	res := mustUp(t, testRunner(t, db.URL, mapFS(map[string]string{"0001_notx.sql": body})))
	if res.Applied[0].Statements != statements {
		t.Errorf("sent %d statements, want %d", res.Applied[0].Statements, statements)
	}
}

// A ';' inside parentheses ends no statement: a no-transaction file with a
// rule of two actions used to be cut inside the rule, so the server got
// half a CREATE RULE, failed, and left the file half applied.
func TestRuleWithActionListInNoTransactionFile(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	body := migrate.NoTransactionMarker + "\n" +
		"CREATE TABLE t (x int);\nCREATE TABLE a (x int);\nCREATE TABLE b (x int);\n" +
		"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (NEW.x); INSERT INTO b VALUES (NEW.x));\n" +
		"INSERT INTO t VALUES (1);\n"
	upNoTx(t, db, body, 5)
	if a, b := count(t, db, "SELECT count(*) FROM a"), count(t, db, "SELECT count(*) FROM b"); a != 1 || b != 1 {
		t.Errorf("the rule's two actions ran %d and %d times, want once each", a, b)
	}
}

// Files that cannot work are refused when the folder is read, before
// anything is sent: COPY FROM STDIN would wait forever for data while the
// lock is held, a BOM is invisible in PostgreSQL's syntax error, and psql
// meta-commands are not SQL. Lint reports each as an error.
func TestFilesRefusedAtLoad(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	tests := []struct {
		name, body, rule, msg string
		line                  int
	}{
		{"copy", "CREATE TABLE t (a int);\ncopy t (a) from stdin;\n1\n\\.\n", migrate.RuleCopyStdin, "COPY ... FROM STDIN", 2},
		{"copy with options", "CREATE TABLE t (a int);\n\nCOPY public.t FROM STDIN WITH (FORMAT csv);\n", migrate.RuleCopyStdin, "COPY ... FROM STDIN", 3},
		{"bom", "\uFEFFCREATE TABLE t (a int);\n", migrate.RuleByteOrderMark, "byte order mark (bytes EF BB BF)", 1},
		{"set", "CREATE TABLE t (a int);\n\\set ON_ERROR_STOP on\nSELECT 1;\n", migrate.RulePsqlMeta, `psql meta-command \set`, 2},
		{"include", "SELECT 1;\n  \\i other.sql\n", migrate.RulePsqlMeta, `psql meta-command \i`, 2},
		{"client copy", "CREATE TABLE t (a int);\n\\copy t from 'rows.csv'\n", migrate.RulePsqlMeta, `psql meta-command \copy`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := mapFS(map[string]string{"0001_x.sql": tt.body})
			_, err := migrate.New(dial(db.URL), fsys)
			var se *migrate.SourceError
			if !errors.As(err, &se) || se.File != "0001_x.sql" || !strings.Contains(se.Msg, tt.msg) {
				t.Fatalf("New: %v; want a *migrate.SourceError on 0001_x.sql saying %q", err, tt.msg)
			}
			src, err := migrate.ReadSource(fsys)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range migrate.Lint(src) {
				if f.Severity == migrate.SeverityError {
					got = append(got, f.Rule)
					if f.Rule == tt.rule && f.Line != tt.line {
						t.Errorf("%s at line %d, want %d", f.Rule, f.Line, tt.line)
					}
				}
			}
			if diff := cmp.Diff([]string{tt.rule}, got); diff != "" {
				t.Errorf("lint errors (-want +got):\n%s", diff)
			}
		})
	}
	// The server itself rejects the BOM (and names no BOM), and the file is
	// fine without it.
	ctx := context.Background()
	var pe *pgconn.PgError
	if _, err := db.Pool.Exec(ctx, "\uFEFFSELECT 1", pgx.QueryExecModeSimpleProtocol); !errors.As(err, &pe) || pe.Code != "42601" {
		t.Errorf("PostgreSQL with a BOM: %v; want a syntax error", err)
	}
	if pgtest.RelExists(t, db.Pool, "t") || pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
		t.Error("a refused folder wrote something")
	}
}

// A no-transaction file is sent statement by statement, so after SET
// standard_conforming_strings = off the server reads 'it\'s' as one
// string; the splitter must too. A file sent in one piece is parsed whole
// first: a SET inside it does not change how the rest of it is read.
func TestStandardConformingStringsFollowed(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	// The oracle for "parsed whole": in one query string, the SET does not
	// make 'a\' unterminated.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err := conn.Conn().PgConn().Exec(ctx, "SET standard_conforming_strings = on; SET standard_conforming_strings = off; SELECT 'a\\'").ReadAll()
	conn.Release()
	if err != nil || len(results) != 3 || len(results[2].Rows) != 1 || string(results[2].Rows[0][0]) != `a\` {
		t.Fatalf("one query string: %v, %v; want a\\ (read with the setting still on)", results, err)
	}
	body := migrate.NoTransactionMarker + "\n" +
		"SET standard_conforming_strings = off;\n" +
		"CREATE TABLE notes (s text);\n" +
		"INSERT INTO notes VALUES ('it\\'s; fine');\n" +
		"RESET standard_conforming_strings;\n" +
		"INSERT INTO notes VALUES ('C:\\');\n"
	upNoTx(t, db, body, 5)
	var rows []string
	r, err := db.Pool.Query(ctx, "SELECT s FROM notes ORDER BY s")
	if err != nil {
		t.Fatal(err)
	}
	rows, err = pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`C:\`, "it's; fine"}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// A pending file with the content of an applied file whose name is gone is
// that file renamed: it must not run again.
func TestRenamedFileIsNotRunAgain(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	files := map[string]string{
		"0001_log.sql":  "CREATE TABLE log (x int);",
		"0002_seed.sql": "INSERT INTO log VALUES (2);",
	}
	mustUp(t, testRunner(t, db.URL, mapFS(files)))
	files["0002_seed-log.sql"] = files["0002_seed.sql"]
	delete(files, "0002_seed.sql")
	r := testRunner(t, db.URL, mapFS(files))
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]migrate.State{"0001_log.sql": migrate.StateApplied, "0002_seed-log.sql": migrate.StateRenamed}
	if diff := cmp.Diff(want, states(st)); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if st.Files[1].RenamedFrom != "0002_seed.sql" || !st.Drift() {
		t.Errorf("renamed from %q, drift %v", st.Files[1].RenamedFrom, st.Drift())
	}
	_, err = r.Up(ctx)
	var re *migrate.RenameError
	if !errors.As(err, &re) || len(re.Renames) != 1 || re.Renames[0].Repair != "repair rename 0002_seed.sql 0002_seed-log.sql" {
		t.Fatalf("Up: %v; want a *migrate.RenameError naming repair rename 0002_seed.sql 0002_seed-log.sql", err)
	}
	if n := count(t, db, "SELECT count(*) FROM log"); n != 1 {
		t.Errorf("log has %d rows: the renamed file ran again", n)
	}
	if p, err := r.Plan(ctx); err != nil || len(p.Steps) != 0 || !errors.As(p.Err(), &re) {
		t.Errorf("Plan: %v, %+v; want no steps and the rename as the blocker", err, p)
	}
}

// A database migrated from upstream's folder, opened with meshctl's
// embedded folder (no --dir): every row is unknown and no file is applied.
// That is another folder's history, not 4 missing files and 5 pending ones:
// refuse before writing anything.
func TestForeignHistoryRefused(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	up, err := migrate.New(dial(db.URL), os.DirFS("testdata/upstream-like"))
	if err != nil {
		t.Fatal(err)
	}
	mustUp(t, up)
	before := tracking(t, db.Pool)
	r, err := migrate.New(dial(db.URL), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	var fe *migrate.ForeignHistoryError
	if _, err := r.Up(ctx); !errors.As(err, &fe) || fe.Rows != len(before) || fe.Unknown != len(before) {
		t.Fatalf("Up: %v; want a *migrate.ForeignHistoryError over %d rows", err, len(before))
	}
	if _, err := r.Status(ctx); !errors.As(err, &fe) {
		t.Errorf("Status: %v; want a *migrate.ForeignHistoryError", err)
	}
	if diff := cmp.Diff(before, tracking(t, db.Pool)); diff != "" {
		t.Errorf("tracking rows changed (-before +after):\n%s", diff)
	}
}
