package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// cpFixture is a database from auditDB with a key pair made by keygen.
type cpFixture struct {
	db         *pgtest.DB
	dir, key   string // key: the prefix of key.key and key.pub
	priv, pub  string
	secretPart string
}

func newCPFixture(t *testing.T) *cpFixture {
	t.Helper()
	f := &cpFixture{db: auditDB(t), dir: t.TempDir()}
	f.key = filepath.Join(f.dir, "ops")
	f.priv, f.pub = f.key+".key", f.key+".pub"
	if code, _, stderr := runCLI(t, "--database-url", f.db.URL, "audit", "keygen", "--out", f.key); code != ExitOK {
		t.Fatalf("keygen: exit %d %s", code, stderr)
	}
	b, _ := os.ReadFile(f.priv)
	s := strings.TrimSpace(string(b))
	f.secretPart = s[strings.LastIndex(s, "+")+1:]
	return f
}

func (f *cpFixture) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append([]string{"--database-url", f.db.URL}, args...)...)
}

// checkpoint signs the chains into dir/name with the CLI.
func (f *cpFixture) checkpoint(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(f.dir, name)
	code, stdout, stderr := f.run(t, append([]string{"audit", "checkpoint", "--key", f.priv, "--out", out}, args...)...)
	if code != ExitOK {
		t.Fatalf("checkpoint %s: exit %d\n%s%s", name, code, stdout, stderr)
	}
	return out
}

func (f *cpFixture) verify(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return f.run(t, append([]string{"audit", "verify", "--key", f.pub}, args...)...)
}

