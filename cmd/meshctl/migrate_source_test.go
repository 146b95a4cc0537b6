package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/migrate"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestMigrateNew(t *testing.T) {
	dir := writeDir(t, map[string]string{"000_init.sql": "SELECT 1;", "009_b.sql": "SELECT 2;", "README.md": "x"})
	code, stdout, stderr := runCLI(t, "migrate", "new", "add_index", "--dir", dir)
	if code != 0 || !strings.Contains(stdout, filepath.Join(dir, "010_add_index.sql")) {
		t.Fatalf("new: exit %d %q %q; want 010_add_index.sql (padded like the folder)", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "--json", "migrate", "new", "--no-transaction", "--dir", dir, "build_index")
	var created migrate.Created
	if err := json.Unmarshal([]byte(stdout), &created); err != nil || code != 0 || created.Filename != "011_build_index.sql" || !created.NoTransaction {
		t.Fatalf("new --no-transaction: exit %d, %+v, %v", code, created, err)
	}
	body, _ := os.ReadFile(created.Path)
	if !strings.HasPrefix(string(body), migrate.NoTransactionMarker+"\n") {
		t.Errorf("no-transaction file starts %q", body)
	}
	src, err := migrate.LoadSource(os.DirFS(dir))
	if err != nil || !src.Files[len(src.Files)-1].NoTransaction || src.Files[len(src.Files)-1].Name != "011_build_index.sql" {
		t.Errorf("the new file is not the last, marked file of the folder: %v", err)
	}
	before := dirNames(t, dir)
	// Bad input: one line, exit 2, nothing written.
	if err := os.Mkdir(filepath.Join(dir, "012_taken.sql"), 0o755); err != nil {
		t.Fatal(err)
	}
	before = append(before, "012_taken.sql")
	sort.Strings(before)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"009_again"}, "version 009 is already used by 009_b.sql"},
		{[]string{"012_taken"}, "already exists"},
		{[]string{"bad name"}, "whitespace"},
		{[]string{"../escape"}, "no / or"},
		{[]string{}, "exactly one NAME"},
		{[]string{"a", "b"}, "exactly one NAME"},
	} {
		code, _, stderr := runCLI(t, append([]string{"migrate", "new", "--dir", dir}, tt.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, tt.msg) {
			t.Errorf("new %q: exit %d %q; want %d and %q", tt.args, code, stderr, ExitUsage, tt.msg)
		}
		assertOneLine(t, stderr, "")
	}
	if diff := cmp.Diff(before, dirNames(t, dir)); diff != "" {
		t.Errorf("refused commands changed the folder (-before +after):\n%s", diff)
	}
	empty := t.TempDir()
	if code, stdout, _ := runCLI(t, "migrate", "new", "first", "--dir", empty); code != 0 || !strings.Contains(stdout, "0001_first.sql") {
		t.Errorf("new in an empty folder: exit %d %q, want 0001_first.sql", code, stdout)
	}
}

// Concurrent `new` commands never leave two files with one version.
func TestMigrateNewConcurrent(t *testing.T) {
	dir := writeDir(t, map[string]string{"0001_a.sql": "SELECT 1;"})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = migrate.CreateFile(dir, fmt.Sprintf("n%d", i), false)
		}()
	}
	wg.Wait()
	seen := map[string]string{}
	for _, n := range dirNames(t, dir) {
		v := n[:4]
		if other, dup := seen[v]; dup {
			t.Errorf("version %s used by %s and %s", v, other, n)
		}
		seen[v] = n
	}
	if len(seen) < 2 {
		t.Errorf("no concurrent new succeeded: %v", seen)
	}
}

