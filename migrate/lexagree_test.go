package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// Where meshctl's lexer and PostgreSQL's disagree about where a comment or
// string ends, lint cannot see what the server will run: a COMMIT hidden
// from lint splits a transactional file, whose first half then stays
// committed without a tracking row. Each body here hides a COMMIT from a
// lexer that gets the rule wrong; Up must refuse it before writing.
func TestLexerAgreesWithTheServer(t *testing.T) {
	tests := []struct {
		name, body string
		setup      string // run on the database first
		applies    bool   // true: Up applies the file whole; false: lint refuses it
	}{
		// PostgreSQL ends a line comment at \r as well as \n.
		{name: "line comment ended by a lone CR", body: "CREATE TABLE a (x int);\n-- note\rCOMMIT;\nCREATE TABLE b (x int);\nSELECT 1/0;\n"},
		// Only BEGIN ATOMIC opens a routine body; a parameter named begin
		// must not make the splitter swallow the statements after it.
		{name: "parameter named begin", body: "CREATE TABLE a (x int);\nCREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql AS 'SELECT 1';\nCOMMIT;\nSELECT 1/0;\n"},
		// With standard_conforming_strings off (a database or role
		// default), \' escapes a quote in a plain string, so the server's
		// string ends elsewhere than the lexer's.
		{name: "standard_conforming_strings off", setup: "ALTER DATABASE %s SET standard_conforming_strings = off",
			body: "CREATE TABLE a (x text);\nSELECT 'a\\', '; COMMIT; SELECT 1/0; --';\n", applies: true},
		// A '...' continuing an E'...' string on the next line keeps
		// backslash escapes on.
		{name: "E string continued", body: "CREATE TABLE a (x int);\nCOMMENT ON TABLE a IS E'x'\n'\\' ' ; COMMIT; SELECT 1/0 -- '\n;\n"},
		{name: "E string continued with an escaped quote", body: "CREATE TABLE a (x int);\nCOMMENT ON TABLE a IS E'x'\n'it\\'s';\n", applies: true},
		// END and CASE after a '.' are columns, not the end of a BEGIN
		// ATOMIC body or a CASE (END alone is a COMMIT).
		{name: "b.end in begin atomic", body: "CREATE TABLE a (x int);\nCREATE TABLE booking (\"end\" int);\n" +
			"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT b.end FROM booking b; END;\n", applies: true},
		{name: "r.case in begin atomic", body: "CREATE TABLE a (x int);\nCREATE TABLE rules (\"case\" text);\n" +
			"CREATE FUNCTION g() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT r.case FROM rules r; END;\nCOMMIT;\nSELECT 1/0;\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			if tt.setup != "" {
				mustExec(t, db.Pool, fmt.Sprintf(tt.setup, pgx.Identifier{db.Name}.Sanitize()))
			}
			r := testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": tt.body}))
			_, err := r.Up(context.Background())
			var le *migrate.LintError
			switch {
			case tt.applies && err != nil:
				t.Errorf("Up: %v; want the file applied whole", err)
			case !tt.applies && !errors.As(err, &le):
				t.Errorf("Up: %v; want a *migrate.LintError (explicit-transaction)", err)
			}
			if pgtest.RelExists(t, db.Pool, "a") != tt.applies || len(tracking(t, db.Pool)) != map[bool]int{true: 1}[tt.applies] {
				t.Errorf("table a exists = %v, tracking %v: the file was half applied", pgtest.RelExists(t, db.Pool, "a"), tracking(t, db.Pool))
			}
		})
	}
}