func writeVariant(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointFileCannotBeNarrowedCLI: a real checkpoint file of three
// meshes; every single-line deletion and every truncation is refused
// (exit 6, or 2 when it cannot be read), never verified clean; removing
// the note of a truncated mesh is reported as an altered file.
func TestCheckpointFileCannotBeNarrowedCLI(t *testing.T) {
	f := newCPFixture(t)
	cp := f.checkpoint(t, "audit.cp", "--all")
	if code, stdout, stderr := f.verify(t, "--checkpoint", cp); code != ExitOK {
		t.Fatalf("clean: exit %d\n%s%s", code, stdout, stderr)
	}
	data, _ := os.ReadFile(cp)
	variant := filepath.Join(f.dir, "variant.cp")
	refused := func(what string, v []byte) {
		t.Helper()
		writeVariant(t, variant, v)
		code, stdout, stderr := f.verify(t, "--checkpoint", variant)
		if code != ExitTamper && code != ExitUsage {
			t.Fatalf("%s: exit %d, want %d or %d\n%s%s", what, code, ExitTamper, ExitUsage, stdout, stderr)
		}
		assertOneLine(t, stderr, f.secretPart)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1]
	if len(lines) < 20 {
		t.Fatalf("a 3-mesh checkpoint of %d lines?\n%s", len(lines), data)
	}
	for i := range lines {
		v := strings.Join(append(append([]string{}, lines[:i]...), lines[i+1:]...), "")
		refused(fmt.Sprintf("without line %d %q", i+1, lines[i]), []byte(v))
	}
	for n := 0; n < len(data); n++ {
		refused(fmt.Sprintf("truncated to %d bytes", n), data[:n])
	}

	// Mesh "two" loses its last row; the file says so, and stripping the
	// mesh's note from the file (which used to verify clean) is refused.
	if _, err := f.db.Pool.Exec(context.Background(), `DELETE FROM mesh.audit_log WHERE id = 5`); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := f.verify(t, "--checkpoint", cp)
	if code != ExitTamper || !strings.Contains(stdout, "truncation") {
		t.Fatalf("truncated mesh: exit %d\n%s", code, stdout)
	}
	notes := splitNotesForTest(t, data)
	var stripped []byte
	for _, n := range notes {
		if !strings.Contains(strings.SplitN(string(n), "\n", 2)[0], "/two") {
			stripped = append(stripped, n...)
		}
	}
	if len(notes) != 4 || bytes.Equal(stripped, data) {
		t.Fatalf("cannot find mesh two's note (%d notes)", len(notes))
	}
	writeVariant(t, variant, stripped)
	code, _, stderr := f.verify(t, "--checkpoint", variant)
	if code != ExitTamper || !strings.Contains(stderr, "altered") {
		t.Fatalf("mesh two's note removed: exit %d %q", code, stderr)
	}
}

// splitNotesForTest cuts a checkpoint file into its signed notes.
func splitNotesForTest(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var notes [][]byte
	for len(data) > 0 {
		i := bytes.Index(data, []byte("\n\n"))
		j := bytes.IndexByte(data[i+2:], '\n')
		if i < 0 || j < 0 {
			t.Fatal("not a checkpoint file")
		}
		end := i + 2 + j + 1
		notes, data = append(notes, data[:end]), data[end:]
	}
	return notes
}

func TestVerifyCheckpointCoverageCLI(t *testing.T) {
	f := newCPFixture(t)
	cp := f.checkpoint(t, "team.cp", "--mesh", "team")
	code, stdout, stderr := f.verify(t, "--mesh", "two", "--checkpoint", cp)
	if code != ExitUsage || !strings.Contains(stderr, cp+" does not cover mesh two") || stdout != "" {
		t.Fatalf("non-covering: exit %d %q %q", code, stdout, stderr)
	}
	assertOneLine(t, stderr, "")
	if code, stdout, stderr := f.verify(t, "--mesh", "team", "--checkpoint", cp); code != ExitOK {
		t.Fatalf("covering: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := f.verify(t, "--all", "--checkpoint", cp); code != ExitOK {
		t.Fatalf("--all with a one-mesh checkpoint: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestVerifyDeletedMeshCLI(t *testing.T) {
	f := newCPFixture(t)
	cp := f.checkpoint(t, "audit.cp")
	if _, err := f.db.Pool.Exec(context.Background(), `DELETE FROM mesh.mesh WHERE id = 'three'`); err != nil {
		t.Fatal(err)
	}
	for _, scope := range [][]string{{"--mesh", "three"}, {"--all"}} {
		code, stdout, stderr := f.verify(t, append(scope, "--checkpoint", cp)...)
		if code != ExitTamper || !strings.Contains(stdout, "three") || !strings.Contains(stdout, "truncation") {
			t.Fatalf("%v: exit %d\n%s%s", scope, code, stdout, stderr)
		}
	}
	// Without a checkpoint nothing says the mesh existed.
	code, _, stderr := f.run(t, "audit", "verify", "--mesh", "three")
	if code != ExitUsage || !strings.Contains(stderr, `no mesh has id or slug "three"`) {
		t.Fatalf("no checkpoint: exit %d %q", code, stderr)
	}
}

// signOld signs the database's chains as a checkpoint dated at, as the
// CLI would have then.
func signOld(t *testing.T, f *cpFixture, name string, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rep, err := audit.Verify(ctx, conn, audit.VerifyOptions{MerkleRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	origin, err := audit.InstallationOrigin(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(f.priv)
	data, err := audit.SignCheckpoint(origin, at, audit.HeadsOf(rep), strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, name)
	writeVariant(t, out, data)
	return out
}

func appendEvents(t *testing.T, db *pgtest.DB, mesh string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, audit.Event{MeshID: mesh, EventType: "peer_left", Payload: []byte(`{}`)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayedCheckpointCLI: an old checkpoint still passes after the
// rows signed later are deleted; --max-age refuses it, and verifying
// against the old and the new checkpoint together finds the truncation.
func TestReplayedCheckpointCLI(t *testing.T) {
	f := newCPFixture(t)
	old := signOld(t, f, "old.cp", time.Now().Add(-2*time.Hour))
	appendEvents(t, f.db, "one", 3)
	newer := f.checkpoint(t, "new.cp")
	if _, err := f.db.Pool.Exec(context.Background(), `DELETE FROM mesh.audit_log WHERE id > 6`); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := f.verify(t, "--checkpoint", old); code != ExitOK {
		t.Fatalf("replayed old checkpoint alone: exit %d (it cannot tell)\n%s", code, stdout)
	}
	code, _, stderr := f.verify(t, "--checkpoint", old, "--max-age", "1h")
	if code != ExitTamper || !strings.Contains(stderr, "more than --max-age 1h") {
		t.Fatalf("--max-age 1h: exit %d %q", code, stderr)
	}
	assertOneLine(t, stderr, "")
	if code, _, stderr := f.verify(t, "--checkpoint", old, "--max-age", "3h"); code != ExitOK {
		t.Fatalf("--max-age 3h: exit %d %q", code, stderr)
	}
	for _, order := range [][]string{{old, newer}, {newer, old}} {
		code, stdout, stderr := f.verify(t, "--checkpoint", order[0], "--checkpoint", order[1], "--max-age", "1h")
		if code != ExitTamper || !strings.Contains(stdout, "truncation") || strings.Count(stdout, "truncation") != 1 {
			t.Fatalf("old and new: exit %d\n%s%s", code, stdout, stderr)
		}
	}
	// A later checkpoint that drops a mesh the earlier one covers: the two
	// cannot both be honest.
	partial := f.checkpoint(t, "partial.cp", "--mesh", "team")
	code, _, stderr = f.verify(t, "--checkpoint", old, "--checkpoint", partial)
	if code != ExitTamper || !strings.Contains(stderr, "not in the later one") {
		t.Fatalf("dropped mesh: exit %d %q", code, stderr)
	}
	for _, bad := range [][]string{{"--max-age", "0s"}, {"--max-age", "-1h"}} {
		if code, _, _ := f.verify(t, append([]string{"--checkpoint", old}, bad...)...); code != ExitUsage {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
}

// TestOriginCLI: the origin defaults to the cluster's system identifier,
// keys are named after it, and a key or checkpoint of another origin is
// refused.
func TestOriginCLI(t *testing.T) {
	f := newCPFixture(t)
	var sysID int64
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT system_identifier FROM pg_control_system()`).Scan(&sysID); err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("claudemesh.audit/%d", sysID)
	pub, _ := os.ReadFile(f.pub)
	if !strings.HasPrefix(string(pub), origin+"+") {
		t.Fatalf("default key name: %q, want origin %q", pub, origin)
	}
	staging := filepath.Join(f.dir, "staging")
	if code, _, stderr := runCLI(t, "audit", "keygen", "--out", staging, "--origin", "staging.example/mesh"); code != ExitOK {
		t.Fatalf("keygen --origin: exit %d %q", code, stderr)
	}
	out := filepath.Join(f.dir, "s.cp")
	code, _, stderr := f.run(t, "audit", "checkpoint", "--key", staging+".key", "--out", out)
	if code != ExitUsage || !strings.Contains(stderr, staging+".key") || !strings.Contains(stderr, origin) {
		t.Fatalf("key of another origin: exit %d %q", code, stderr)
	}
	assertOneLine(t, stderr, "")
	if code, _, stderr := f.run(t, "audit", "checkpoint", "--key", staging+".key", "--out", out, "--origin", "staging.example/mesh"); code != ExitOK {
		t.Fatalf("checkpoint --origin: exit %d %q", code, stderr)
	}
	code, _, stderr = f.run(t, "audit", "verify", "--checkpoint", out, "--key", staging+".pub")
	if code != ExitUsage || !strings.Contains(stderr, `is a checkpoint of origin "staging.example/mesh"`) {
		t.Fatalf("checkpoint of another origin: exit %d %q", code, stderr)
	}
	if code, _, stderr := f.run(t, "audit", "verify", "--checkpoint", out, "--key", staging+".pub", "--origin", "staging.example/mesh"); code != ExitOK {
		t.Fatalf("verify --origin: exit %d %q", code, stderr)
	}
	// The production key does not verify the staging checkpoint.
	code, _, stderr = f.verify(t, "--checkpoint", out)
	if code != ExitUsage || !strings.Contains(stderr, "not signed by key "+origin) {
		t.Fatalf("other installation's key: exit %d %q", code, stderr)
	}
	for _, bad := range []string{"", "a b", "x+y"} {
		if code, _, _ := runCLI(t, "audit", "keygen", "--out", filepath.Join(f.dir, "k"), "--origin", bad); code != ExitUsage {
			t.Errorf("keygen --origin %q: exit %d", bad, code)
		}
	}
}

// TestCheckpointNeverOverwritesKeysCLI: --out over the key, over any key
// file, or over an existing file without --force is refused with nothing
// written; --force replaces a checkpoint atomically; empty names are
// usage errors; a bad key file is named.
func TestCheckpointNeverOverwritesKeysCLI(t *testing.T) {
	f := newCPFixture(t)
	privBefore, _ := os.ReadFile(f.priv)
	pubBefore, _ := os.ReadFile(f.pub)
	for _, out := range []string{f.priv, f.pub} {
		for _, force := range [][]string{nil, {"--force"}} {
			code, _, stderr := f.run(t, append([]string{"audit", "checkpoint", "--key", f.priv, "--out", out}, force...)...)
			if code != ExitUsage {
				t.Errorf("--out %s %v: exit %d %q", out, force, code, stderr)
			}
			assertOneLine(t, stderr, f.secretPart)
		}
	}
	privAfter, _ := os.ReadFile(f.priv)
	pubAfter, _ := os.ReadFile(f.pub)
	if st, _ := os.Stat(f.priv); !bytes.Equal(privBefore, privAfter) || !bytes.Equal(pubBefore, pubAfter) || st.Mode().Perm() != 0o600 {
		t.Fatal("a key file was changed")
	}
	cp := f.checkpoint(t, "audit.cp")
	first, _ := os.ReadFile(cp)
	time.Sleep(1100 * time.Millisecond) // a new second: a new signing time
	code, _, stderr := f.run(t, "audit", "checkpoint", "--key", f.priv, "--out", cp)
	if again, _ := os.ReadFile(cp); code != ExitUsage || !strings.Contains(stderr, "give --force") || !bytes.Equal(first, again) {
		t.Fatalf("existing --out without --force: exit %d %q", code, stderr)
	}
	f.checkpoint(t, "audit.cp", "--force")
	if again, _ := os.ReadFile(cp); bytes.Equal(first, again) {
		t.Fatal("--force did not replace the checkpoint")
	}
	if code, _, stderr := f.verify(t, "--checkpoint", cp); code != ExitOK {
		t.Fatalf("replaced checkpoint: exit %d %q", code, stderr)
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 3 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// Empty names are usage errors and write nothing.
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"audit", "keygen", "--out", "", "--origin", "x.example/y"},
		{"audit", "keygen", "--out", "ops", "--origin", ""},
		{"audit", "checkpoint", "--key", f.priv, "--out", ""},
		{"audit", "checkpoint", "--key", "", "--out", "a.cp"},
	} {
		if code, _, stderr := f.run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d %q", args, code, stderr)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}

	// A file that is not a key is named as the key, not as the checkpoint.
	notKey := filepath.Join(f.dir, "hostname")
	writeVariant(t, notKey, []byte("db-host-1\n"))
	code, _, stderr = f.run(t, "audit", "verify", "--checkpoint", cp, "--key", notKey)
	if code != ExitUsage || !strings.Contains(stderr, notKey+" is not a signed-note public key") || strings.Contains(stderr, cp) {
		t.Fatalf("--key not a key (verify): exit %d %q", code, stderr)
	}
	code, _, stderr = f.run(t, "audit", "checkpoint", "--key", notKey, "--out", filepath.Join(f.dir, "x.cp"))
	if code != ExitUsage || !strings.Contains(stderr, notKey+" is not a signed-note private key") {
		t.Fatalf("--key not a key (checkpoint): exit %d %q", code, stderr)
	}
}

// TestProofsCLI: prove with the database, check-proof without it; every
// one-byte change of a proof file is refused.
func TestProofsCLI(t *testing.T) {
	f := newCPFixture(t)
	old := f.checkpoint(t, "old.cp")
	appendEvents(t, f.db, "one", 2)
	appendEvents(t, f.db, "two", 1)
	time.Sleep(1100 * time.Millisecond)
	newer := f.checkpoint(t, "new.cp")
	incl, cons := filepath.Join(f.dir, "event.proof"), filepath.Join(f.dir, "week.proof")
	code, stdout, stderr := f.run(t, "audit", "prove", "--mesh", "team", "--id", "2", "--checkpoint", old, "--key", f.pub, "--out", incl)
	if code != ExitOK || !strings.Contains(stdout, "entry 2 of 3 in mesh one's log") {
		t.Fatalf("prove inclusion: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = f.run(t, "audit", "prove", "--from", old, "--to", newer, "--key", f.pub, "--out", cons)
	if code != ExitOK {
		t.Fatalf("prove consistency: exit %d\n%s%s", code, stdout, stderr)
	}

	// Offline: no database reachable.
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
	check := func(p string) (int, string, string) { return runCLI(t, "audit", "check-proof", p, "--key", f.pub) }
	if code, stdout, stderr := check(incl); code != ExitOK || !strings.Contains(stdout, "valid: peer_joined by null") || !strings.Contains(stdout, "entry 2 of 3") {
		t.Fatalf("check inclusion: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := check(cons); code != ExitOK || !strings.Contains(stdout, "for all 3 meshes") {
		t.Fatalf("check consistency: exit %d\n%s%s", code, stdout, stderr)
	}
	variant := filepath.Join(f.dir, "variant.proof")
	for _, p := range []string{incl, cons} {
		data, _ := os.ReadFile(p)
		for i := range data {
			v := bytes.Clone(data)
			v[i] ^= 0x01
			writeVariant(t, variant, v)
			code, _, stderr := check(variant)
			if code != ExitTamper && code != ExitUsage {
				t.Fatalf("%s byte %d (%q): exit %d %q", filepath.Base(p), i, data[i], code, stderr)
			}
			assertOneLine(t, stderr, "")
		}
	}

	// prove refuses what it cannot prove, and never writes over its inputs.
	t.Setenv("DATABASE_URL", f.db.URL)
	team := f.checkpoint(t, "team.cp", "--mesh", "team")
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--mesh", "two", "--id", "4", "--checkpoint", team}, ExitUsage, "does not cover mesh two"},
		{[]string{"--mesh", "team", "--id", "4", "--checkpoint", team}, ExitUsage, "no audit row with id 4"},
		{[]string{"--mesh", "team", "--id", "7", "--checkpoint", old}, ExitUsage, "after the checkpoint's 3 rows"},
		{[]string{"--mesh", "team", "--id", "2", "--checkpoint", old, "--out", f.pub, "--force"}, ExitUsage, "is also an input"},
		{[]string{"--mesh", "team", "--id", "2", "--checkpoint", old, "--out", old, "--force"}, ExitUsage, "is also an input"},
		{[]string{"--mesh", "team", "--id", "2", "--checkpoint", old, "--out", incl}, ExitUsage, "give --force"},
		{[]string{"--from", newer, "--to", old}, ExitUsage, "swap them"},
		{[]string{"--mesh", "team", "--from", old, "--to", newer}, ExitUsage, "not both"},
	} {
		code, _, stderr := runCLI(t, append([]string{"audit", "prove", "--key", f.pub}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.says) {
			t.Errorf("prove %v: exit %d %q, want %d saying %q", tt.args, code, stderr, tt.code, tt.says)
		}
	}
	// A database rewritten after the checkpoint cannot prove from it.
	if _, err := f.db.Pool.Exec(context.Background(), `UPDATE mesh.audit_log SET hash = repeat('b', 64) WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "audit", "prove", "--key", f.pub, "--mesh", "team", "--id", "3", "--checkpoint", old)
	if code != ExitTamper || !strings.Contains(stderr, "no longer hash to the checkpoint's Merkle root") {
		t.Fatalf("rewritten chain: exit %d %q", code, stderr)
	}
}

// TestCheckpointRefusesToLaunderDeletedRowsCLI: rows deleted from a chain's
// tail, then new rows appended from the earlier row, leave a chain that is
// clean on its own. The daily routine (checkpoint --force over yesterday's
// file) must not sign it: the replaced file, and any --checkpoint, are
// checked first, and nothing is written.
func TestCheckpointRefusesToLaunderDeletedRowsCLI(t *testing.T) {
	f := newCPFixture(t)
	ctx := context.Background()
	appendEvents(t, f.db, "one", 4)
	day1 := f.checkpoint(t, "audit.cp")
	// The honest routine works: more rows, same file replaced.
	appendEvents(t, f.db, "one", 2)
	f.checkpoint(t, "audit.cp", "--force")
	before, _ := os.ReadFile(day1)
	// Delete the tail of mesh one and let the chain go on from there.
	if _, err := f.db.Pool.Exec(ctx, `DELETE FROM mesh.audit_log WHERE id IN
		(SELECT id FROM mesh.audit_log WHERE mesh_id = 'one' ORDER BY id DESC LIMIT 3)`); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, f.db, "one", 4)
	if code, stdout, stderr := f.run(t, "audit", "verify"); code != ExitOK {
		t.Fatalf("the relinked chain alone should verify (that is the danger): exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr := f.run(t, "audit", "checkpoint", "--key", f.priv, "--out", day1, "--force")
	if code != ExitTamper || !strings.Contains(stderr, "checked against "+day1) || !strings.Contains(stderr, "not signing") {
		t.Fatalf("checkpoint --force over the day-1 file: exit %d\n%s%s", code, stdout, stderr)
	}
	assertOneLine(t, stderr, "")
	if after, _ := os.ReadFile(day1); !bytes.Equal(after, before) {
		t.Fatal("the refused checkpoint changed the file it would replace")
	}
	fresh := filepath.Join(f.dir, "fresh.cp")
	if code, _, stderr := f.run(t, "audit", "checkpoint", "--key", f.priv, "--out", fresh, "--checkpoint", day1); code != ExitTamper {
		t.Fatalf("checkpoint --checkpoint day1: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a refused checkpoint left %s: %v", fresh, err)
	}
	if code, stdout, _ := f.verify(t, "--checkpoint", day1); code != ExitTamper || !strings.Contains(stdout, "truncation") {
		t.Fatalf("verify against day 1: exit %d\n%s", code, stdout)
	}
	// A file at --out that is not a checkpoint of this key is not replaced.
	other := filepath.Join(f.dir, "notes.txt")
	writeVariant(t, other, []byte("not a checkpoint\n"))
	code, _, stderr = f.run(t, "audit", "checkpoint", "--key", f.priv, "--out", other, "--force")
	if code != ExitUsage || !strings.Contains(stderr, "is not a checkpoint this key signed") {
		t.Fatalf("--out over a non-checkpoint: exit %d %q", code, stderr)
	}
	if b, _ := os.ReadFile(other); string(b) != "not a checkpoint\n" {
		t.Fatal("the refused checkpoint changed the file at --out")
	}
}
