package migrate_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// After a failed or killed CREATE INDEX CONCURRENTLY, --resume looks at
// the index before running the statement again: valid → done; invalid →
// an error with the DROP statement, which works, and then --resume does.
func TestResumeLooksForTheIndex(t *testing.T) {
	for _, finish := range []string{"drop", "reindex"} {
		t.Run(finish, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			ctx := context.Background()
			mustExec(t, db.Pool, "CREATE TABLE t (v int); INSERT INTO t VALUES (1), (1), (2)")
			files := map[string]string{"0001_idx.sql": "-- meshctl:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v);\nCREATE TABLE after_idx (id int);\n"}
			if _, err := testRunner(t, db.URL, mapFS(files)).Up(ctx); err == nil {
				t.Fatal("the build did not fail")
			}
			mustExec(t, db.Pool, "DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t WHERE v = 1)")
			r := testRunner(t, db.URL, mapFS(files))
			switch finish {
			case "drop":
				// The invalid index is found and the message says how to drop it.
				_, err := r.Up(ctx, migrate.Resume())
				var fe *migrate.FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), "is invalid") || !slices.Contains(fe.Remedies(), migrate.RemedyResume) {
					t.Fatalf("resume over an invalid index: %v", err)
				}
				drop := regexp.MustCompile(`DROP INDEX CONCURRENTLY [^;]+;`).FindString(err.Error())
				if drop == "" {
					t.Fatalf("no DROP statement in %v", err)
				}
				mustExec(t, db.Pool, drop)
			case "reindex":
				// The operator (or the server, after meshctl was killed)
				// finished the index: it is valid, so the statement is done.
				mustExec(t, db.Pool, "REINDEX INDEX CONCURRENTLY t_v")
			}
			res, err := r.Up(ctx, migrate.Resume())
			if err != nil {
				t.Fatalf("--resume: %v", err)
			}
			if len(res.Applied) != 1 || !pgtest.RelExists(t, db.Pool, "after_idx") {
				t.Errorf("applied %v", appliedNames(res))
			}
			var valid bool
			if err := db.Pool.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass").Scan(&valid); err != nil || !valid {
				t.Errorf("index valid=%v %v", valid, err)
			}
		})
	}
}
