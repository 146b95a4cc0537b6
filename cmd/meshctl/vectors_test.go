package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claudemesh/meshctl/vectors"
)

func TestVectorsVerifyEmbedded(t *testing.T) {
	for _, args := range [][]string{
		{"vectors", "verify", "--json"},
		{"--json", "vectors", "verify", "--strict"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		var rep vectors.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%v: stdout is not the JSON report: %v", args, err)
		}
		if rep.Vectors < 10_000 || rep.Failed != 0 || rep.Skipped != 3 || len(rep.Suites) < 15 {
			t.Errorf("%v: %d vectors, %d failed, %d skipped, %d suites", args, rep.Vectors, rep.Failed, rep.Skipped, len(rep.Suites))
		}
		if rep.Strict != (args[0] == "--json") {
			t.Errorf("%v: strict = %v", args, rep.Strict)
		}
	}
	code, stdout, _ := runCLI(t, "vectors", "verify")
	if code != ExitOK || !strings.Contains(stdout, "upstream_topic_key_test.json (flips)") || !strings.Contains(stdout, "SKIP rfc7748_x25519_test.json tcId 11: 1000000 iterations (a long vector: run with --long)") {
		t.Errorf("human report: exit %d\n%s", code, stdout)
	}
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVectorsVerifyFailuresAndBadFiles(t *testing.T) {
	wrong := writeFile(t, "wrong.json", `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","notes":{"SpecPin":{"description":"d"}},
"testGroups":[{"type":"AuditLockKey","tests":[{"tcId":4,"flags":["SpecPin"],"meshId":"mesh1","key":"870734828183836006","result":"valid"}]}]}`)
	code, stdout, stderr := runCLI(t, "vectors", "verify", wrong)
	if code != ExitVectorsFailed {
		t.Errorf("wrong verdict: exit %d, want %d", code, ExitVectorsFailed)
	}
	if !strings.Contains(stdout, "FAIL "+wrong+" tcId 4 flags [SpecPin]: expected valid, got invalid: lock key is 870734828183836005") {
		t.Errorf("failure line missing:\n%s", stdout)
	}
	assertOneLine(t, stderr, "")

	malformed := writeFile(t, "dup.json", `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","notes":{},
"testGroups":[{"type":"MigrationLockKey","tests":[{"tcId":2,"key":"1","result":"valid"},{"tcId":2,"key":"1","result":"valid"}]}]}`)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"duplicate tcId", []string{malformed}, ExitVectorsMalformed, malformed + ": tcId 2: tcId: duplicate tcId"},
		{"invalid JSON", []string{writeFile(t, "bad.json", `{"algorithm":`)}, ExitVectorsMalformed, "invalid JSON"},
		{"missing file", []string{filepath.Join(t.TempDir(), "none.json")}, ExitUsage, "cannot read vector file"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, append([]string{"vectors", "verify"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.name, code, stdout, stderr, tt.code, tt.want)
		}
		assertOneLine(t, stderr, "")
	}
}

func TestVectorsGenerate(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "vectors", "generate", "--out", dir); code != ExitOK {
		t.Fatalf("generate: exit %d, %s", code, stderr)
	}
	emb, _ := vectors.EmbeddedFiles()
	entries, _ := os.ReadDir(dir)
	want, _ := vectors.Generate([]byte(vectors.DefaultSeed))
	if len(entries) != len(want) {
		t.Errorf("%d files written, want %d (and no temporary files)", len(entries), len(want))
	}
	var paths []string
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if !bytes.Equal(b, emb[e.Name()]) {
			t.Errorf("%s differs from the embedded file", e.Name())
		}
		paths = append(paths, filepath.Join(dir, e.Name()))
	}
	if code, _, stderr := runCLI(t, append([]string{"vectors", "verify"}, paths...)...); code != ExitOK {
		t.Errorf("verify of generated files: exit %d, %s", code, stderr)
	}
	other := t.TempDir()
	runCLI(t, "vectors", "generate", "--out", other, "--seed", "00ff")
	a, _ := os.ReadFile(filepath.Join(other, "mesh_hello_test.json"))
	if len(a) == 0 || bytes.Equal(a, emb["mesh_hello_test.json"]) {
		t.Error("--seed 00ff gives no file or the default seed's file")
	}
	for _, args := range [][]string{{"--out", dir, "--seed", "xyz"}, {"--out", dir, "--seed", ""}, {}} {
		code, _, stderr := runCLI(t, append([]string{"vectors", "generate"}, args...)...)
		if code != ExitUsage {
			t.Errorf("generate %v: exit %d, want %d", args, code, ExitUsage)
		}
		assertOneLine(t, stderr, "")
	}
}

// TestVectorsVerifyFlagsAfterFiles: `verify FILE --strict` works as the
// usage line shows (it used to read --strict as a file name, exit 2).
func TestVectorsVerifyFlagsAfterFiles(t *testing.T) {
	file := filepath.Join("..", "..", "vectors", "data", "cctv_ed25519_test.json")
	for _, args := range [][]string{
		{"vectors", "verify", file, "--strict", "--json"},
		{"vectors", "verify", "--strict", file, "--json"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		var rep vectors.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !rep.Strict || rep.Vectors == 0 {
			t.Errorf("%v: strict = %v, %d vectors, %v", args, rep.Strict, rep.Vectors, err)
		}
	}
	if code, _, stderr := runCLI(t, "vectors", "verify", file, "--bogus"); code != ExitUsage || !strings.Contains(stderr, "bogus") {
		t.Errorf("unknown flag after a file: exit %d, %q", code, stderr)
	}
}
