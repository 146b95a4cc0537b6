package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMigrateRepairCLI(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	dir := writeDir(t, map[string]string{"0001_a.sql": "CREATE TABLE a (id int);"})
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (id int);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--database-url", db.URL, "migrate", "repair", "accept", "--dir", dir}
	file := "0001_a.sql"
	hash := func() string {
		var h string
		if err := db.Pool.QueryRow(context.Background(), "SELECT sha256 FROM mesh.__cmh_migrations").Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hash()
	// Not a terminal, no --yes: refused, nothing written.
	code, _, stderr := runCLI(t, append(base, file)...)
	if code != ExitUsage || !strings.Contains(stderr, "--yes") || hash() != before {
		t.Errorf("without --yes: exit %d: %s", code, stderr)
	}
	code, stdout, _ := runCLI(t, append(base, "--dry-run", file)...)
	if code != 0 || !strings.HasPrefix(stdout, "would record sha256") || hash() != before {
		t.Errorf("--dry-run: exit %d: %s", code, stdout)
	}
	code, stdout, stderr = runCLI(t, append([]string{"--json"}, append(base, "--yes", "--reason", "newline", file)...)...)
	var res struct {
		Action, File, OldSHA256, NewSHA256 string
		DryRun                             bool `json:"dry_run"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Action != "accept" || res.DryRun || hash() == before {
		t.Fatalf("--yes --json: exit %d: %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "status", "--dir", dir, "--exit-code"); code != 0 {
		t.Errorf("status after accept: exit %d: %s", code, stderr)
	}
	// Wrong state: exit 2, one line.
	code, _, stderr = runCLI(t, append(base, "--yes", file)...)
	if code != ExitUsage || !strings.Contains(stderr, "has not changed") {
		t.Errorf("accept again: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "repair", "resolve", "--dir", dir, "0001_a.sql"); code != ExitUsage || !strings.Contains(stderr, "--applied") {
		t.Errorf("resolve without --applied/--not-applied: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "repair", "rename", "--dir", dir, "0001_a.sql"); code != ExitUsage || !strings.Contains(stderr, "OLD NEW") {
		t.Errorf("rename with one name: exit %d: %s", code, stderr)
	}
}
