package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// fakeBroker answers /health/ready with bodies[i] for the i-th request
// (the last repeated), 200 for status "ready" and 503 otherwise.
func fakeBroker(t *testing.T, bodies ...map[string]any) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bodies[min(int(n.Add(1))-1, len(bodies)-1)]
		if b["status"] != "ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(b)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func readyBody() map[string]any {
	return map[string]any{"status": "ready", "version": "1.2.0", "commit": "0123456789abcdef0123456789abcdef01234567",
		"schema": map[string]any{"applied": "0004_notifications.sql"}}
}

// Every class exits with its own code from exit.go's table; one line per
// attempt on stderr; --json prints the summary with the code.
func TestGateReadyExitCodes(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	fast := []string{"--timeout", "300ms", "--interval", "20ms"}
	cases := []struct {
		name string
		url  string
		body map[string]any
		args []string
		code int
	}{
		{"ready", "", readyBody(), nil, ExitOK},
		{"refused", closed, nil, nil, ExitGateRefused},
		{"dns", "http://broker.invalid:7900", nil, nil, ExitGateDNS},
		{"db down", "", map[string]any{"status": "not_ready", "reason": "database unreachable"}, nil, ExitGateDBDown},
		{"draining", "", map[string]any{"status": "not_ready", "reason": "draining"}, nil, ExitGateDraining},
		{"starting", "", map[string]any{"status": "not_ready", "reason": "startup migration not finished"}, nil, ExitGateNotReady},
		{"migration missing", "", readyBody(), []string{"--expect-migration", "migrations/0005_next.sql"}, ExitGateMigration},
		{"version", "", readyBody(), []string{"--expect-version", "fedcba98765"}, ExitGateVersion},
		{"dirty", "", map[string]any{"status": "ready", "schema": map[string]any{"dirty": true}}, []string{"--expect-schema-clean"}, ExitGateSchemaDirty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if u == "" {
				u = fakeBroker(t, tc.body).URL
			}
			args := append(append([]string{"--json", "gate", "ready", "--url", u, "--successes", "2"}, fast...), tc.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr)
			}
			var sum struct {
				Ready     bool   `json:"ready"`
				Attempts  int    `json:"attempts"`
				LastClass string `json:"last_class"`
				Exit      int    `json:"exit"`
			}
			if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
				t.Fatalf("stdout is not the summary: %v: %s", err, stdout)
			}
			if sum.Exit != tc.code || sum.Ready != (tc.code == 0) || sum.Attempts < 2 {
				t.Errorf("summary %+v", sum)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			attempts := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "attempt ") {
					attempts++
				}
			}
			if attempts != sum.Attempts {
				t.Errorf("%d attempt lines for %d attempts: %s", attempts, sum.Attempts, stderr)
			}
			if tc.code != 0 && !strings.HasPrefix(lines[len(lines)-1], "meshctl: gate ") {
				t.Errorf("last stderr line %q", lines[len(lines)-1])
			}
		})
	}
}

func TestGateBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"gate", "ready"},
		{"gate", "ready", "--url", "broker:7900"},
		{"gate", "ready", "--url", "http://x/", "--successes", "0"},
		{"gate", "ready", "--url", "http://x/", "--timeout", "-1s"},
		{"gate", "migrations"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != ExitUsage || stdout != "" {
			t.Errorf("%v: exit %d stdout %q, want 2 and nothing", args, code, stdout)
		}
		assertOneLine(t, stderr, "")
	}
}

// gate migrations judges the tracking table of a real database.
func TestGateMigrations(t *testing.T) {
	db := pgtest.NewEmptyDB(t)
	dir := writeDir(t, map[string]string{
		"0001_a.sql": "CREATE TABLE a (id int);",
		"0002_b.sql": "CREATE TABLE b (id int);",
	})
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "migrate", "up", "--dir", dir, "--to", "0001_a.sql"); code != 0 {
		t.Fatalf("migrate up: %d %s", code, stderr)
	}
	gate := func(expect string) (int, map[string]any) {
		code, stdout, stderr := runCLI(t, "--database-url", db.URL, "--json", "gate", "migrations", "--dir", dir, "--expect", expect)
		var out map[string]any
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("%s: %v: %q %q", expect, err, stdout, stderr)
		}
		return code, out
	}
	if code, out := gate(filepath.Join("migrations", "0001_a.sql")); code != ExitOK || out["ready"] != true || out["state"] != "applied" {
		t.Errorf("applied file: exit %d %v", code, out)
	}
	if code, out := gate("0002_b.sql"); code != ExitGateMigration || out["state"] != "pending" || out["pending"] != 1.0 {
		t.Errorf("pending file: exit %d %v", code, out)
	}
	if code, out := gate("0009_nope.sql"); code != ExitGateMigration || out["ready"] != false {
		t.Errorf("unknown file: exit %d %v", code, out)
	}
	// An applied file edited afterwards: drift, whatever is expected.
	if err := os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (id bigint);"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := gate("0001_a.sql"); code != ExitDrift || out["class"] != "drift" {
		t.Errorf("changed file: exit %d %v", code, out)
	}
	// Human output: one line; the database password never appears.
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "gate", "migrations", "--dir", dir, "--expect", "0002_b.sql")
	if code != ExitGateMigration || stdout != "" {
		t.Errorf("exit %d stdout %q", code, stdout)
	}
	assertOneLine(t, stderr, "")
	// Unreachable database: an operational error, not a verdict.
	code, _, stderr = runCLI(t, "--database-url", "postgres://ops:s3cret@127.0.0.1:1/x?connect_timeout=2", "gate", "migrations", "--expect", "0001_a.sql")
	if code != ExitError {
		t.Errorf("unreachable database: exit %d", code)
	}
	assertOneLine(t, stderr, "s3cret")
}
