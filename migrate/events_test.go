package migrate_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// TestFileEventsCountNofN: file-start and file-done events carry the
// file's place in the run, through transactional batches and a
// non-transactional file alike, counting only what this run applies.
func TestFileEventsCountNofN(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	files := map[string]string{
		"0001_a.sql": "CREATE TABLE a (x int);",
		"0002_b.sql": "CREATE TABLE b (x int);",
		"0003_c.sql": migrate.NoTransactionMarker + "\nCREATE INDEX CONCURRENTLY c ON b (x);",
		"0004_d.sql": "CREATE TABLE d (x int);",
		"0005_e.sql": "CREATE TABLE e (x int);",
	}
	mustUp(t, testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": files["0001_a.sql"]})))
	var got []string
	mustUp(t, testRunner(t, db.URL, mapFS(files), migrate.WithProgress(func(e migrate.Event) {
		switch e.Kind {
		case migrate.EventFileStart, migrate.EventFileDone:
			got = append(got, fmt.Sprintf("%s %s %d/%d", e.Kind, e.File, e.Index, e.Total))
		}
	})))
	want := []string{
		"file-start 0002_b.sql 1/4", "file-done 0002_b.sql 1/4",
		"file-start 0003_c.sql 2/4", "file-done 0003_c.sql 2/4",
		// One transaction for both: started together, done together.
		"file-start 0004_d.sql 3/4", "file-start 0005_e.sql 4/4",
		"file-done 0004_d.sql 3/4", "file-done 0005_e.sql 4/4",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
