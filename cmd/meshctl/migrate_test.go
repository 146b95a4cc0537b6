package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/meshfmt"
)

// writeDir writes files into a fresh temporary folder.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildMeshctl compiles the binary for tests that need real processes.
func buildMeshctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meshctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestMigrateStatusJSONAndExitCodes(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	dir := writeDir(t, map[string]string{
		"0001_a.sql": "CREATE TABLE t1 (a int);",
		"0002_b.sql": "CREATE TABLE t2 (a int);",
		"notes.txt":  "ignored",
	})
	code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "status", "--dir", dir, "--exit-code")
	if code != ExitPending {
		t.Fatalf("status --exit-code with pending files: exit %d, want %d (%s)", code, ExitPending, stderr)
	}
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir); code != 0 {
		t.Fatalf("up: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "--json", "--database-url", db.URL, "migrate", "status", "--dir", dir, "--exit-code")
	if code != 0 {
		t.Fatalf("status after up: exit %d: %s", code, stderr)
	}
	var st struct {
		Files  []map[string]any `json:"files"`
		Counts map[string]int   `json:"counts"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	for _, k := range []string{"filename", "state", "sha256", "applied_sha256", "applied_at", "duration_ms"} {
		if _, ok := st.Files[0][k]; !ok {
			t.Errorf("JSON file entry lacks %q: %v", k, st.Files[0])
		}
	}
	if st.Counts["applied"] != 2 || st.Counts["pending"] != 0 {
		t.Errorf("counts %v", st.Counts)
	}
	// A row whose file is gone is drift: exit 4 with --exit-code, and up
	// --strict refuses without writing.
	if err := os.Remove(filepath.Join(dir, "0001_a.sql")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0003_c.sql"), []byte("CREATE TABLE t3 (a int);"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "--database-url", db.URL, "migrate", "status", "--dir", dir, "--exit-code")
	if code != ExitDrift || !strings.Contains(stdout, "missing-file") {
		t.Errorf("status with a missing file: exit %d, want %d\n%s", code, ExitDrift, stdout)
	}
	code, _, stderr = runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--strict")
	if code != ExitDrift || !strings.Contains(stderr, "0001_a.sql") {
		t.Errorf("up --strict with a missing file: exit %d, want %d (%s)", code, ExitDrift, stderr)
	}
	assertOneLine(t, stderr, "")
	if pgtest.RelExists(t, db.Pool, "t3") {
		t.Error("up --strict wrote something")
	}
	code, _, stderr = runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
	if code != 0 || !strings.Contains(stderr, "warning: 0001_a.sql is recorded as applied but the file is missing") {
		t.Errorf("up with a missing file: exit %d (%s)", code, stderr)
	}
}

func TestMigrateBadInput(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ok := map[string]string{"0001_a.sql": "CREATE TABLE t1 (a int);"}
	dangling := writeDir(t, ok)
	if err := os.Symlink(filepath.Join(dangling, "gone"), filepath.Join(dangling, "0002_b.sql")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"missing folder", []string{"up", "--dir", filepath.Join(t.TempDir(), "nope")}, ExitUsage, "migration folder does not exist"},
		{"empty folder", []string{"up", "--dir", t.TempDir()}, ExitUsage, "no *.sql migration files"},
		{"only non-sql files", []string{"up", "--dir", writeDir(t, map[string]string{"README.md": "x"})}, ExitUsage, "no *.sql migration files"},
		{"not utf-8", []string{"up", "--dir", writeDir(t, map[string]string{"0001_a.sql": "SELECT '\xff';"})}, ExitUsage, "0001_a.sql: not valid UTF-8 at line 1:9"},
		{"space in name", []string{"up", "--dir", writeDir(t, map[string]string{"0001 a.sql": "SELECT 1;"})}, ExitUsage, "file name contains whitespace"},
		{"unreadable file", []string{"up", "--dir", dangling}, ExitUsage, "0002_b.sql: cannot read the file"},
		{"lint error", []string{"up", "--dir", writeDir(t, map[string]string{"0001_a.sql": "CREATE TABLE t1 (a int);\nCOMMIT;"})}, ExitUsage, "0001_a.sql:2: COMMIT in a transactional file"},
		{"unknown --to", []string{"up", "--dir", writeDir(t, ok), "--to", "0009.sql"}, ExitUsage, `--to "0009.sql" is not a migration file`},
		{"bootstrap without --through", []string{"bootstrap", "--dir", writeDir(t, ok)}, ExitUsage, "bootstrap needs --through FILE"},
		{"bad table", []string{"status", "--dir", writeDir(t, ok), "--table", "nodot"}, ExitUsage, "must be schema.name"},
		{"status, missing folder", []string{"status", "--dir", filepath.Join(t.TempDir(), "nope")}, ExitUsage, "migration folder does not exist"},
		{"status, unreadable file", []string{"status", "--dir", dangling}, ExitUsage, "0002_b.sql: cannot read the file"},
		{"plan, unreadable file", []string{"plan", "--dir", dangling}, ExitUsage, "0002_b.sql: cannot read the file"},
		{"up --dry-run, missing folder", []string{"up", "--dry-run", "--dir", filepath.Join(t.TempDir(), "nope")}, ExitUsage, "migration folder does not exist"},
		{"up, --resume and --retry-file", []string{"up", "--dir", writeDir(t, ok), "--resume", "--retry-file"}, ExitUsage, "exclude each other"},
		{"lint, unreadable file", []string{"lint", "--dir", dangling}, ExitUsage, "0002_b.sql: cannot read the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"--database-url", db.URL, "migrate"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.says) {
				t.Errorf("stderr %q does not say %q", stderr, tt.says)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			assertOneLine(t, stderr, "")
		})
		// Under --json the same failure is on stdout as JSON: "error" holds
		// the stderr line, and up keeps the shape of its result.
		t.Run(tt.name+" --json", func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"--json", "--database-url", db.URL, "migrate"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			assertOneLine(t, stderr, "")
			var got map[string]any
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout is not JSON (%v): %q", err, stdout)
			}
			env, _ := got["error"].(map[string]any)
			if want := strings.TrimSuffix(strings.TrimPrefix(stderr, "meshctl: "), "\n"); env["message"] != want || env["exit"] != float64(tt.code) {
				t.Errorf("error = %v, want message %q and exit %d", got["error"], want, tt.code)
			}
			if tt.args[0] == "up" && !slices.Contains(tt.args, "--dry-run") {
				if applied, ok := got["applied"].([]any); !ok || len(applied) != 0 {
					t.Errorf("up: applied = %v, want [] (the shape of up's result)", got["applied"])
				}
			}
		})
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") || pgtest.RelExists(t, db.Pool, "t1") {
		t.Error("bad input wrote to the database")
	}
}

func TestMigrateLockAndPermissionErrors(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	dir := writeDir(t, map[string]string{"0001_a.sql": "CREATE SCHEMA s; CREATE TABLE s.t1 (a int);"})
	holder, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", meshfmt.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--lock-wait", "500ms")
	if code != ExitLocked || !strings.Contains(stderr, "waiting for the migration lock, held by pid") ||
		!strings.Contains(lastLine(stderr), "migration lock not acquired within") {
		t.Errorf("lock held: exit %d, want %d\n%s", code, ExitLocked, stderr)
	}
	if pgtest.RelExists(t, db.Pool, "s.t1") {
		t.Error("ran without the lock")
	}
	_, _ = holder.Exec(ctx, "SELECT pg_advisory_unlock_all()")

	role := "nocreate_" + db.Name
	if _, err := db.Pool.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'pw-s3cret-9'; REVOKE CREATE ON DATABASE %s FROM PUBLIC`,
		pgx.Identifier{role}.Sanitize(), pgx.Identifier{db.Name}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	u, _ := url.Parse(db.URL)
	u.User = url.UserPassword(role, "pw-s3cret-9")
	code, _, stderr = runCLI(t, "--database-url", u.String(), "migrate", "up", "--dir", dir)
	if code != ExitError || !strings.Contains(stderr, "GRANT CREATE ON DATABASE") {
		t.Errorf("no CREATE permission: exit %d\n%s", code, stderr)
	}
	assertOneLine(t, stderr, "pw-s3cret-9")
	if pgtest.RelExists(t, db.Pool, "s.t1") || pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
		t.Error("a failed run wrote something")
	}
}

func TestMigrateLintAndPlan(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"0001_a.sql": "CREATE TABLE t1 (a int);",
		"0002_b.sql": "-- meshctl:no-transaction\nCREATE INDEX CONCURRENTLY i ON t1 (a);",
		"0003_c.sql": "DROP TABLE t1;",
	})
	code, stdout, _ := runCLI(t, "--json", "migrate", "lint", "--dir", dir)
	var out lintOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
		t.Fatalf("lint: exit %d, %v\n%s", code, err, stdout)
	}
	if out.Files != 3 || out.Errors != 0 || out.Warnings != 1 || out.Findings[0].Rule != "destructive" || out.Findings[0].Line != 1 {
		t.Errorf("lint output %+v", out)
	}
	if _, stdout, _ := runCLI(t, "migrate", "lint", "--dir", dir); !strings.HasSuffix(stdout, "3 files: 0 errors, 1 warning\n") {
		t.Errorf("lint summary: %q", stdout)
	}
	db := pgtest.NewEmptyDB(t)
	code, stdout, stderr := runCLI(t, "--json", "--database-url", db.URL, "migrate", "plan", "--dir", dir)
	if code != 0 {
		t.Fatalf("plan: exit %d %s", code, stderr)
	}
	var p struct {
		Steps []struct {
			Filename, Mode string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(p.Steps)
	if got != "[{0001_a.sql transaction} {0002_b.sql no-transaction} {0003_c.sql transaction}]" {
		t.Errorf("plan steps %s", got)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
		t.Error("plan wrote something")
	}
}

// Eight processes started at once on an empty database: each file is
// applied exactly once, all exit 0, and waiters print who holds the lock.
func TestMigrateConcurrentProcesses(t *testing.T) {
	bin := buildMeshctl(t)
	db := pgtest.NewEmptyDB(t)
	files := map[string]string{"0000_slow.sql": "CREATE SCHEMA \"mesh\";\nSELECT pg_sleep(1.5);"}
	for i := 1; i <= 20; i++ {
		files[fmt.Sprintf("%04d_t.sql", i)] = fmt.Sprintf("CREATE TABLE t%d (id int PRIMARY KEY);\nINSERT INTO t%d VALUES (%d);", i, i, i)
	}
	dir := writeDir(t, files)
	const n = 8
	var wg sync.WaitGroup
	outs := make([]string, n)
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(bin, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--lock-wait", "2m")
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			err := cmd.Run()
			outs[i], codes[i] = buf.String(), cmd.ProcessState.ExitCode()
			if err != nil && codes[i] == 0 {
				codes[i] = -1
			}
		}(i)
	}
	wg.Wait()
	appliers, waiters := 0, 0
	for i := range outs {
		if codes[i] != 0 {
			t.Errorf("process %d exit %d:\n%s", i, codes[i], outs[i])
		}
		if strings.Contains(outs[i], "applied 21 files") {
			appliers++
		}
		if strings.Contains(outs[i], "waiting for the migration lock, held by pid") {
			waiters++
		}
	}
	if appliers != 1 {
		t.Errorf("%d processes applied the files, want exactly 1", appliers)
	}
	if waiters == 0 {
		t.Errorf("no waiter printed the lock holder:\n%s", strings.Join(outs, "\n---\n"))
	}
	var rows int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM mesh.__cmh_migrations").Scan(&rows); err != nil || rows != 21 {
		t.Errorf("tracking rows %d (%v), want 21", rows, err)
	}
	t.Logf("%d of %d processes waited and printed the holder", waiters, n-1)
}

