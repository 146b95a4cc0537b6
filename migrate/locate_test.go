package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// An error without a position (raised while executing) is placed on its
// statement from the results that came back before it, not by running the
// file again: nextval, which no rollback undoes, advances once. Both
// shapes of failure are covered: before any row (a unique violation) and
// while sending rows (division by zero, after its RowDescription); empty
// statements and comments do not shift the count; a failure in a later
// file of the batch is that file's.
func TestFailedStatementFoundWithoutReplay(t *testing.T) {
	for _, c := range []struct {
		name, second string
		stmt, line   int
		state        string
	}{
		{"unique violation", "SELECT nextval('s');\n;;\n-- note\nINSERT INTO t VALUES (1);\n", 4, 4, "23505"},
		{"error while sending rows", "SELECT nextval('s');\nSELECT 1;\n/* c */ SELECT 1/0;\n", 3, 3, "22012"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			ctx := context.Background()
			files := mapFS(map[string]string{
				"0001_base.sql": "CREATE SEQUENCE s;\nCREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n",
				"0002_more.sql": c.second,
			})
			_, err := testRunner(t, db.URL, files).Up(ctx)
			var fe *migrate.FileError
			if !errors.As(err, &fe) || fe.File != "0002_more.sql" || fe.Statement != c.stmt || fe.Line != c.line || fe.SQLState != c.state || fe.InTracking {
				t.Fatalf("Up: %#v; want 0002_more.sql statement %d line %d, %s", err, c.stmt, c.line, c.state)
			}
			var last int64
			if err := db.Pool.QueryRow(ctx, "SELECT last_value FROM s").Scan(&last); err != nil {
				t.Fatal(err)
			}
			if last != 1 {
				t.Errorf("sequence s at %d after the failed run: the file ran more than once", last)
			}
		})
	}
}
