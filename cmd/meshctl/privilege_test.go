package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// connectOnly makes a role that may log in to db and nothing else.
func connectOnly(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	ctx := context.Background()
	role := "connectonly_" + db.Name
	if _, err := db.Pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD 'pw-s3cret-7'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Pool.Exec(context.Background(), "DROP OWNED BY "+pgx.Identifier{role}.Sanitize())
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	u, _ := url.Parse(db.URL)
	u.User = url.UserPassword(role, "pw-s3cret-7")
	return u.String()
}

// A role that may only connect is told exactly which grants each read
// needs; nothing advises more than reading needs.
func TestConnectOnlyRoleIsToldTheGrant(t *testing.T) {
	db := pgtest.NewDB(t)
	dsn := connectOnly(t, db)
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"audit", "verify", "--all"}, []string{"GRANT USAGE ON SCHEMA mesh", "GRANT SELECT ON mesh.mesh, mesh.audit_log"}},
		{[]string{"backfill", "status"}, []string{"GRANT USAGE ON SCHEMA mesh TO"}},
		{[]string{"backfill", "run", "general"}, []string{"GRANT USAGE ON SCHEMA mesh"}},
	} {
		for _, asJSON := range []bool{false, true} {
			args := append([]string{"--database-url", dsn}, tt.args...)
			if asJSON {
				args = append([]string{"--json"}, args...)
			}
			code, _, stderr := runCLI(t, args...)
			if code != ExitError {
				t.Errorf("%v: exit %d, want %d (%q)", args, code, ExitError, stderr)
			}
			assertOneLine(t, stderr, "pw-s3cret-7")
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%v: %q does not say %q", args, stderr, w)
				}
			}
			if strings.Contains(stderr, "GRANT CREATE") || strings.Contains(stderr, "grant it CREATE") {
				t.Errorf("%v: a read advises CREATE: %q", args, stderr)
			}
		}
	}
}

// db ping reads the tracking table the operator names (--table), through
// package migrate, not a name of its own.
func TestPingTrackingTable(t *testing.T) {
	db := pgtest.NewDB(t)
	if _, err := db.Pool.Exec(context.Background(), `CREATE SCHEMA ops; CREATE TABLE ops.migrations (filename text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamp NOT NULL DEFAULT now());
		INSERT INTO ops.migrations (filename, sha256) VALUES ('a.sql', 'x'), ('b.sql', 'y')`); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]string{"": `"applied_migrations": 5`, "ops.migrations": `"applied_migrations": 2`, "ops.none": `"tracking_table": false`} {
		args := []string{"--json", "--database-url", db.URL, "db", "ping"}
		if table != "" {
			args = append(args, "--table", table)
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("--table %q: exit %d, want %s\n%s%s", table, code, want, stdout, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "db", "ping", "--table", "nodot"); code != ExitUsage {
		t.Errorf("--table nodot: exit %d %q", code, stderr)
	}
}