// catalog is the schema as the catalogs describe it, for go-cmp.
func catalog(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema IN ('public', 'mesh')
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname IN ('public', 'mesh')
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace IN ('public'::regnamespace, 'mesh'::regnamespace)
UNION ALL
SELECT 'row ' || filename || ' ' || sha256 FROM mesh.__cmh_migrations
ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// kill -9 of the runner at random moments of a 50-file run: each rerun
// converges to the same catalog and tracking table as an undisturbed run.
func TestMigrateKill9Converges(t *testing.T) {
	bin := buildMeshctl(t)
	files := map[string]string{"0000_schema.sql": "CREATE SCHEMA \"mesh\";"}
	for i := 1; i < 50; i++ {
		files[fmt.Sprintf("%04d_f.sql", i)] = fmt.Sprintf(
			"CREATE TABLE mesh.t%d (id int PRIMARY KEY, v text NOT NULL DEFAULT 'x');\n"+
				"INSERT INTO mesh.t%d (id) SELECT g FROM generate_series(1, 200) g;\n"+
				"CREATE INDEX t%d_v ON mesh.t%d (v);\nSELECT pg_sleep(0.01);", i, i, i, i)
	}
	dir := writeDir(t, files)
	up := func(dsn string) *exec.Cmd {
		return exec.Command(bin, "--database-url", dsn, "migrate", "up", "--dir", dir, "--lock-wait", "1m")
	}
	ref := pgtest.NewEmptyDB(t)
	start := time.Now()
	if out, err := up(ref.URL).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	runTime := time.Since(start)
	want := catalog(t, ref.Pool)

	seed := time.Now().UnixNano()
	t.Logf("seed %d, undisturbed run %s", seed, runTime)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	var committed []int
	for i := 0; i < 20; i++ {
		db := pgtest.NewEmptyDB(t)
		cmd := up(db.URL)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rng.Int64N(int64(runTime)))
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		var before int
		if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations") {
			_ = db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM mesh.__cmh_migrations").Scan(&before)
		}
		committed = append(committed, before)
		if out, err := up(db.URL).CombinedOutput(); err != nil {
			t.Fatalf("kill %d (after %s, %d files committed): rerun failed: %v\n%s", i, delay, before, err, out)
		}
		if diff := cmp.Diff(want, catalog(t, db.Pool)); diff != "" {
			t.Fatalf("kill %d (after %s, %d files committed): catalog differs (-want +got):\n%s", i, delay, before, diff)
		}
	}
	t.Logf("files committed at each kill: %v", committed)
}

