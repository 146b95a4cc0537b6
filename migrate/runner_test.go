package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/migrate"
	"github.com/claudemesh/meshctl/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = file(v)
	}
	return m
}

func testRunner(t *testing.T, dsn string, fsys fstest.MapFS, opts ...migrate.Option) *migrate.Runner {
	t.Helper()
	r, err := migrate.New(dial(dsn), fsys, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func mustUp(t *testing.T, r *migrate.Runner, opts ...migrate.CallOption) *migrate.UpResult {
	t.Helper()
	res, err := r.Up(context.Background(), opts...)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return res
}

func appliedNames(res *migrate.UpResult) []string {
	var out []string
	for _, a := range res.Applied {
		out = append(out, a.Filename)
	}
	return out
}

// tracking returns filename -> sha256 from the tracking table.
func tracking(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	var exists bool
	if err := pool.QueryRow(context.Background(), "SELECT to_regclass('mesh.__cmh_migrations') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return out
	}
	rows, err := pool.Query(context.Background(), "SELECT filename, sha256 FROM mesh.__cmh_migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f, s string
		if err := rows.Scan(&f, &s); err != nil {
			t.Fatal(err)
		}
		out[f] = s
	}
	return out
}

func states(st *migrate.Status) map[string]migrate.State {
	out := map[string]migrate.State{}
	for _, f := range st.Files {
		out[f.Filename] = f.State
	}
	return out
}

// The upstream defect: on an empty database the first file's
// CREATE SCHEMA "mesh" must not collide with the runner's own table.
func TestUpEmptyDatabaseReferenceSchema(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	r, err := migrate.New(dial(db.URL), migrations.FS, migrate.WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	res := mustUp(t, r)
	src, _ := migrate.LoadSource(migrations.FS)
	want := map[string]string{}
	var names []string
	for _, f := range src.Files {
		want[f.Name] = f.SHA256
		names = append(names, f.Name)
	}
	if diff := cmp.Diff(names, appliedNames(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, tracking(t, db.Pool)); diff != "" {
		t.Errorf("tracking rows (-want +got):\n%s", diff)
	}
	var how, version string
	var dur float64
	if err := db.Pool.QueryRow(ctx, "SELECT applied_how, meshctl_version, duration_ms FROM mesh.__cmh_migrations JOIN mesh.__cmh_migrations_meshctl USING (filename) ORDER BY filename LIMIT 1").Scan(&how, &version, &dur); err != nil {
		t.Fatal(err)
	}
	if how != migrate.HowExecuted || version != "test" || dur <= 0 {
		t.Errorf("extra columns: how %q version %q duration %v", how, version, dur)
	}
	again := mustUp(t, r)
	if !again.UpToDate || len(again.Applied) != 0 {
		t.Errorf("second Up: %+v, want up to date", again)
	}
}

// upstreamApply migrates a database the way upstream's runner records it:
// each file as one batch, then a row with only filename and sha256.
func upstreamApply(t *testing.T, pool *pgxpool.Pool, src *migrate.Source) {
	t.Helper()
	ctx := context.Background()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	for i, f := range src.Files {
		q := f.Body + "\n;\n"
		if i == 0 {
			q += "CREATE TABLE mesh.__cmh_migrations (filename text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamp NOT NULL DEFAULT now());\n"
		}
		q += fmt.Sprintf("INSERT INTO mesh.__cmh_migrations (filename, sha256) VALUES ('%s', '%s')", f.Name, f.SHA256)
		if _, err := c.Conn().PgConn().Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
}

// A database migrated by upstream (rows with only filename and sha256) is
// honoured; the table is never altered, meshctl's extras go beside it.
func TestUpstreamTrackedDatabase(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	src, err := migrate.LoadSource(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	upstreamApply(t, db.Pool, src)
	r, err := migrate.New(dial(db.URL), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts[migrate.StateApplied] != len(r.Source().Files) || st.Pending() || st.Drift() {
		t.Fatalf("status of a template database: %+v", st.Counts)
	}
	if res := mustUp(t, r); !res.UpToDate {
		t.Errorf("Up on an up-to-date database applied %v", appliedNames(res))
	}
	fsys := fstest.MapFS{}
	for _, f := range r.Source().Files {
		fsys[f.Name] = file(f.Body)
	}
	fsys["9999_new.sql"] = file("CREATE TABLE mesh.extra (id int);")
	res := mustUp(t, testRunner(t, db.URL, fsys))
	if diff := cmp.Diff([]string{"9999_new.sql"}, appliedNames(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM mesh.__cmh_migrations t WHERE NOT EXISTS (SELECT FROM mesh.__cmh_migrations_meshctl m WHERE m.filename = t.filename)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(r.Source().Files) {
		t.Errorf("upstream rows left with applied_how NULL: %d, want %d", n, len(r.Source().Files))
	}
}

// The fixture reproducing upstream's folder traits applies unchanged, and
// the literals with $ and \ arrive byte for byte.
func TestUpstreamLikeFixtureApplies(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	r, err := migrate.New(dial(db.URL), os.DirFS("testdata/upstream-like"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"README.md"}, r.Source().Ignored); diff != "" {
		t.Errorf("ignored (-want +got):\n%s", diff)
	}
	res := mustUp(t, r)
	if len(res.Applied) != 4 {
		t.Fatalf("applied %v", appliedNames(res))
	}
	var name, slug, display string
	err = db.Pool.QueryRow(context.Background(), `SELECT m.name, m.slug, p.display_name FROM mesh.mesh m JOIN mesh.member p ON p.mesh_id = m.id`).Scan(&name, &slug, &display)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{name, slug, display}
	want := []string{"costs $5; paid $$ twice", `path\\to\\mesh`, "tab\there \\ backslash; it's fine"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("literals (-want +got):\n%s", diff)
	}
}

func TestFailingFileInTheMiddle(t *testing.T) {
	tests := []struct {
		name      string
		bad       string
		line, col int
		stmt      int
		sqlstate  string
	}{
		{"syntax error after non-ASCII", "-- ünïcödé comment 🚀 ; still a comment\nCREATE TABLE t3 (a int);\nCREATE TABLE t3b (a int,, b int);\n", 3, 25, 2, "42601"},
		{"runtime error has no position", "CREATE TABLE t3 (a int);\nINSERT INTO t3\n  VALUES (1 / 0);", 2, 1, 2, "22012"},
		{"unknown column", "CREATE TABLE t3 (a int);\n\n  SELECT nope FROM t3;", 3, 10, 2, "42703"},
		{"unclosed parenthesis at end of file", "CREATE TABLE t3 (a int", 1, 23, 1, "42601"},
	}
	batches := map[string][]migrate.Option{"batched": nil, "one file per round trip": {migrate.WithBatch(1, 1<<20)}}
	for bname, opts := range batches {
		for _, tt := range tests {
			t.Run(bname+"/"+tt.name, func(t *testing.T) {
				db := pgtest.NewEmptyDB(t)
				files := map[string]string{
					"0001_a.sql": "CREATE TABLE t1 (a int);",
					"0002_b.sql": "CREATE TABLE t2 (a int);",
					"0003_c.sql": tt.bad,
					"0004_d.sql": "CREATE TABLE t4 (a int);",
				}
				res, err := testRunner(t, db.URL, mapFS(files), opts...).Up(context.Background())
				var fe *migrate.FileError
				if !errors.As(err, &fe) {
					t.Fatalf("want *migrate.FileError, got %v", err)
				}
				got := []any{fe.File, fe.Line, fe.Col, fe.Statement, fe.SQLState}
				if diff := cmp.Diff([]any{"0003_c.sql", tt.line, tt.col, tt.stmt, tt.sqlstate}, got); diff != "" {
					t.Errorf("error location (-want +got):\n%s\n%v", diff, err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("0003_c.sql:%d:%d: ERROR %s", tt.line, tt.col, tt.sqlstate)) {
					t.Errorf("message %q", err)
				}
				if diff := cmp.Diff([]string{"0001_a.sql", "0002_b.sql"}, appliedNames(res)); diff != "" {
					t.Errorf("applied (-want +got):\n%s", diff)
				}
				if pgtest.RelExists(t, db.Pool, "t3") || pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations_partial") {
					t.Error("the failing file left something behind")
				}
				if _, ok := tracking(t, db.Pool)["0003_c.sql"]; ok {
					t.Error("the failing file has a tracking row")
				}
				files["0003_c.sql"] = "CREATE TABLE t3 (a int);"
				res = mustUp(t, testRunner(t, db.URL, mapFS(files)))
				if diff := cmp.Diff([]string{"0003_c.sql", "0004_d.sql"}, appliedNames(res)); diff != "" {
					t.Errorf("rerun applied (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestLintErrorStopsBeforeTheDatabase(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	files := map[string]string{
		"0001_a.sql": "CREATE TABLE t1 (a int);",
		"0002_b.sql": "BEGIN;\nCREATE TABLE t2 (a int);\nCOMMIT;",
	}
	_, err := testRunner(t, db.URL, mapFS(files)).Up(context.Background())
	var le *migrate.LintError
	if !errors.As(err, &le) || le.Findings[0].Rule != migrate.RuleExplicitTransaction {
		t.Fatalf("want a migrate.LintError for explicit-transaction, got %v", err)
	}
	if pgtest.RelExists(t, db.Pool, "t1") || len(tracking(t, db.Pool)) != 0 {
		t.Error("something was written")
	}
}

func TestLockHeldPastLockWait(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, db.URL+"&application_name=other-runner")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	var pid int
	if err := holder.QueryRow(ctx, "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock($1)) l", meshfmt.MigrationLockKey).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var waits []*migrate.LockHolder
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": "CREATE TABLE t1 (a int);"}),
		migrate.WithLockWait(600*time.Millisecond), migrate.WithLockPoll(100*time.Millisecond),
		migrate.WithProgress(func(e migrate.Event) {
			if e.Kind == migrate.EventLockWait {
				waits = append(waits, e.Holder)
			}
		}))
	_, err = r.Up(ctx)
	var le *migrate.LockError
	if !errors.As(err, &le) {
		t.Fatalf("want *migrate.LockError, got %v", err)
	}
	if le.Holder == nil || le.Holder.PID != pid || le.Holder.ApplicationName != "other-runner" {
		t.Errorf("holder %+v, want pid %d other-runner", le.Holder, pid)
	}
	if len(waits) != 1 || waits[0] == nil || waits[0].PID != pid {
		t.Errorf("lock-wait events %v, want one naming pid %d", waits, pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("held by pid %d other-runner", pid)) {
		t.Errorf("message %q", err)
	}
	if pgtest.RelExists(t, db.Pool, "t1") || pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
		t.Error("something was written without the lock")
	}
	// Nothing pending: Up returns at once, without queueing for the lock.
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", meshfmt.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	mustUp(t, r)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", meshfmt.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	if res := mustUp(t, r); !res.UpToDate {
		t.Errorf("up-to-date run: %+v", res)
	}
}

func TestNoCreatePermission(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	role := "nocreate_" + db.Name
	if _, err := db.Pool.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'pw-secret-123'; REVOKE CREATE ON DATABASE %s FROM PUBLIC`,
		pgx.Identifier{role}.Sanitize(), pgx.Identifier{db.Name}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), "DROP OWNED BY "+pgx.Identifier{role}.Sanitize())
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "pw-secret-123")
	dsn := u.String()
	r, err := migrate.New(dial(dsn), migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Up(ctx)
	var pe *migrate.PrivilegeError
	if !errors.As(err, &pe) {
		t.Fatalf("want a migrate.PrivilegeError, got %v", err)
	}
	if !strings.Contains(err.Error(), "GRANT CREATE ON DATABASE "+db.Name+" TO "+role) || strings.Contains(err.Error(), "pw-secret-123") {
		t.Errorf("message %q", err)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
		t.Error("tracking table created")
	}
}

// psqlApply runs files with psql -f, as an operator migrating by hand does.
func psqlApply(t *testing.T, dsn string, files map[string]string, names ...string) {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed for this test (apt-get install postgresql-client): %v", err)
	}
	dir := t.TempDir()
	for _, n := range names {
		p := dir + "/" + n
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", p).CombinedOutput()
		if err != nil {
			t.Fatalf("psql -f %s: %v\n%s", n, err, out)
		}
	}
}

func TestBootstrap(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	files := map[string]string{}
	src, _ := migrate.LoadSource(migrations.FS)
	for _, f := range src.Files {
		files[f.Name] = f.Body
	}
	names := []string{src.Files[0].Name, src.Files[1].Name, src.Files[2].Name}
	psqlApply(t, db.URL, files, names...)
	r := testRunner(t, db.URL, mapFS(files))

	if _, err := r.Bootstrap(ctx, "0099_nope.sql", false); !errors.As(err, new(*migrate.TargetError)) {
		t.Errorf("unknown --through: %v", err)
	}
	dry, err := r.Bootstrap(ctx, names[2], true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names, dry.Marked); diff != "" {
		t.Errorf("dry-run marks (-want +got):\n%s", diff)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
		t.Fatal("dry-run wrote the tracking table")
	}
	res, err := r.Bootstrap(ctx, names[2], false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names, res.Marked); diff != "" {
		t.Errorf("marked (-want +got):\n%s", diff)
	}
	var hows []string
	rows, _ := db.Pool.Query(ctx, "SELECT filename || ':' || applied_how FROM mesh.__cmh_migrations JOIN mesh.__cmh_migrations_meshctl USING (filename) ORDER BY 1")
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		hows = append(hows, s)
	}
	rows.Close()
	var want []string
	for _, n := range names {
		want = append(want, n+":"+migrate.HowBootstrapped)
	}
	if diff := cmp.Diff(want, hows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	again, err := r.Bootstrap(ctx, names[1], false)
	if err != nil || len(again.Marked) != 0 || len(again.AlreadyApplied) != 2 {
		t.Errorf("second bootstrap: %+v %v", again, err)
	}
	up := mustUp(t, r)
	var rest []string
	for _, f := range src.Files[3:] {
		rest = append(rest, f.Name)
	}
	if diff := cmp.Diff(rest, appliedNames(up)); diff != "" {
		t.Errorf("up after bootstrap (-want +got):\n%s", diff)
	}
}

func TestDriftChangedMissingOutOfOrder(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	files := map[string]string{
		"0001_a.sql": "CREATE TABLE t1 (a int);",
		"0002_b.sql": "CREATE TABLE t2 (a int);",
		"0004_d.sql": "CREATE TABLE t4 (a int);",
		"0005_e.sql": "CREATE TABLE t5 (a int);",
	}
	mustUp(t, testRunner(t, db.URL, mapFS(files)))
	files["0001_a.sql"] = "-- explained\nCREATE TABLE t1 (\n  a int\n);\n" // cosmetic
	files["0002_b.sql"] = "CREATE TABLE t2 (a bigint);"                    // semantic
	delete(files, "0005_e.sql")                                            // missing
	files["0003_c.sql"] = "CREATE TABLE t3 (a int);"                       // out of order
	r := testRunner(t, db.URL, mapFS(files))
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]migrate.State{"0001_a.sql": migrate.StateChanged, "0002_b.sql": migrate.StateChanged, "0003_c.sql": migrate.StateOutOfOrder,
		"0004_d.sql": migrate.StateApplied, "0005_e.sql": migrate.StateMissingFile}
	if diff := cmp.Diff(want, states(st)); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if st.Files[0].Change != migrate.ChangeCosmetic || st.Files[1].Change != migrate.ChangeSemantic {
		t.Errorf("changes: %q %q", st.Files[0].Change, st.Files[1].Change)
	}
	_, err = r.Up(ctx, migrate.Strict())
	var de *migrate.DriftError
	if !errors.As(err, &de) || !strings.Contains(de.Error(), "0002_b.sql") {
		t.Fatalf("strict Up: want migrate.DriftError on 0002_b.sql, got %v", err)
	}
	if pgtest.RelExists(t, db.Pool, "t3") {
		t.Error("strict Up wrote something")
	}
	res := mustUp(t, testRunner(t, db.URL, mapFS(files)))
	if diff := cmp.Diff([]string{"0003_c.sql"}, appliedNames(res)); diff != "" {
		t.Errorf("default Up applied (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 4 {
		t.Errorf("warnings %q, want 4 (two changed, one missing, one out of order)", res.Warnings)
	}
}

func TestNoTransactionFileFailureResumeAndRetry(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	files := map[string]string{
		"0001_t.sql": "CREATE TABLE t (a int, b int); INSERT INTO t VALUES (1, 1), (1, 2);",
		"0002_idx.sql": migrate.NoTransactionMarker + "\n" +
			"CREATE INDEX CONCURRENTLY t_b ON t (b);\n" +
			"CREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a);\n" +
			"CREATE INDEX CONCURRENTLY t_ab ON t (a, b);\n",
		"0003_after.sql": "CREATE TABLE after (a int);",
	}
	_, err := testRunner(t, db.URL, mapFS(files)).Up(ctx)
	var fe *migrate.FileError
	if !errors.As(err, &fe) || !fe.NoTransaction || fe.Statement != 2 || fe.Line != 3 || fe.SQLState != "23505" {
		t.Fatalf("want migrate.FileError at statement 2 line 3 (23505), got %+v", err)
	}
	if diff := cmp.Diff([]string{"public.t_a"}, fe.InvalidIndexes); diff != "" {
		t.Errorf("invalid indexes (-want +got):\n%s", diff)
	}
	r := testRunner(t, db.URL, mapFS(files))
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := states(st)["0002_idx.sql"]; s != migrate.StateFailed || st.Files[1].Failure.Statement != 2 {
		t.Fatalf("status of the failed file: %v %+v", s, st.Files[1].Failure)
	}
	if _, err := r.Up(ctx); !errors.As(err, new(*migrate.DriftError)) {
		t.Fatalf("Up past a failed file without --resume: %v", err)
	}
	if pgtest.RelExists(t, db.Pool, "after") {
		t.Fatal("Up continued past the failed file")
	}
	// The operator fixes the data and drops the invalid index, then resumes.
	mustExec(t, db.Pool, "DELETE FROM t WHERE b = 2; DROP INDEX t_a")
	var done []int
	res := mustUp(t, testRunner(t, db.URL, mapFS(files), migrate.WithProgress(func(e migrate.Event) {
		if e.Kind == migrate.EventStatementDone {
			done = append(done, e.Statement)
		}
	})), migrate.Resume())
	if diff := cmp.Diff([]string{"0002_idx.sql", "0003_after.sql"}, appliedNames(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 3}, done); diff != "" {
		t.Errorf("resumed statements (-want +got):\n%s", diff)
	}
	var valid bool
	if err := db.Pool.QueryRow(ctx, "SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 't'::regclass").Scan(&valid); err != nil || !valid {
		t.Errorf("indexes valid: %v %v", valid, err)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations_partial") {
		var n int
		_ = db.Pool.QueryRow(ctx, "SELECT count(*) FROM mesh.__cmh_migrations_partial").Scan(&n)
		if n != 0 {
			t.Errorf("%d partial rows left", n)
		}
	}

	// --retry-file runs a failed file from the start.
	db2 := pgtest.NewEmptyDB(t)
	files2 := map[string]string{"0001_idx.sql": migrate.NoTransactionMarker + "\nCREATE TABLE u (a int);\nSELECT 1/0;"}
	if _, err := testRunner(t, db2.URL, mapFS(files2)).Up(ctx); err == nil {
		t.Fatal("want a failure")
	}
	files2["0001_idx.sql"] = migrate.NoTransactionMarker + "\nCREATE TABLE IF NOT EXISTS u (a int);\nSELECT 1;"
	if _, err := testRunner(t, db2.URL, mapFS(files2)).Up(ctx, migrate.Resume()); !errors.As(err, new(*migrate.DriftError)) {
		t.Errorf("--resume of a changed file: want migrate.DriftError, got %v", err)
	}
	mustUp(t, testRunner(t, db2.URL, mapFS(files2)), migrate.RetryFile())
	if _, ok := tracking(t, db2.Pool)["0001_idx.sql"]; !ok {
		t.Error("retried file not recorded")
	}
}

// CREATE INDEX CONCURRENTLY on a 200k-row table while three other runners
// wait for the lock: they poll, so none sits in a transaction the index
// build would wait for, and the index ends valid.
func TestConcurrentIndexWhileOthersWait(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustExec(t, db.Pool, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g")
	fsys := mapFS(map[string]string{
		"0001_big_v.sql": migrate.NoTransactionMarker + "\nSELECT pg_sleep(0.5);\nCREATE INDEX CONCURRENTLY big_v_idx ON big (v);",
	})
	locked := make(chan struct{})
	var once sync.Once
	first := testRunner(t, db.URL, fsys, migrate.WithProgress(func(e migrate.Event) {
		if e.Kind == migrate.EventLockAcquired {
			once.Do(func() { close(locked) })
		}
	}))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	results := make([]*migrate.UpResult, 4)
	var mu sync.Mutex
	sawHolder := 0
	wg.Add(1)
	go func() { defer wg.Done(); results[0], errs[0] = first.Up(ctx) }()
	<-locked
	for i := 1; i < 4; i++ {
		wg.Add(1)
		r := testRunner(t, db.URL, fsys, migrate.WithLockWait(2*time.Minute), migrate.WithProgress(func(e migrate.Event) {
			if e.Kind == migrate.EventLockWait && e.Holder != nil {
				mu.Lock()
				sawHolder++
				mu.Unlock()
			}
		}))
		go func(i int) { defer wg.Done(); results[i], errs[i] = r.Up(ctx) }(i)
	}
	wg.Wait()
	applied := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("runner %d: %v", i, err)
		}
		applied += len(results[i].Applied)
	}
	if applied != 1 {
		t.Errorf("file applied %d times, want 1", applied)
	}
	var valid bool
	if err := db.Pool.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v_idx'::regclass").Scan(&valid); err != nil || !valid {
		t.Errorf("index valid = %v (%v)", valid, err)
	}
	t.Logf("%d waiters reported the holder", sawHolder)
}

// lock_not_available (55P03) is retried with backoff: another session holds
// a table lock past lock_timeout, then lets go.
func TestLockTimeoutRetried(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	mustExec(t, db.Pool, "CREATE TABLE busy (a int)")
	tx := lockTable(t, db.Pool, "busy")
	var retries []string
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": "ALTER TABLE busy ADD COLUMN b int;"}),
		migrate.WithLockTimeout(100*time.Millisecond), migrate.WithLockRetries(3, 50*time.Millisecond),
		migrate.WithProgress(func(e migrate.Event) {
			if e.Kind == migrate.EventRetry {
				retries = append(retries, e.File)
				if len(retries) == 2 {
					_ = tx.Rollback(ctx) // the other session finishes
				}
			}
		}))
	res := mustUp(t, r)
	if diff := cmp.Diff([]string{"0001_a.sql", "0001_a.sql"}, retries); diff != "" {
		t.Errorf("retries (-want +got):\n%s", diff)
	}
	if len(res.Applied) != 1 {
		t.Errorf("applied %v", appliedNames(res))
	}

	// Without retries left, the 55P03 is reported and nothing is written.
	_ = lockTable(t, db.Pool, "busy")
	r2 := testRunner(t, db.URL, mapFS(map[string]string{"0001_a.sql": "ALTER TABLE busy ADD COLUMN b int;", "0002_b.sql": "ALTER TABLE busy ADD COLUMN c int;"}),
		migrate.WithLockTimeout(100*time.Millisecond), migrate.WithLockRetries(0, 0))
	_, err := r2.Up(ctx)
	var fe *migrate.FileError
	if !errors.As(err, &fe) || fe.SQLState != "55P03" || fe.File != "0002_b.sql" {
		t.Fatalf("want a 55P03 migrate.FileError on 0002_b.sql, got %v", err)
	}
}

// The warm path must say "up to date" only when every file has its row
// with the same hash and no row lacks a file.
func TestWarmPath(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	r := testRunner(t, db.URL, mapFS(map[string]string{
		"0001_z.sql": "CREATE TABLE z (a int);", "0001_é.sql": "CREATE TABLE e (a int);", "0001_A.sql": "SELECT 1;",
	}))
	mustUp(t, r)
	check := func(want bool) {
		t.Helper()
		got, err := migrate.WarmUpToDate(ctx, r)
		if err != nil || got != want {
			t.Errorf("upToDate = %v (%v), want %v", got, err, want)
		}
	}
	check(true)
	mustExec(t, db.Pool, "UPDATE mesh.__cmh_migrations SET sha256 = 'x' WHERE filename = '0001_é.sql'")
	check(false)
	mustExec(t, db.Pool, "DELETE FROM mesh.__cmh_migrations WHERE filename = '0001_é.sql'")
	check(false)
	mustExec(t, db.Pool, "INSERT INTO mesh.__cmh_migrations (filename, sha256) SELECT '0001_é.sql', sha256 FROM mesh.__cmh_migrations WHERE filename = '0001_z.sql'")
	check(false) // right count, wrong hash
	mustExec(t, db.Pool, "DELETE FROM mesh.__cmh_migrations WHERE filename = '0001_é.sql'; INSERT INTO mesh.__cmh_migrations (filename, sha256) VALUES ('0000_gone.sql', 'x')")
	check(false) // right count, a row without a file
}

// CREATE INDEX CONCURRENTLY waits for older transactions by design; the
// runner's lock_timeout must not cancel it half-way (which would leave an
// invalid index).
func TestConcurrentIndexIgnoresLockTimeout(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mustExec(t, db.Pool, "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 1000)")
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (0)"); err != nil { // an older writer CIC must wait for
		t.Fatal(err)
	}
	r := testRunner(t, db.URL, mapFS(map[string]string{"0001_idx.sql": migrate.NoTransactionMarker + "\nCREATE INDEX CONCURRENTLY t_a ON t (a);"}),
		migrate.WithLockTimeout(100*time.Millisecond), migrate.WithLockRetries(0, 0))
	done := make(chan error, 1)
	go func() { _, err := r.Up(ctx); done <- err }()
	// Wait until the build is blocked on the old transaction, then well
	// past lock_timeout, before letting the old transaction finish.
	for {
		var waiting bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%CONCURRENTLY%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Up finished before the build waited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Up: %v", err)
	}
	var valid bool
	if err := db.Pool.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a'::regclass").Scan(&valid); err != nil || !valid {
		t.Errorf("index valid = %v (%v)", valid, err)
	}
}

// Each file in a batch records its own run time, not the time since the
// batch started (now() is fixed for a whole multi-statement query).
func TestBatchedFilesRecordTheirOwnDuration(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	fsys := mapFS(map[string]string{
		"001_slow.sql":  "CREATE SCHEMA mesh; SELECT pg_sleep(0.4);",
		"002_quick.sql": "CREATE TABLE mesh.a (id int);",
		"003_quick.sql": "CREATE TABLE mesh.b (id int);",
	})
	res := mustUp(t, testRunner(t, db.URL, fsys))
	if got := appliedNames(res); len(got) != 3 {
		t.Fatalf("applied %v", got)
	}
	durations := map[string]float64{}
	rows, err := db.Pool.Query(context.Background(), "SELECT filename, duration_ms FROM mesh.__cmh_migrations_meshctl")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var d float64
		if err := rows.Scan(&name, &d); err != nil {
			t.Fatal(err)
		}
		durations[name] = d
	}
	if durations["001_slow.sql"] < 400 {
		t.Errorf("slow file recorded %.1f ms, want >= 400 (it sleeps 400 ms)", durations["001_slow.sql"])
	}
	// The quick files must not carry the slow file's sleep.
	for _, f := range []string{"002_quick.sql", "003_quick.sql"} {
		if durations[f] >= 400 {
			t.Errorf("%s recorded %.1f ms: it includes the earlier file's time", f, durations[f])
		}
	}
}

// mustExec runs setup SQL on the superuser pool, failing the test on error.
func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// The final flush (which keeps remote_write/remote_apply and raises
// off/local to on) works whatever the database's synchronous_commit is.
// Which level PostgreSQL then waits for needs a standby to observe.
func TestFlushUnderAnySynchronousCommit(t *testing.T) {
	for _, setting := range []string{"off", "remote_apply"} {
		t.Run(setting, func(t *testing.T) {
			db := pgtest.NewEmptyDB(t)
			mustExec(t, db.Pool, fmt.Sprintf("ALTER DATABASE %s SET synchronous_commit = %s", pgx.Identifier{db.Name}.Sanitize(), setting))
			fsys := mapFS(map[string]string{
				"001.sql": "CREATE SCHEMA mesh;",
				"002.sql": "CREATE TABLE mesh.a (id int);",
			})
			res := mustUp(t, testRunner(t, db.URL, fsys))
			if len(res.Applied) != 2 {
				t.Fatalf("applied %v", appliedNames(res))
			}
		})
	}
}

// lockTable holds an ACCESS EXCLUSIVE lock on table in an open transaction
// of another session until the returned tx ends (at the latest when the
// test ends).
func lockTable(t *testing.T, pool *pgxpool.Pool, table string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// dial is how the tests' runners connect: the way meshctl does (cancel
// requests on a cancelled context, one-line errors), under a name of
// their own.
func dial(dsn string) migrate.Connector {
	return func(ctx context.Context) (*pgx.Conn, error) { return dbconn.Connect(ctx, dsn, "meshctl-test") }
}
