package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// auditDB returns a database with two meshes ("one", slug "team"; "two",
// slug "dup"; "three", slug "dup") and a few appended audit rows each.
func auditDB(t *testing.T) *pgtest.DB {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	for _, q := range []string{
		`INSERT INTO public."user" (id) VALUES ('owner')`,
		`INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('one', 'One', 'team', 'owner'),
			('two', 'Two', 'dup', 'owner'), ('three', 'Three', 'dup', 'owner')`,
	} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for i, mesh := range []string{"one", "one", "one", "two", "two", "three"} {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, audit.Event{MeshID: mesh, EventType: "peer_joined",
				Payload: []byte(fmt.Sprintf(`{"pubkey":"%064x","restored":false}`, i))})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestAuditVerifyCLI(t *testing.T) {
	db := auditDB(t)
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "audit", "verify", "--all")
	if code != ExitOK || !strings.Contains(stdout, "6 rows in 3 meshes verified") || !strings.Contains(stdout, "clean") {
		t.Fatalf("verify --all: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "--database-url", db.URL, "--json", "audit", "verify", "--mesh", "team")
	var out struct {
		Clean  bool
		Rows   int64
		Meshes []struct {
			MeshID string `json:"mesh_id"`
			Rows   int64
			Status string
		}
		Findings []audit.Finding
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if code != ExitOK || !out.Clean || out.Rows != 3 || len(out.Meshes) != 1 || out.Meshes[0].MeshID != "one" || out.Meshes[0].Status != "ok" {
		t.Fatalf("verify --mesh team: exit %d %+v", code, out)
	}

	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--mesh", "dup"}, ExitUsage, `slug "dup" names 2 meshes (three, two): give the mesh id`},
		{[]string{"--mesh", "nope"}, ExitUsage, `no mesh has id or slug "nope"`},
		{[]string{"--mesh", "one", "--all"}, ExitUsage, "not both"},
		{[]string{"--checkpoint", "x.cp"}, ExitUsage, "--checkpoint needs --key"},
	} {
		code, _, stderr := runCLI(t, append([]string{"--database-url", db.URL, "audit", "verify"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.says) {
			t.Errorf("verify %v: exit %d, stderr %q; want %d saying %q", tt.args, code, stderr, tt.code, tt.says)
		}
		assertOneLine(t, stderr, "")
	}

	if _, err := db.Pool.Exec(context.Background(), `UPDATE mesh.audit_log SET event_type = 'peer_left' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "--database-url", db.URL, "--json", "audit", "verify")
	out.Findings = nil
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if code != ExitTamper || out.Clean || len(out.Findings) != 1 || out.Findings[0].Class != audit.ContentMismatch ||
		out.Findings[0].RowID != 2 || out.Findings[0].RowsVerified != 1 {
		t.Fatalf("tampered: exit %d %+v", code, out)
	}
	code, stdout, _ = runCLI(t, "--database-url", db.URL, "audit", "verify")
	if code != ExitTamper || !strings.Contains(stdout, "content_mismatch") || !strings.Contains(stdout, "TAMPERED") {
		t.Fatalf("tampered, human: exit %d\n%s", code, stdout)
	}
}

func TestAuditCheckpointCLI(t *testing.T) {
	db := auditDB(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ops")
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "audit", "keygen", "--out", prefix)
	if code != ExitOK {
		t.Fatalf("keygen: exit %d %s", code, stderr)
	}
	priv, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(prefix + ".key"); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
	}
	// PRIVATE+KEY+<name>+<hash>+<base64 key>: the key is everything after
	// the third '+' of the rest (base64 itself may hold '+').
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(priv)), "PRIVATE+KEY+"), "+", 3)
	if len(parts) != 3 || len(parts[2]) < 40 {
		t.Fatalf("unexpected private key format")
	}
	secret := parts[2]
	if strings.Contains(stdout, secret) {
		t.Fatal("keygen printed the private key")
	}
	if code, _, _ := runCLI(t, "audit", "keygen", "--out", prefix); code != ExitUsage {
		t.Errorf("keygen over an existing key: exit %d, want %d", code, ExitUsage)
	}

	cp := filepath.Join(dir, "audit.cp")
	code, stdout, stderr = runCLI(t, "--database-url", db.URL, "audit", "checkpoint", "--key", prefix+".key", "--out", cp, "--all")
	if code != ExitOK || !strings.Contains(stdout, "signed 3 mesh checkpoints of origin claudemesh.audit/") {
		t.Fatalf("checkpoint: exit %d\n%s%s", code, stdout, stderr)
	}
	verify := func() (int, string, string) {
		return runCLI(t, "--database-url", db.URL, "audit", "verify", "--checkpoint", cp, "--key", prefix+".pub")
	}
	if code, stdout, stderr := verify(); code != ExitOK {
		t.Fatalf("verify --checkpoint: exit %d\n%s%s", code, stdout, stderr)
	}
	// The private key is refused where the public one belongs, and not echoed.
	code, _, stderr = runCLI(t, "--database-url", db.URL, "audit", "verify", "--checkpoint", cp, "--key", prefix+".key")
	if code != ExitUsage {
		t.Errorf("verify --key private: exit %d, want %d", code, ExitUsage)
	}
	assertOneLine(t, stderr, secret)

	// Deleting the tail of mesh "one" is invisible to the chain alone...
	if _, err := db.Pool.Exec(context.Background(), `DELETE FROM mesh.audit_log WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, "--database-url", db.URL, "audit", "verify"); code != ExitOK {
		t.Fatalf("deleted tail without checkpoint: exit %d, want %d", code, ExitOK)
	}
	// ...but not to the checkpoint.
	code, stdout, _ = verify()
	if code != ExitTamper || !strings.Contains(stdout, "truncation") {
		t.Fatalf("deleted tail with checkpoint: exit %d\n%s", code, stdout)
	}
	// A tampered chain is not signed.
	if _, err := db.Pool.Exec(context.Background(), `UPDATE mesh.audit_log SET payload = '{}' WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "--database-url", db.URL, "audit", "checkpoint", "--key", prefix+".key", "--out", filepath.Join(dir, "new.cp"))
	if code != ExitTamper || !strings.Contains(stderr, "not signing") {
		t.Fatalf("checkpoint of a tampered chain: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.cp")); !os.IsNotExist(err) {
		t.Error("checkpoint of a tampered chain wrote a file")
	}
	// An altered checkpoint file is tampering too.
	data, _ := os.ReadFile(cp)
	if err := os.WriteFile(cp, []byte(strings.Replace(string(data), "/one\n3\n", "/one\n2\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = verify()
	if code != ExitTamper || !strings.Contains(stderr, "altered") {
		t.Fatalf("altered checkpoint: exit %d %q", code, stderr)
	}
}

func TestAuditVerifyNotAMeshDatabase(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "audit", "verify")
	if code != ExitError || stdout != "" || !strings.Contains(stderr, "is this a claudemesh database?") {
		t.Fatalf("empty database: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	assertOneLine(t, stderr, "pgtest-secret")
}
