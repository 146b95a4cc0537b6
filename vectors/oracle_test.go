package vectors

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// oracleSummary is the last line check.mjs prints.
type oracleSummary struct {
	Oracle   string  `json:"oracle"`
	Vectors  int     `json:"vectors"`
	Agree    int     `json:"agree"`
	Disagree int     `json:"disagree"`
	Either   int     `json:"either"`
	Skipped  int     `json:"skipped"`
	MS       float64 `json:"ms"`
}

// nodeOracle returns the command that runs the Node oracle, or skips
// (fails under CI=true) when node or its pinned libsodium-wrappers is not
// installed (scripts/test-env installs it: npm ci in vectors/oracle).
func nodeOracle(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat("oracle/node_modules/libsodium-wrappers/package.json")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Node oracle is required under CI=true: %v (run scripts/test-env)", err)
		}
		t.Skipf("Node oracle not installed (%v): run `npm ci` in vectors/oracle", err)
	}
	return node
}

func runOracle(t *testing.T, node string, files []string) (oracleSummary, string, int) {
	t.Helper()
	cmd := exec.Command(node, append([]string{"oracle/check.mjs"}, files...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var s oracleSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("oracle output: %v\n%s\n%s", err, out.String(), errb.String())
	}
	return s, out.String(), code
}

// TestNodeOracleAgrees: libsodium-wrappers 0.7.15 (libsodium 1.0.20, what
// upstream runs) decides every vector of every embedded file, and every
// single-byte flip, exactly as the files require; and it decides as many
// vectors as the Go runner does.
func TestNodeOracleAgrees(t *testing.T) {
	node := nodeOracle(t)
	files, err := filepath.Glob("data/*.json")
	if err != nil || len(files) == 0 {
		t.Fatal("no vector files", err)
	}
	s, out, code := runOracle(t, node, files)
	if code != 0 || s.Disagree != 0 {
		t.Fatalf("oracle exit %d, %d disagreements:\n%s", code, s.Disagree, out)
	}
	if !strings.Contains(s.Oracle, "libsodium-wrappers 0.7.15 (libsodium 1.0.20)") {
		t.Errorf("oracle is %q, want libsodium-wrappers 0.7.15 (libsodium 1.0.20)", s.Oracle)
	}
	suites, _ := Embedded()
	rep, _ := Run(context.Background(), suites, Options{Strict: true})
	if s.Vectors != rep.Vectors || s.Skipped != rep.Skipped || s.Agree+s.Either+s.Skipped != s.Vectors {
		t.Errorf("oracle decided %d vectors (%d skipped), Go %d (%d skipped)", s.Vectors, s.Skipped, rep.Vectors, rep.Skipped)
	}
	t.Logf("%s: %d of %d vectors agree (%d either, %d skipped) in %.0f ms", s.Oracle, s.Agree, s.Vectors, s.Either, s.Skipped, s.MS)
}

// TestNodeOracleCatchesWrongVerdicts: the oracle is not a rubber stamp: a
// file whose verdicts are turned around disagrees with it, test by test.
func TestNodeOracleCatchesWrongVerdicts(t *testing.T) {
	node := nodeOracle(t)
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"mesh_invite_test.json", "mesh_root_key_test.json", "upstream_env_secret_test.json", "mesh_lock_key_test.json"} {
		data, err := os.ReadFile(filepath.Join("data", name))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		// Turn the first test's verdict around and drop the file's flips
		// (a valid test turned invalid has none; an invalid one turned
		// valid gains some the oracle also refuses).
		g := doc["testGroups"].([]any)[0].(map[string]any)
		tc := g["tests"].([]any)[0].(map[string]any)
		if tc["result"] == "valid" {
			tc["result"] = "invalid"
		} else {
			tc["result"] = "valid"
		}
		b, _ := json.Marshal(doc)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	s, out, code := runOracle(t, node, files)
	if code != 1 || s.Disagree < len(files) || strings.Count(out, "DISAGREE ") != s.Disagree {
		t.Fatalf("oracle exit %d, %d disagreements, want 1 and at least %d:\n%s", code, s.Disagree, len(files), out)
	}
}