// Ctrl-C (SIGINT) in the middle of a run: exit 1 with one line saying
// which file was rolled back; what --json reports as applied is exactly
// what the tracking table holds; nothing of the interrupted file or after
// it remains; the lock is free.
func TestMigrateCtrlC(t *testing.T) {
	bin := buildMeshctl(t)
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	dir := writeDir(t, map[string]string{
		"0001_a.sql":    "CREATE TABLE a (x int);",
		"0002_slow.sql": "CREATE TABLE b (x int);\nSELECT pg_sleep(60);",
		"0003_c.sql":    "CREATE TABLE c (x int);",
	})
	cmd := exec.Command(bin, "--json", "--database-url", db.URL, "migrate", "up", "--dir", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	for sleeping := 0; sleeping == 0; {
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event = 'PgSleep'`).Scan(&sleeping); err != nil {
			t.Fatal(err)
		}
		select {
		case <-exited:
			t.Fatalf("meshctl exited before the slow file ran: %s%s", stdout.String(), stderr.String())
		default:
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute): // a safety net, not a timing assertion
		_ = cmd.Process.Kill()
		t.Fatal("meshctl did not stop on SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	// Progress lines first ("applied 0001_a.sql"), then the one error line.
	if !strings.HasPrefix(lastLine(stderr.String()), "meshctl: interrupted while applying 0002_slow.sql") {
		t.Errorf("stderr %q", stderr.String())
	}
	var out struct {
		Applied []struct{ Filename string } `json:"applied"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	var reported, tracked []string
	for _, a := range out.Applied {
		reported = append(reported, a.Filename)
	}
	rows, err := db.Pool.Query(ctx, "SELECT filename FROM mesh.__cmh_migrations ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	if tracked, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"0001_a.sql"}, reported); diff != "" {
		t.Errorf("reported as applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reported, tracked); diff != "" {
		t.Errorf("tracking table vs report (-report +table):\n%s", diff)
	}
	if pgtest.RelExists(t, db.Pool, "b") || pgtest.RelExists(t, db.Pool, "c") {
		t.Error("the interrupted file or a later one left something")
	}
	var free bool
	if err := db.Pool.QueryRow(ctx, "SELECT pg_try_advisory_lock($1) AND pg_advisory_unlock($1)", meshfmt.MigrationLockKey).Scan(&free); err != nil || !free {
		t.Errorf("the migration lock is not free after exit (%v)", err)
	}
}
