package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// opsDB is a mesh "my-team" (m1) with members, API keys (ids chosen so
// that prefixes collide and hold '%' and '_'), queued messages of every
// age, and a clean audit chain; plus a second mesh with a key whose id
// shares the prefix (a revoke must never leave its mesh).
func opsDB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t)
	mustExecSQL(t, db, `INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m1', 'Team', 'my-team', 'o'), ('m2', 'Other', 'other', 'o'), ('m3', 'Dup', 'dup', 'o'), ('m4', 'Dup', 'dup', 'o');
		INSERT INTO mesh.member (id, mesh_id, peer_pubkey, display_name, role) VALUES
			('a1', 'm1', repeat('a', 64), 'alice', 'admin'), ('b1', 'm1', repeat('b', 64), 'mallory', 'member'),
			('c1', 'm1', repeat('c', 64), 'twin', 'member'), ('c2', 'm1', repeat('d', 64), 'twin', 'member');
		INSERT INTO mesh.api_key (id, mesh_id, label, secret_hash, secret_prefix, capabilities) VALUES
			('key_aaa111', 'm1', 'ci', repeat('0', 64), 'cm_AAAAAAAA', '["send"]'),
			('key_aaa222', 'm1', 'bot', repeat('1', 64), 'cm_BBBBBBBB', '["read"]'),
			('key%x_9999', 'm1', 'odd', repeat('2', 64), 'cm_CCCCCCCC', '["admin"]'),
			('keyzzz0000', 'm2', 'other mesh', repeat('3', 64), 'cm_DDDDDDDD', '["send"]');
		INSERT INTO mesh.message_queue (id, mesh_id, sender_member_id, target_spec, nonce, ciphertext, created_at, delivered_at)
			SELECT 'q' || i, 'm1', 'a1', '*', '', '', (now() AT TIME ZONE 'UTC') - i * interval '1 day', CASE WHEN i % 5 = 0 THEN now() END
			FROM generate_series(1, 30) i;`)
	return db
}

func mustExecSQL(t *testing.T, db *pgtest.DB, sql string) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func queryOne(t *testing.T, db *pgtest.DB, sql string) string {
	t.Helper()
	var s string
	if err := db.Pool.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%v: %s", err, sql)
	}
	return s
}

func chainClean(t *testing.T, db *pgtest.DB) {
	t.Helper()
	conn, err := db.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	rep, err := audit.Verify(context.Background(), conn.Conn(), audit.VerifyOptions{})
	if err != nil || !rep.Clean() {
		t.Errorf("audit chain not clean after the verb: %v %+v", err, rep)
	}
}