func TestMigratePlanSQL(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	files := map[string]string{"0001_a.sql": "CREATE TABLE a (x int);"}
	dir := writeDir(t, files)
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	more := map[string]string{
		"0002_b.sql": "-- two tables\nCREATE TABLE b (x int);\n\n  CREATE TABLE c (\n    x int -- the key\n  );\n",
		"0003_idx.sql": migrate.NoTransactionMarker + "\nCREATE INDEX CONCURRENTLY b_x ON b (x);\n" +
			"CREATE RULE r AS ON INSERT TO b DO ALSO (INSERT INTO a VALUES (NEW.x); INSERT INTO c VALUES (NEW.x));\n",
	}
	for n, b := range more {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "migrate", "plan", "--sql", "--dir", dir)
	if code != 0 {
		t.Fatalf("plan --sql: exit %d %s", code, stderr)
	}
	want := "-- 0002_b.sql: transaction: sent as one piece; its statements and its tracking row commit together or not at all\n" +
		"-- 0002_b.sql:2:1\nCREATE TABLE b (x int);\n" +
		"-- 0002_b.sql:4:3\nCREATE TABLE c (\n    x int -- the key\n  );\n\n" +
		"-- 0003_idx.sql: no-transaction: each statement runs and commits on its own\n" +
		"-- 0003_idx.sql:2:1\nCREATE INDEX CONCURRENTLY b_x ON b (x);\n" +
		"-- 0003_idx.sql:3:1\nCREATE RULE r AS ON INSERT TO b DO ALSO (INSERT INTO a VALUES (NEW.x); INSERT INTO c VALUES (NEW.x));\n"
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("plan --sql (-want +got):\n%s", diff)
	}
	code, stdout, _ = runCLI(t, "--json", "--database-url", db.URL, "migrate", "plan", "--sql", "--dir", dir)
	var out struct {
		Steps []migrate.Step             `json:"steps"`
		SQL   []migrate.PlannedStatement `json:"sql"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 || len(out.SQL) != 4 || out.SQL[3].Mode != "no-transaction" || out.SQL[1].Line != 4 {
		t.Errorf("--json plan --sql: exit %d %v %+v", code, err, out.SQL)
	}
	// Sent as printed, the statements do what up does.
	fresh := pgtest.NewEmptyDB(t)
	for _, st := range append([]migrate.PlannedStatement{{SQL: files["0001_a.sql"]}}, out.SQL...) {
		if _, err := fresh.Pool.Exec(t.Context(), st.SQL); err != nil {
			t.Fatalf("%s:%d: %v", st.File, st.Line, err)
		}
	}
	if pgtest.RelExists(t, db.Pool, "b") {
		t.Error("plan --sql wrote something")
	}
}

func TestMigrateRenamedAndForeignCLI(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	dir := writeDir(t, map[string]string{"0001_log.sql": "CREATE TABLE log (x int);", "0002_seed.sql": "INSERT INTO log VALUES (1);"})
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	if err := os.Rename(filepath.Join(dir, "0002_seed.sql"), filepath.Join(dir, "0002_seed-log.sql")); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "--database-url", db.URL, "migrate", "status", "--dir", dir, "--exit-code")
	if code != ExitDrift || !strings.Contains(stdout, "renamed") || !strings.Contains(stdout, "was 0002_seed.sql") || strings.Contains(stdout, "missing-file") {
		t.Errorf("status after a rename: exit %d, want %d\n%s", code, ExitDrift, stdout)
	}
	code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
	if code != ExitDrift || !strings.Contains(stderr, "meshctl migrate repair rename 0002_seed.sql 0002_seed-log.sql") {
		t.Errorf("up after a rename: exit %d %q; want %d naming the repair command", code, stderr, ExitDrift)
	}
	assertOneLine(t, stderr, "")
	var n int
	if err := db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM log").Scan(&n); err != nil || n != 1 {
		t.Errorf("log rows %d (%v): the renamed file ran again", n, err)
	}
	// Without --dir the embedded folder meets this database's history:
	// another folder's, refused with the way out.
	for _, verb := range []string{"up", "status", "plan"} {
		code, _, stderr = runCLI(t, "--database-url", db.URL, "migrate", verb)
		if code != ExitUsage || !strings.Contains(stderr, "another migration folder") || !strings.Contains(stderr, "pass --dir") {
			t.Errorf("%s without --dir: exit %d %q; want %d and pass --dir", verb, code, stderr, ExitUsage)
		}
	}
	if pgtest.RelExists(t, db.Pool, "mesh.peer") || pgtest.RelExists(t, db.Pool, "mesh.mesh") {
		t.Error("the embedded folder was applied to a foreign history")
	}
}
