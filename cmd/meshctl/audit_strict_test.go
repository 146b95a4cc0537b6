package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/audit"
)

// TestAuditVerifyStrict: a created_at edited by a microsecond (invisible to
// the v1 hash) is a precision warning, exit 0; with --strict it is
// tampering, exit 6.
func TestAuditVerifyStrict(t *testing.T) {
	db := auditDB(t)
	if _, err := db.Pool.Exec(context.Background(), `UPDATE mesh.audit_log SET created_at = created_at + interval '1 microsecond' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "audit", "verify", "--all")
	if code != ExitOK || !strings.Contains(stdout, "precision") || !strings.Contains(stdout, "clean (1 warning: --strict makes them tampering)") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	var out struct {
		Clean    bool
		Findings []audit.Finding
		Warnings []audit.Finding
		Meshes   []struct{ Status string }
	}
	code, stdout, _ = runCLI(t, "--database-url", db.URL, "--json", "audit", "verify", "--mesh", "one")
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if code != ExitOK || !out.Clean || len(out.Findings) != 0 || len(out.Warnings) != 1 ||
		out.Warnings[0].Class != audit.Precision || out.Warnings[0].RowID != 2 || out.Meshes[0].Status != "ok, warnings" {
		t.Fatalf("verify --json: exit %d %+v", code, out)
	}
	code, stdout, stderr = runCLI(t, "--database-url", db.URL, "audit", "verify", "--all", "--strict")
	if code != ExitTamper || !strings.Contains(stdout, "precision") || !strings.Contains(stdout, "TAMPERING") {
		t.Fatalf("verify --strict: exit %d\n%s%s", code, stdout, stderr)
	}
	out.Warnings, out.Findings = nil, nil
	code, stdout, _ = runCLI(t, "--database-url", db.URL, "--json", "audit", "verify", "--strict")
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if code != ExitTamper || out.Clean || len(out.Findings) != 1 || out.Findings[0].Class != audit.Precision || len(out.Warnings) != 0 {
		t.Fatalf("verify --json --strict: exit %d %+v", code, out)
	}
}
