package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

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
