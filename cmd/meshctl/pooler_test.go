package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// meshctl migrate up through PgBouncer: transaction pooling is refused
// with one line, exit 1 and nothing written; session pooling works.
func TestMigrateUpThroughPgBouncer(t *testing.T) {
	files := map[string]string{
		"0001_schema.sql": `CREATE SCHEMA "mesh"; CREATE TABLE mesh.a (id int);`,
		"0002_b.sql":      `CREATE TABLE mesh.b (id int);`,
	}
	first := writeDir(t, map[string]string{"0001_schema.sql": files["0001_schema.sql"]})
	dir := writeDir(t, files)
	for _, tc := range []struct {
		name    string
		mode    string
		history bool // 0001 applied directly first
		json    bool
		code    int
	}{
		{"transaction/empty", pgtest.PoolTransaction, false, false, ExitError},
		{"transaction/history", pgtest.PoolTransaction, true, false, ExitError},
		{"transaction/json", pgtest.PoolTransaction, true, true, ExitError},
		{"session/empty", pgtest.PoolSession, false, false, ExitOK},
		{"session/history", pgtest.PoolSession, true, false, ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := pgtest.NewEmptyDB(t)
			if tc.history {
				if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", first); code != 0 {
					t.Fatalf("direct up: exit %d: %s", code, stderr)
				}
			}
			dsn := pgtest.StartPgBouncer(t, db, tc.mode)
			var before []string
			if tc.history {
				before = catalog(t, db.Pool)
			}
			args := []string{"--database-url", dsn, "migrate", "up", "--dir", dir}
			if tc.json {
				args = append([]string{"--json"}, args...)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.code == ExitOK {
				if !pgtest.RelExists(t, db.Pool, "mesh.b") {
					t.Error("mesh.b was not created")
				}
				if code, _, stderr := runCLI(t, "--database-url", dsn, "migrate", "status", "--dir", dir, "--exit-code"); code != 0 {
					t.Errorf("status --exit-code after up: exit %d: %s", code, stderr)
				}
				return
			}
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			pass, _ := u.User.Password()
			assertOneLine(t, stderr, pass)
			if !strings.Contains(stderr, "transaction-mode pooler") || !strings.Contains(stderr, "session-mode pool") {
				t.Errorf("stderr does not say what is wrong and what to do: %q", stderr)
			}
			if tc.json {
				var out struct {
					Applied []any `json:"applied"`
					Error   struct {
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(stdout), &out); err != nil {
					t.Fatalf("--json stdout is not JSON: %v: %q", err, stdout)
				}
				if len(out.Applied) != 0 || !strings.Contains(out.Error.Message, "transaction-mode pooler") {
					t.Errorf("--json: applied %v, error %q", out.Applied, out.Error.Message)
				}
			} else if stdout != "" {
				t.Errorf("stdout: %q, want nothing", stdout)
			}
			if !tc.history {
				var schema bool
				if err := db.Pool.QueryRow(ctx, "SELECT to_regnamespace('mesh') IS NOT NULL").Scan(&schema); err != nil {
					t.Fatal(err)
				}
				if schema {
					t.Error("the refused run created schema mesh")
				}
				return
			}
			if diff := cmp.Diff(before, catalog(t, db.Pool)); diff != "" {
				t.Errorf("the refused run changed the database (-before +after):\n%s", diff)
			}
		})
	}
}
