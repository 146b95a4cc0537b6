package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

var namedCommand = regexp.MustCompile("`(meshctl migrate [^`]+)`")

// runAdvice runs a command a failure message names, as an operator would
// (with the database and folder of the test; --yes for repairs).
func runAdvice(t *testing.T, msg, want, dbURL, dir string) {
	t.Helper()
	var cmd []string
	for _, m := range namedCommand.FindAllStringSubmatch(msg, -1) {
		if strings.Contains(m[1], want) {
			cmd = strings.Fields(m[1])[1:]
			break
		}
	}
	if cmd == nil {
		t.Fatalf("the message names no %q command: %s", want, msg)
	}
	verbs := map[string]bool{"migrate": true, "up": true, "repair": true, "accept": true, "forget": true, "resolve": true, "rename": true}
	k := 0
	for k < len(cmd) && verbs[cmd[k]] {
		k++
	}
	extra := []string{"--dir", dir}
	if slices.Contains(cmd, "repair") {
		extra = append(extra, "--yes")
	}
	args := append([]string{"--database-url", dbURL}, append(append(append([]string{}, cmd[:k]...), extra...), cmd[k:]...)...)
	if code, stdout, stderr := runCLI(t, args...); code != 0 {
		t.Fatalf("the named command %v: exit %d: %s%s", args, code, stdout, stderr)
	}
}

// Every refusal and failure of up names a command that works from there.
func TestFailureMessagesNameACommandThatWorks(t *testing.T) {
	ctx := context.Background()
	t.Run("no-transaction file failed on data", func(t *testing.T) {
		db := pgtest.NewEmptyDB(t)
		if _, err := db.Pool.Exec(ctx, "CREATE TABLE src (v int); INSERT INTO src VALUES (1), (0)"); err != nil {
			t.Fatal(err)
		}
		dir := writeDir(t, map[string]string{"0001_n.sql": "-- meshctl:no-transaction\nCREATE TABLE x (v int);\nINSERT INTO x SELECT 1 / v FROM src;\n"})
		code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
		if code != ExitError {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, err := db.Pool.Exec(ctx, "DELETE FROM src WHERE v = 0"); err != nil {
			t.Fatal(err)
		}
		// Without a flag, up refuses (exit 4) and says what to do too.
		code, _, stderr2 := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
		if code != ExitDrift || !strings.Contains(stderr2, "repair resolve --applied 0001_n.sql") {
			t.Errorf("up after the failure: exit %d: %s", code, stderr2)
		}
		runAdvice(t, stderr, "up --resume", db.URL, dir)
	})
	t.Run("resume refused: the session cannot be re-created", func(t *testing.T) {
		db := pgtest.NewEmptyDB(t)
		dir := writeDir(t, map[string]string{"0001_n.sql": "-- meshctl:no-transaction\nSELECT set_config('search_path', 'public', false);\nINSERT INTO gate VALUES (1);\n"})
		if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir); code != ExitError {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, err := db.Pool.Exec(ctx, "CREATE TABLE gate (x int)"); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--resume")
		if code != ExitDrift || !strings.Contains(stderr, "0001_n.sql:2: cannot resume") {
			t.Fatalf("up --resume: exit %d: %s", code, stderr)
		}
		runAdvice(t, stderr, "up --retry-file", db.URL, dir)
	})
	t.Run("completed by hand", func(t *testing.T) {
		db := pgtest.NewEmptyDB(t)
		dir := writeDir(t, map[string]string{"0001_n.sql": "-- meshctl:no-transaction\nCREATE TABLE y (v int);\nSELECT 1 / 0;\n"})
		_, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
		runAdvice(t, stderr, "repair resolve --applied", db.URL, dir)
		if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "status", "--dir", dir, "--exit-code"); code != 0 {
			t.Errorf("status after resolve: exit %d: %s", code, stderr)
		}
	})
	t.Run("strict: changed and missing", func(t *testing.T) {
		db := pgtest.NewEmptyDB(t)
		dir := writeDir(t, map[string]string{"0001_a.sql": "CREATE TABLE a (id int);", "0002_b.sql": "CREATE TABLE b (id int);"})
		if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir); code != 0 {
			t.Fatal(stderr)
		}
		if err := os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (id bigint);"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--strict")
		if code != ExitDrift {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		runAdvice(t, stderr, "repair accept", db.URL, dir)
		if err := os.Remove(filepath.Join(dir, "0002_b.sql")); err != nil {
			t.Fatal(err)
		}
		code, _, stderr = runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--strict")
		if code != ExitDrift {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		runAdvice(t, stderr, "repair forget", db.URL, dir)
		if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--strict"); code != 0 {
			t.Errorf("up --strict after the repairs: exit %d: %s", code, stderr)
		}
	})
	t.Run("transactional file", func(t *testing.T) {
		db := pgtest.NewEmptyDB(t)
		dir := writeDir(t, map[string]string{"0001_a.sql": "CREATE TABLE a (id int REFERENCES nowhere);"})
		_, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir)
		if err := os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (id int);"), 0o644); err != nil {
			t.Fatal(err)
		}
		runAdvice(t, stderr, "migrate up", db.URL, dir)
	})
}