func TestAPIKeyVerbs(t *testing.T) {
	db := opsDB(t)
	dsn := []string{"--database-url", db.URL}
	code, stdout, stderr := runCLI(t, append(dsn, "apikey", "list", "--mesh", "my-team")...)
	if code != 0 || !strings.Contains(stdout, "cm_AAAAAAAA") || strings.Contains(stdout, "0000000000") || strings.Contains(stdout, "keyzzz") {
		t.Errorf("list: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, tt := range []struct {
		ref, want string
		exit      int
	}{
		{"key_a", "not_found", ExitUsage},    // under 6 characters: not a prefix
		{"key_aa", "not_unique", ExitUsage},  // two keys of m1
		{"keyzzz", "not_found", ExitUsage},   // m2's key: never across meshes
		{"key%x_", "revoked", 0},             // '%' and '_' are literal
		{"key_a%", "not_found", ExitUsage},   // not a wildcard
		{"key___", "not_found", ExitUsage},   // '_' is not "any character"
		{"key_aaa111", "revoked", 0},         // a full id
		{"key_aaa111", "already revoked", 0}, // again: nothing changes
	} {
		before := queryOne(t, db, `SELECT count(*)::text FROM mesh.audit_log`)
		code, stdout, stderr := runCLI(t, append(dsn, "apikey", "revoke", "--mesh", "my-team", tt.ref, "--yes")...)
		if code != tt.exit || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("revoke %q: exit %d, want %d and %q\n%s%s", tt.ref, code, tt.exit, tt.want, stdout, stderr)
		}
		after := queryOne(t, db, `SELECT count(*)::text FROM mesh.audit_log`)
		if changed := tt.want == "revoked"; changed != (after != before) {
			t.Errorf("revoke %q: audit rows %s → %s", tt.ref, before, after)
		}
	}
	if got := queryOne(t, db, `SELECT string_agg(id, ',' ORDER BY id) FROM mesh.api_key WHERE revoked_at IS NOT NULL`); got != "key%x_9999,key_aaa111" {
		t.Errorf("revoked keys: %s", got)
	}
	if got := queryOne(t, db, `SELECT payload::text FROM mesh.audit_log WHERE event_type = 'apikey_revoked' ORDER BY id LIMIT 1`); got != `{"apiKeyId": "key%x_9999"}` {
		t.Errorf("audit payload %s", got)
	}
	// Dry run: says what, changes nothing; --json gives the result.
	code, stdout, _ = runCLI(t, append([]string{"--json"}, append(dsn, "apikey", "revoke", "--mesh", "m1", "key_aaa222", "--dry-run")...)...)
	var res struct {
		Result, ID string
		DryRun     bool `json:"dry_run"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil || res.Result != "revoked" || res.ID != "key_aaa222" || !res.DryRun {
		t.Errorf("dry run: exit %d %v %q", code, err, stdout)
	}
	if queryOne(t, db, `SELECT (revoked_at IS NULL)::text FROM mesh.api_key WHERE id = 'key_aaa222'`) != "true" {
		t.Error("the dry run revoked the key")
	}
	// No terminal, no --yes: refused, nothing changed.
	code, _, stderr = runCLI(t, append(dsn, "apikey", "revoke", "--mesh", "m1", "key_aaa222")...)
	if code != ExitUsage || !strings.Contains(stderr, "--yes") {
		t.Errorf("no --yes: exit %d %q", code, stderr)
	}
	// Ambiguous and missing meshes.
	for ref, want := range map[string]string{"dup": "names 2 meshes", "nope": "no mesh has id or slug"} {
		code, _, stderr := runCLI(t, append(dsn, "apikey", "list", "--mesh", ref)...)
		if code != ExitUsage || !strings.Contains(stderr, want) {
			t.Errorf("--mesh %s: exit %d %q", ref, code, stderr)
		}
	}
	chainClean(t, db)
}

func TestMemberVerbs(t *testing.T) {
	db := opsDB(t)
	dsn := []string{"--database-url", db.URL}
	for _, tt := range []struct {
		args []string
		exit int
		want string
	}{
		{[]string{"member", "ban", "--mesh", "my-team", "twin", "--yes"}, ExitUsage, "several members"},
		{[]string{"member", "ban", "--mesh", "my-team", "nobody", "--yes"}, ExitUsage, "no member"},
		{[]string{"member", "ban", "--mesh", "my-team", "mallory", "--dry-run"}, 0, "dry run: would ban"},
		{[]string{"member", "ban", "--mesh", "my-team", "mallory", "--yes"}, 0, "banned member mallory"},
		{[]string{"member", "ban", "--mesh", "my-team", strings.Repeat("b", 64), "--yes"}, 0, "already banned"},
		{[]string{"member", "bans", "--mesh", "my-team"}, 0, "mallory"},
		{[]string{"member", "unban", "--mesh", "my-team", "b1", "--yes"}, 0, "unbanned member mallory"},
		{[]string{"member", "unban", "--mesh", "my-team", "b1", "--yes"}, 0, "not banned"},
		{[]string{"member", "ban", "--mesh", "my-team", "c2"}, ExitUsage, "pass --yes"},
	} {
		code, stdout, stderr := runCLI(t, append(dsn, tt.args...)...)
		if code != tt.exit || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", tt.args, code, tt.exit, tt.want, stdout, stderr)
		}
	}
	if got := queryOne(t, db, `SELECT string_agg(event_type || ' ' || payload::text, '; ' ORDER BY id) FROM mesh.audit_log`); got !=
		`member_banned {"target": "mallory", "targetPubkey": "`+strings.Repeat("b", 64)+`"}; member_unbanned {"target": "mallory"}` {
		t.Errorf("audit rows: %s", got)
	}
	if got := queryOne(t, db, `SELECT count(*)::text FROM mesh.member WHERE revoked_at IS NOT NULL`); got != "0" {
		t.Errorf("%s members banned at the end", got)
	}
	chainClean(t, db)
}

func TestSweepOrphans(t *testing.T) {
	db := opsDB(t)
	dsn := []string{"--database-url", db.URL}
	// Undelivered rows older than 7 days: days 7..30 (the day-7 row is 7 days
	// and a moment old by the time of the query) minus the delivered
	// (multiples of 5).
	want := 0
	for i := 7; i <= 30; i++ {
		if i%5 != 0 {
			want++
		}
	}
	code, stdout, _ := runCLI(t, append([]string{"--json"}, append(dsn, "sweep", "orphans", "--dry-run")...)...)
	var res struct{ Found, Deleted int }
	if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil || res.Found != want || res.Deleted != 0 {
		t.Errorf("dry run: exit %d %v %q (want %d found)", code, err, stdout, want)
	}
	code, stdout, stderr := runCLI(t, append(dsn, "sweep", "orphans", "--batch", "4", "--yes")...)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("deleted %d ", want)) {
		t.Errorf("sweep: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := queryOne(t, db, `SELECT count(*)::text FROM mesh.message_queue`); got != fmt.Sprint(30-want) {
		t.Errorf("%s rows left, want %d", got, 30-want)
	}
	// What is left undelivered: days 1, 2, 3, 4, 6; older than 72h: 3, 4, 6.
	code, stdout, _ = runCLI(t, append(dsn, "sweep", "orphans", "--older-than", "72h", "--dry-run")...)
	if code != 0 || !strings.Contains(stdout, "dry run: 3 undelivered") {
		t.Errorf("72h dry run: exit %d %q", code, stdout)
	}
}

func TestMeshList(t *testing.T) {
	db := opsDB(t)
	code, stdout, stderr := runCLI(t, "--json", "--database-url", db.URL, "mesh", "list")
	var ms []struct {
		Slug          string
		Members       int
		APIKeysActive int `json:"api_keys_active"`
	}
	if err := json.Unmarshal([]byte(stdout), &ms); code != 0 || err != nil || len(ms) != 4 {
		t.Fatalf("exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	for _, m := range ms {
		if m.Slug == "my-team" && (m.Members != 4 || m.APIKeysActive != 3) {
			t.Errorf("my-team: %+v", m)
		}
	}
}

// On a terminal the destructive verbs ask, naming the change; anything but
// "y" leaves the database as it was.
func TestConfirmationPrompt(t *testing.T) {
	bin := buildMeshctl(t)
	db := opsDB(t)
	for _, answer := range []string{"n\n", "y\n"} {
		master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
			t.Fatal(err)
		}
		n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
		if err != nil {
			t.Fatal(err)
		}
		tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--database-url", db.URL, "member", "ban", "--mesh", "my-team", "mallory")
		var stdout bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, tty
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		prompt := make([]byte, 0, 256)
		buf := make([]byte, 256)
		deadline := time.Now().Add(30 * time.Second)
		for !bytes.Contains(prompt, []byte("[y/N]")) && time.Now().Before(deadline) {
			_ = master.SetReadDeadline(time.Now().Add(time.Second))
			k, _ := master.Read(buf)
			prompt = append(prompt, buf[:k]...)
		}
		if !bytes.Contains(prompt, []byte("This will ban member mallory (b1) of mesh m1.\r\nProceed? [y/N]")) {
			t.Errorf("prompt %q", prompt)
		}
		_, _ = master.Write([]byte(answer))
		_ = cmd.Wait()
		tty.Close()
		master.Close()
		banned := queryOne(t, db, `SELECT (revoked_at IS NOT NULL)::text FROM mesh.member WHERE id = 'b1'`)
		if want := map[string]string{"n\n": "false", "y\n": "true"}[answer]; banned != want {
			t.Errorf("answer %q: banned = %s (exit %d, %q)", answer, banned, cmd.ProcessState.ExitCode(), stdout.String())
		}
	}
	chainClean(t, db)
}