// TestSplitAgreesWithTheServer is a differential test of the splitter
// with PostgreSQL as the oracle. Each file is sent whole, as one query
// string, to one database, and statement by statement, as meshctl splits
// it, to another: every statement must draw exactly one answer from the
// server (two would mean the splitter joined statements; a syntax error
// where the whole file had none, that it cut one), and the answers must
// be the same (command tags, rows, or the SQLSTATE of the first error,
// after which the server runs nothing more of a query string).
func TestSplitAgreesWithTheServer(t *testing.T) {
	const tables = `CREATE TABLE a1 (x int);
CREATE TABLE booking (id int, "end" int); INSERT INTO booking VALUES (1, 10);
CREATE TABLE rules ("case" text); INSERT INTO rules VALUES ('r');
CREATE TABLE r ("as" int); INSERT INTO r VALUES (7);`
	tests := []struct {
		name, body string
		scsOff     bool // read with standard_conforming_strings off
	}{
		// An E'...' string continued on the next line keeps its escapes.
		{name: "E string continued hides a COMMIT", body: "COMMENT ON TABLE a1 IS E'x'\n'\\' ' ; COMMIT; SELECT 1/0 -- '\n;"},
		{name: "E string continued", body: "COMMENT ON TABLE a1 IS E'x'\n'it\\'s';\nSELECT obj_description('a1'::regclass);"},
		{name: "E string continued across comments", body: "SELECT E'a' -- c\n-- d\n'\\'; ', 2;\nSELECT 3;"},
		{name: "E string then a block comment", body: "SELECT E'a' /* c */\n'\\'; SELECT 2;\n"},
		{name: "U& string continued", body: "SELECT U&'a'\n'!0062\\' UESCAPE '!'; SELECT 2; --'\n;"},
		{name: "plain string continued, scs off", scsOff: true, body: "SELECT 'a'\n'\\'; ';\nSELECT 2;"},
		{name: "E string continued, scs off", scsOff: true, body: "SELECT E'a'\n'\\'; ';\nSELECT 2;"},
		{name: "B string continued, scs off", scsOff: true, body: "SELECT B'1'\n'\\'; SELECT 2; -- '\n;"},
		{name: "X string continued, scs off", scsOff: true, body: "SELECT X'1'\n'\\'; SELECT 2; -- '\n;"},
		// END and CASE after a '.' or AS are names, not the end of a
		// BEGIN ATOMIC body or a CASE.
		{name: "b.end in begin atomic", body: "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT b.end FROM booking b; SELECT b.END + 1 FROM booking b; END;\nSELECT f();"},
		{name: "r.case in begin atomic", body: "CREATE FUNCTION g() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT r.case FROM rules r; END;\nCOMMIT;\nCREATE TABLE later (x int);\nSELECT g();"},
		{name: "AS case in begin atomic", body: "CREATE FUNCTION h() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; END;\nCOMMIT;\nSELECT h();"},
		{name: "AS end in begin atomic", body: "CREATE FUNCTION h() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 as END; SELECT 2; END;\nSELECT h();"},
		{name: "a column named as before end", body: "CREATE FUNCTION k() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN r.as END FROM r; END;\nSELECT k();"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A file marked no-transaction is split following its SET.
			file := tt.body
			if tt.scsOff {
				file = migrate.NoTransactionMarker + "\nSET standard_conforming_strings = off;\n" + tt.body
			}
			src, err := migrate.ReadSource(mapFS(map[string]string{"0001_a.sql": file}))
			if err != nil {
				t.Fatal(err)
			}
			whole, each := serverConn(t, tables), serverConn(t, tables)
			if tt.scsOff {
				answers(ctx, whole, "SET standard_conforming_strings = off")
			}
			want := answers(ctx, whole, tt.body)
			t.Logf("the server, given the whole file: %q", want)
			var got []string
			for i, st := range src.Files[0].Statements() {
				if st.Empty() {
					continue
				}
				a := answers(ctx, each, st.Text)
				if len(a) != 1 {
					t.Errorf("statement %d %q: %d answers from the server, want 1: %q", i+1, st.Text, len(a), a)
				}
				if tt.scsOff && i == 0 {
					continue // the SET
				}
				got = append(got, a...)
				if strings.HasPrefix(a[len(a)-1], "ERROR") {
					break
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answers to the whole file (-) and to its statements one by one (+):\n%s", diff)
			}
		})
	}
}

// serverConn connects to a fresh database holding setup.
func serverConn(t *testing.T, setup string) *pgconn.PgConn {
	t.Helper()
	db := pgtest.NewEmptyDB(t)
	c, err := pgconn.Connect(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if _, err := c.Exec(context.Background(), setup).ReadAll(); err != nil {
		t.Fatalf("setup: %v", err)
	}
	return c
}

// answers sends sql as one simple-protocol query string and returns the
// server's answer to each statement it ran: the command tag and rows, or
// ERROR and the SQLSTATE.
func answers(ctx context.Context, c *pgconn.PgConn, sql string) []string {
	results, err := c.Exec(ctx, sql).ReadAll()
	var out []string
	failed := func(err error) string {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return "ERROR " + pe.Code
		}
		return "ERROR " + err.Error()
	}
	for _, r := range results {
		if r.Err != nil {
			out = append(out, failed(r.Err))
			continue
		}
		a := r.CommandTag.String()
		for _, row := range r.Rows {
			a += " |"
			for _, v := range row {
				a += " " + string(v)
			}
		}
		out = append(out, a)
	}
	if err != nil && (len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "ERROR")) {
		out = append(out, failed(err))
	}
	return out
}
