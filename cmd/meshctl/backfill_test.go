package main

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/broker"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// seedBackfill writes meshes, members and n topic messages, a tenth of
// them mentioning other members; #general and owner rows are missing. The
// messages are from 2025, before the notifications migration was applied.
func seedBackfill(t *testing.T, db *pgtest.DB, n int) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `
		INSERT INTO public."user" (id) SELECT 'u' || i FROM generate_series(1, 10) i;
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) SELECT 'm' || i, 'mesh' || i, 's' || i, 'u' || i FROM generate_series(1, 10) i;
		INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name)
			SELECT 'p' || m || '_' || i, 'm' || m, 'x', repeat('a', 64), 'user' || i FROM generate_series(1, 10) m, generate_series(1, 20) i;
		INSERT INTO mesh.topic (id, mesh_id, name) SELECT 't' || i, 'm' || i, 'dev' FROM generate_series(1, 10) i;`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Pool.Exec(context.Background(), `
		INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, body_version, created_at)
			SELECT lpad(i::text, 8, '0'), 't' || (1 + i % 10), 'p' || (1 + i % 10) || '_1', '',
			       encode(convert_to(CASE WHEN i % 10 = 0 THEN 'ping @user' || (2 + i % 19) || ' and @USER3' ELSE 'plain text ' || i END, 'UTF8'), 'base64'), 1,
			       '2025-01-01'::timestamp + i * interval '1 second'
			FROM generate_series(1, $1) i;`, n)
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackfillCLI(t *testing.T) {
	db := pgtest.NewDB(t)
	seedBackfill(t, db, 500)
	dsn := []string{"--database-url", db.URL}

	code, stdout, stderr := runCLI(t, append(dsn, "backfill", "list")...)
	if code != 0 || strings.Count(stdout, "never-run") != 3 {
		t.Errorf("list: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, append(dsn, "backfill", "run", "--dry-run", "--all")...)
	if code != 0 || !strings.Contains(stdout, "notifications: dry run: would write") || !strings.Contains(stdout, "would: ") {
		t.Errorf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.meshctl_backfill") {
		t.Error("the dry run stored state")
	}

	code, stdout, stderr = runCLI(t, append([]string{"--json"}, append(dsn, "backfill", "run", "--all", "--batch-size", "100")...)...)
	if code != 0 {
		t.Fatalf("run --all: exit %d: %s", code, stderr)
	}
	// JSON lines: one per batch, then the summary.
	var batches int
	var summary struct {
		Summary []struct {
			Job     string
			Done    bool
			Written int64
			Scanned int64
		}
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `{"summary"`) {
			if err := json.Unmarshal([]byte(line), &summary); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["event"] != "batch" {
			t.Errorf("not a batch line: %q (%v)", line, err)
		}
		batches++
	}
	if len(summary.Summary) != 3 || batches < 7 {
		t.Fatalf("summary %+v after %d batch lines", summary, batches)
	}
	for _, s := range summary.Summary {
		if !s.Done || s.Written == 0 {
			t.Errorf("%s: %+v", s.Job, s)
		}
	}
	code, stdout, _ = runCLI(t, append([]string{"--json"}, append(dsn, "backfill", "status", "notifications")...)...)
	var st []struct{ Name, Status string }
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || len(st) != 1 || st[0].Status != "done" {
		t.Errorf("status: exit %d %v %q", code, err, stdout)
	}
	// A second run finds everything done and writes nothing.
	code, stdout, _ = runCLI(t, append(dsn, "backfill", "run", "--all")...)
	if code != 0 || strings.Count(stdout, "written 0") != 3 {
		t.Errorf("second run: exit %d\n%s", code, stdout)
	}
	// Bad input: exit 2, one line.
	for _, args := range [][]string{
		{"backfill", "run", "nope"},
		{"backfill", "run"},
		{"backfill", "run", "--all", "general"},
		{"backfill", "run", "general", "--batch-size", "0"},
		{"backfill", "run", "general", "--max-rate", "-1"},
		{"backfill", "status", "nope"},
	} {
		code, _, stderr := runCLI(t, append(dsn, args...)...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want 2 (%q)", args, code, stderr)
		}
		assertOneLine(t, stderr, "")
	}
	empty := pgtest.NewEmptyDB(t)
	code, _, stderr = runCLI(t, "--database-url", empty.URL, "backfill", "run", "general")
	if code != ExitUsage || !strings.Contains(stderr, "meshctl migrate up") {
		t.Errorf("no schema: exit %d %q", code, stderr)
	}
}

// kill -9 of meshctl at random moments: each rerun continues from the
// stored cursor; in the end the rows equal a one-shot run's, the stored
// counters equal the table sizes (cursor and rows committed together),
// and a further run writes nothing.
func TestBackfillKill9(t *testing.T) {
	bin := buildMeshctl(t)
	db := pgtest.NewDB(t)
	seedBackfill(t, db, 20000)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 9))
	killed := 0
	for i := 0; i < 20; i++ {
		cmd := exec.Command(bin, "--database-url", db.URL, "backfill", "run", "--batch-size", "100", "--max-rate", "3000", "notifications")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		}
	}
	out, err := exec.Command(bin, "--json", "--database-url", db.URL, "backfill", "run", "notifications").Output()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	t.Logf("%d of 20 runs were killed mid-way", killed)
	if killed < 10 {
		t.Errorf("only %d of 20 runs were killed before they finished: the test did not test resumption", killed)
	}
	var scanned, written, messages, notes int64
	if err := db.Pool.QueryRow(ctx, `SELECT scanned, written, (SELECT count(*) FROM mesh.topic_message), (SELECT count(*) FROM mesh.notification)
		FROM mesh.meshctl_backfill WHERE name = 'notifications'`).Scan(&scanned, &written, &messages, &notes); err != nil {
		t.Fatal(err)
	}
	if scanned != messages || written != notes {
		t.Errorf("stored counters scanned=%d written=%d, tables hold %d messages, %d notifications", scanned, written, messages, notes)
	}
	pairs := func() []string {
		rows, err := db.Pool.Query(ctx, `SELECT message_id || ' ' || recipient_member_id FROM mesh.notification ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	afterKills := pairs()
	if _, err := db.Pool.Exec(ctx, `DELETE FROM mesh.notification`); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--database-url", db.URL, "backfill", "run", "--restart", "notifications").CombinedOutput(); err != nil {
		t.Fatalf("one-shot run: %v\n%s", err, out)
	}
	if diff := cmp.Diff(pairs(), afterKills); diff != "" {
		t.Errorf("killed-and-resumed vs one-shot (-one-shot +resumed):\n%s", diff)
	}
	out, err = exec.Command(bin, "--database-url", db.URL, "backfill", "run", "--restart", "notifications").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "written 0") {
		t.Errorf("rerun: %v\n%s", err, out)
	}
}

// The notifications cutoff on the command line: by default the
// notifications migration's applied_at; --until overrides it; without
// either, exit 2 naming --until.
func TestBackfillCLIUntil(t *testing.T) {
	db := pgtest.NewDB(t)
	seedBackfill(t, db, 50)
	ctx := context.Background()
	// A message from now, which the broker handled (no notification).
	if _, err := db.Pool.Exec(ctx, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, created_at)
		VALUES ('late', 't1', 'p1_1', '', encode(convert_to('@user2', 'UTF8'), 'base64'), now() AT TIME ZONE 'UTC')`); err != nil {
		t.Fatal(err)
	}
	dsn := []string{"--database-url", db.URL}
	late := func() string {
		var n string
		if err := db.Pool.QueryRow(ctx, `SELECT count(*)::text FROM mesh.notification WHERE message_id = 'late'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	code, stdout, stderr := runCLI(t, append(dsn, "backfill", "run", "notifications")...)
	if code != 0 || !strings.Contains(stdout, "1 after_cutoff") || !strings.Contains(stdout, "messages before 20") || late() != "0" {
		t.Errorf("default cutoff: exit %d, late notified %s\n%s%s", code, late(), stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, append(dsn, "backfill", "run", "--restart", "--until", "2099-01-01T00:00:00Z", "notifications")...)
	if code != 0 || !strings.Contains(stdout, "messages before 2099-01-01T00:00:00Z") || late() != "1" {
		t.Errorf("--until: exit %d, late notified %s\n%s%s", code, late(), stdout, stderr)
	}
	code, _, stderr = runCLI(t, append(dsn, "backfill", "run", "--until", "yesterday", "notifications")...)
	if code != ExitUsage || !strings.Contains(stderr, "RFC 3339") {
		t.Errorf("bad --until: exit %d %q", code, stderr)
	}
	assertOneLine(t, stderr, "")
	if _, err := db.Pool.Exec(ctx, `DELETE FROM mesh.__cmh_migrations WHERE filename = '0004_notifications.sql'`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, append(dsn, "backfill", "run", "--restart", "notifications")...)
	if code != ExitUsage || !strings.Contains(stderr, "pass --until TIMESTAMP") {
		t.Errorf("no cutoff: exit %d %q", code, stderr)
	}
	assertOneLine(t, stderr, "")
}

// --max-message-bytes follows the broker's MAX_MESSAGE_BYTES, whose
// default is the flag's.
func TestBackfillCLIMaxMessageBytes(t *testing.T) {
	if backfill.DefaultMaxBody != broker.DefaultMaxMessageBytes {
		t.Errorf("backfill.DefaultMaxBody %d, broker.DefaultMaxMessageBytes %d", backfill.DefaultMaxBody, broker.DefaultMaxMessageBytes)
	}
	db := pgtest.NewDB(t)
	seedBackfill(t, db, 50)
	code, stdout, stderr := runCLI(t, "--database-url", db.URL, "backfill", "run", "--max-message-bytes", "12", "notifications")
	// "plain text N" (12 or 13 bytes) and every mention are over 12 bytes
	// but "plain text 1".."plain text 9".
	if code != 0 || !strings.Contains(stdout, "41 oversized") || !strings.Contains(stdout, "written 0") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
