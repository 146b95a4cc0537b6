package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestRowBar(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name        string
		total       int64
		width       int
		first, rows int64         // first rows seen, then rows after
		after       time.Duration // after the first
		want        string        // the last draw
	}{
		{"estimate known", 2_000_000, 0, 100_000, 700_000, 2 * time.Second,
			"\rverifying: 700,000 / ~2,000,000 rows  35%  300,000 rows/s  ETA 4s\x1b[K"},
		{"no estimate", -1, 0, 1, 1_234_568, time.Second,
			"\rverifying: 1,234,568 rows  1,234,567 rows/s\x1b[K"},
		{"past a stale estimate: no percentage, no ETA", 1000, 0, 500, 1500, time.Second,
			"\rverifying: 1,500 rows  1,000 rows/s\x1b[K"},
		{"at the estimate", 1000, 0, 1, 1000, time.Second,
			"\rverifying: 1,000 / ~1,000 rows  100%  999 rows/s\x1b[K"},
		{"too early for a rate", 1000, 0, 10, 100, rateAfter - 1,
			"\rverifying: 100 / ~1,000 rows  10%\x1b[K"},
		{"nothing yet: no rate, however long", 1000, 0, 0, 0, time.Minute,
			"\rverifying: 0 / ~1,000 rows  0%\x1b[K"},
		{"narrow terminal: cut, never wrapped", 2_000_000, 30, 100_000, 700_000, 2 * time.Second,
			"\rverifying: 700,000 / ~2,000,0\x1b[K"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			b := newRowBar(&buf, "verifying", tt.total, tt.width)
			now := start
			b.now = func() time.Time { return now }
			b.update(tt.first)
			now = start.Add(tt.after)
			buf.Reset()
			b.update(tt.rows)
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			buf.Reset()
			b.clear()
			b.clear() // once is enough
			if got := buf.String(); got != "\r\x1b[K" {
				t.Errorf("clear wrote %q", got)
			}
		})
	}
	var buf bytes.Buffer
	newRowBar(&buf, "verifying", 10, 0).clear()
	if buf.Len() != 0 {
		t.Errorf("clearing a bar never drawn wrote %q", buf.String())
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// runCLIFiles runs meshctl with stderr on a real file (not a terminal), as
// when an operator redirects it or CI captures it.
func runCLIFiles(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	code = run(context.Background(), append([]string{"meshctl"}, args...), &out, f)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), string(b)
}

// TestNoProgressOffTerminal: with stderr a file, verify, checkpoint and
// migrate up write no progress bytes (no bar, no [n/N]), and --json
// stdout stays one JSON document.
func TestNoProgressOffTerminal(t *testing.T) {
	db := auditDB(t)
	key := filepath.Join(t.TempDir(), "ops")
	if code, _, stderr := runCLI(t, "--database-url", db.URL, "audit", "keygen", "--out", key); code != ExitOK {
		t.Fatalf("keygen: exit %d %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--json", "audit", "verify", "--all"},
		{"audit", "verify", "--all"},
		{"--json", "audit", "verify", "--mesh", "team"},
		{"--json", "audit", "checkpoint", "--key", key + ".key", "--out", key + ".cp"},
		{"--no-progress", "audit", "verify"},
	} {
		code, stdout, stderr := runCLIFiles(t, append([]string{"--database-url", db.URL}, args...)...)
		if code != ExitOK || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q (want nothing)", args, code, stderr)
		}
		if args[0] == "--json" {
			var v map[string]any
			dec := json.NewDecoder(strings.NewReader(stdout))
			if err := dec.Decode(&v); err != nil || dec.More() {
				t.Errorf("%v: stdout is not one JSON document (%v):\n%s", args, err, stdout)
			}
		}
	}

	empty := pgtest.NewEmptyDB(t)
	code, stdout, stderr := runCLIFiles(t, "--database-url", empty.URL, "--json", "migrate", "up")
	if code != ExitOK {
		t.Fatalf("migrate up: exit %d %s", code, stderr)
	}
	var up struct{ Applied []struct{ Filename string } }
	if err := json.Unmarshal([]byte(stdout), &up); err != nil || len(up.Applied) < 2 {
		t.Fatalf("migrate up --json: %v, %d applied\n%s", err, len(up.Applied), stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "applied ") {
			t.Errorf("migrate up stderr off a terminal: %q, want plain \"applied FILE\" lines", line)
		}
	}
	if n := strings.Count(stderr, "applied "); n != len(up.Applied) {
		t.Errorf("%d applied lines for %d files:\n%s", n, len(up.Applied), stderr)
	}
}
