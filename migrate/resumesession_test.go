package migrate_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

// A resumed no-transaction file continues in the session its earlier
// statements set: with search_path app,public the index and the row go to
// app.kv (not public.kv), and with standard_conforming_strings off the
// literal 'C:\\data' is C:\data, as in the run that failed.
func TestResumeRestoresTheFilesSessionState(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	mustExec(t, db.Pool, "CREATE SCHEMA app; CREATE TABLE app.kv (k text, v text); CREATE TABLE public.kv (k text, v text)")
	files := mapFS(map[string]string{"0001_kv.sql": migrate.NoTransactionMarker + "\n" +
		"SET standard_conforming_strings = off;\n" +
		"SET search_path = app, public;\n" +
		"INSERT INTO gate VALUES (1);\n" +
		"CREATE INDEX CONCURRENTLY kv_k ON kv (k);\n" +
		"INSERT INTO kv VALUES ('path', 'C:\\\\data');\n"})
	var fe *migrate.FileError
	if _, err := testRunner(t, db.URL, files).Up(ctx); !errors.As(err, &fe) || fe.Statement != 3 {
		t.Fatalf("first run: %v; want statement #3 (gate) to fail", err)
	}
	mustExec(t, db.Pool, "CREATE TABLE public.gate (x int)")
	res, err := testRunner(t, db.URL, files).Up(ctx, migrate.Resume())
	if err != nil || len(res.Applied) != 1 {
		t.Fatalf("resume: %v (applied %v)", err, appliedNames(res))
	}
	var on string
	if err := db.Pool.QueryRow(ctx, "SELECT coalesce((SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass('app.kv_k')), 'not on app.kv')").Scan(&on); err != nil {
		t.Fatal(err)
	}
	if on != "app.kv" || pgtest.RelExists(t, db.Pool, "public.kv_k") {
		t.Errorf("index kv_k: %s (public.kv_k exists: %v); want it on app.kv only", on, pgtest.RelExists(t, db.Pool, "public.kv_k"))
	}
	var v string
	if err := db.Pool.QueryRow(ctx, "SELECT v FROM app.kv WHERE k = 'path'").Scan(&v); err != nil {
		t.Fatalf("the row is not in app.kv: %v", err)
	}
	if v != `C:\data` {
		t.Errorf("app.kv holds %q, want %q (read with standard_conforming_strings off)", v, `C:\data`)
	}
	if n := pgtestRows(t, db, "SELECT count(*)::int FROM public.kv"); n != 0 {
		t.Errorf("public.kv got %d rows", n)
	}
}

// A session change that cannot be replayed refuses the resume, naming the
// statement, before anything runs; Plan says the same.
func TestResumeRefusedAfterAnUnreplayableSessionChange(t *testing.T) {
	for _, first := range []string{
		"SELECT set_config('search_path', 'app, public', false);",
		"DISCARD TEMP;",
		"CREATE TEMP TABLE scratch (x int);",
	} {
		t.Run(first, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			ctx := context.Background()
			files := mapFS(map[string]string{"0001_s.sql": migrate.NoTransactionMarker + "\n" + first + "\nINSERT INTO gate VALUES (1);\nCREATE TABLE after_gate (x int);\n"})
			if _, err := testRunner(t, db.URL, files).Up(ctx); err == nil {
				t.Fatal("first run did not fail")
			}
			mustExec(t, db.Pool, "CREATE TABLE gate (x int)")
			r := testRunner(t, db.URL, files)
			p, err := r.Plan(ctx, migrate.Resume())
			if err != nil {
				t.Fatal(err)
			}
			var rs *migrate.ResumeSessionError
			if !errors.As(p.Err(), &rs) || rs.Statement != 1 || rs.Line != 2 {
				t.Errorf("Plan.Err: %v; want a *migrate.ResumeSessionError for statement #1 at line 2", p.Err())
			}
			_, err = r.Up(ctx, migrate.Resume())
			if !errors.As(err, &rs) || rs.Statement != 1 || !slices.Contains(rs.Remedies(), migrate.RemedyRetryFile) {
				t.Fatalf("Up: %v; want a *migrate.ResumeSessionError for statement #1", err)
			}
			if n := pgtestRows(t, db, "SELECT count(*)::int FROM gate"); n != 0 || pgtest.RelExists(t, db.Pool, "after_gate") {
				t.Error("the refused resume ran statements")
			}
			// The failure record is intact: the file is still failed at #2.
			st, err := r.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if f := st.Files[0]; f.State != migrate.StateFailed || f.Failure == nil || f.Failure.Statement != 2 {
				t.Errorf("after the refusal: %+v", f)
			}
		})
	}
}
