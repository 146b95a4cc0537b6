package migrate_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// A file's ROLLBACK TO SAVEPOINT (command tag ROLLBACK) after a one-row,
// one-column INSERT ... RETURNING is not its COMMIT answered with
// ROLLBACK: every file of the batch committed and is reported so. The
// durations are read at each COMMIT's position, so they come back for
// every file only if the runner counted the server's results right,
// through empty statements, a rule with a parenthesised action list, a
// DO block, a BEGIN ATOMIC body and a trailing comment.
func TestRollbackToSavepointInAFileIsNotAFailedCommit(t *testing.T) {
	for _, batch := range []int{migrate.DefaultBatchFiles, 1} {
		db := pgtest.NewEmptyDB(t)
		r := testRunner(t, db.URL, mapFS(map[string]string{
			"0001_sp.sql": "CREATE TABLE t (id serial PRIMARY KEY, v int);\nSAVEPOINT s;\nINSERT INTO t (v) VALUES (1) RETURNING id;\nROLLBACK TO SAVEPOINT s;\n",
			"0002_odd.sql": "CREATE TABLE log (v int);;\n;\n" +
				"CREATE RULE r AS ON INSERT TO log DO ALSO (INSERT INTO t (v) VALUES (2); INSERT INTO t (v) VALUES (3));\n" +
				"DO $$ BEGIN PERFORM 1; END $$;\n" +
				"CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n" +
				"INSERT INTO log VALUES (1) RETURNING v -- a trailing comment",
			"0003_b.sql": "CREATE TABLE b (x int);",
		}), migrate.WithBatch(batch, migrate.DefaultBatchBytes))
		res, err := r.Up(context.Background())
		if err != nil {
			t.Fatalf("batch %d: Up: %v", batch, err)
		}
		if diff := cmp.Diff([]string{"0001_sp.sql", "0002_odd.sql", "0003_b.sql"}, appliedNames(res)); diff != "" {
			t.Errorf("batch %d: applied (-want +got):\n%s", batch, diff)
		}
		for _, a := range res.Applied {
			if a.DurationMS <= 0 {
				t.Errorf("batch %d: %s has no server-side duration (%v): its COMMIT was not where the runner counted", batch, a.Filename, a.DurationMS)
			}
		}
		if n := pgtestRows(t, db, "SELECT count(*)::int FROM t"); n != 2 {
			t.Errorf("batch %d: t holds %d rows, want 2 (the rule's)", batch, n)
		}
		if len(tracking(t, db.Pool)) != 3 {
			t.Errorf("batch %d: tracking %v", batch, tracking(t, db.Pool))
		}
	}
}
