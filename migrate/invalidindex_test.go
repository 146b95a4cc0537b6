package migrate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// The "drop them before retrying" list names only invalid indexes the
// failed file left: an invalid index that was there before (another
// session's failed or running CONCURRENTLY build) is not the operator's
// to drop on meshctl's word.
func TestInvalidIndexesAreOnlyTheFilesOwn(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"a failure that is not an index build", "CREATE TABLE t (x int);\nSELECT 1/0;", nil},
		{"a failed CONCURRENTLY build", "CREATE UNIQUE INDEX CONCURRENTLY mine ON dup (x);", []string{"public.mine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			ctx := context.Background()
			// Someone else's failed build left public.theirs invalid.
			mustExec(t, db.Pool, "CREATE TABLE dup (x int); INSERT INTO dup VALUES (1), (1)")
			if _, err := db.Pool.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY theirs ON dup (x)"); err == nil {
				t.Fatal("setup: the duplicate build succeeded")
			}
			r := testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": migrate.NoTransactionMarker + "\n" + tt.body}))
			_, err := r.Up(ctx)
			var fe *migrate.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Up: %v; want a *migrate.FileError", err)
			}
			if diff := cmp.Diff(tt.want, fe.InvalidIndexes); diff != "" {
				t.Errorf("invalid indexes (-want +got):\n%s", diff)
			}
		})
	}
}

// With standard_conforming_strings off (set by the file), the runner's own
// queries between statements still work: a failed CREATE UNIQUE INDEX
// CONCURRENTLY reports the invalid index it left, and the migration lock
// is released on a connection the caller keeps open.
func TestRunnerQueriesWorkWithConformingStringsOff(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	mustExec(t, db.Pool, "CREATE TABLE dup (x int); INSERT INTO dup VALUES (1), (1)")
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	r, err := migrate.NewWithConn(conn, mapFS(map[string]string{"0001_idx.sql": migrate.NoTransactionMarker + "\n" +
		"SET standard_conforming_strings = off;\nCREATE UNIQUE INDEX CONCURRENTLY mine ON dup (x);\n"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Up(ctx)
	var fe *migrate.FileError
	if !errors.As(err, &fe) || fe.Statement != 2 {
		t.Fatalf("Up: %v; want statement #2 to fail", err)
	}
	if diff := cmp.Diff([]string{"public.mine"}, fe.InvalidIndexes); diff != "" {
		t.Errorf("invalid indexes (-want +got):\n%s", diff)
	}
	if n := pgtestRows(t, db, "SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory'"); n != 0 {
		t.Errorf("%d advisory locks still held after Up returned", n)
	}
}
