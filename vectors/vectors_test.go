package vectors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEmbeddedSuitesPass(t *testing.T) {
	suites, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, strict := range []bool{false, true} {
		rep, err := Run(context.Background(), suites, Options{Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Suites {
			for _, f := range s.Failures {
				t.Errorf("strict=%v %s tcId %d %s %v: expected %s, got %s (%s)", strict, f.File, f.TcID, f.Generated, f.Flags, f.Expected, f.Got, f.Detail)
			}
		}
		if rep.Vectors < 10_000 || rep.Skipped != 3 {
			t.Errorf("strict=%v: %d vectors, %d skipped; want > 10000 and exactly the --long ones skipped (the 1,000,000 iterations, two Argon2id derivations)", strict, rep.Vectors, rep.Skipped)
		}
	}
}

// TestStrictChangesCCTVVerdicts shows the two modes really differ: the
// CCTV suite has vectors crypto/ed25519 accepts and libsodium refuses.
func TestStrictChangesCCTVVerdicts(t *testing.T) {
	suites, _ := Embedded()
	for _, s := range suites {
		if s.File != "cctv_ed25519_test.json" {
			continue
		}
		diff := 0
		for _, c := range s.Cases {
			a, _ := c.Input.Accept(Options{})
			b, _ := c.Input.Accept(Options{Strict: true})
			if a && !b {
				diff++
			}
			if b && !a {
				t.Errorf("tcId %d: strict accepts what crypto/ed25519 refuses", c.TcID)
			}
		}
		if diff == 0 {
			t.Error("strict mode changes no CCTV verdict")
		}
		t.Logf("crypto/ed25519 accepts %d of %d CCTV vectors that strict mode refuses", diff, len(s.Cases))
	}
}

func TestGenerateReproducesEmbedded(t *testing.T) {
	got, err := Generate([]byte(DefaultSeed))
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := EmbeddedFiles()
	for name, b := range got {
		if !bytes.Equal(b, emb[name]) {
			t.Errorf("%s: Generate([]byte(DefaultSeed)) differs from the embedded file; run `meshctl vectors generate --out vectors/data` and review the diff", name)
		}
	}
	for name := range emb {
		if strings.HasPrefix(name, "mesh_") && got[name] == nil {
			t.Errorf("%s is embedded but not generated", name)
		}
	}
}

func TestGenerateDeterministicPerSeed(t *testing.T) {
	for _, seed := range []string{"00", "01", "ffee", "a longer seed of many bytes"} {
		a, err := Generate([]byte(seed))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate([]byte(seed))
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("seed %q: two runs differ:\n%s", seed, diff)
		}
		def, _ := Generate([]byte(DefaultSeed))
		if bytes.Equal(a["mesh_topic_key_test.json"], def["mesh_topic_key_test.json"]) {
			t.Errorf("seed %q gives the default seed's file", seed)
		}
		var suites []*Suite
		for name, data := range a {
			s, err := Load(name, data)
			if err != nil {
				t.Fatal(err)
			}
			suites = append(suites, s)
		}
		rep, _ := Run(context.Background(), suites, Options{})
		if !rep.OK() {
			t.Errorf("seed %q: generated vectors fail: %+v", seed, firstFailure(rep))
		}
	}
}

func firstFailure(r Report) Failure {
	for _, s := range r.Suites {
		if len(s.Failures) > 0 {
			return s.Failures[0]
		}
	}
	return Failure{}
}

func TestVendoredFilesPinned(t *testing.T) {
	for path, want := range map[string]string{
		"data/wycheproof_ed25519_test.json":            "752d2ea7d7c6cf4736381b6cbacb61f8182b126ab7cd9b058f00c50084975536",
		"data/wycheproof_x25519_test.json":             "35c3f5231cf25cc640b524d403461deee9e49441d5d915a3a25b2c8ff5adbe7d",
		"data/wycheproof_xchacha20_poly1305_test.json": "a79de072571b90eb40c3a63ce0c7f75dcb4b62323c8870228e1f61dcc61d63a9",
		"data/LICENSE-wycheproof":                      "58d1e17ffe5109a7ae296caafcadfdbe6a7d176f0bc4ab01e12a689b0499d8bd",
		"data/LICENSE-cctv":                            "9fe727c21f00a770a683a4c8491bf24203ec839628bad09b026258c5afc17076",
		"testdata/cctv/ed25519vectors.json":            "b38e84caf3e7e89170ff520292dbeae421b0a794c27408ce5ce973018fe3d7f9",
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s: sha256 %x, pinned %s", path, sum, want)
		}
	}
}

func TestCCTVConversion(t *testing.T) {
	raw, err := os.ReadFile("testdata/cctv/ed25519vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConvertCCTV(raw)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := EmbeddedFiles()
	if !bytes.Equal(got, emb["cctv_ed25519_test.json"]) {
		if os.Getenv("MESHCTL_UPDATE_VECTORS") == "1" {
			if err := os.WriteFile("data/cctv_ed25519_test.json", got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Error("data/cctv_ed25519_test.json is not ConvertCCTV of the vendored file (MESHCTL_UPDATE_VECTORS=1 rewrites it)")
	}
	s, err := Load("cctv", got)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != 914 {
		t.Errorf("%d CCTV vectors, the pinned file has 914", len(s.Cases))
	}
}

// TestWycheproofAcceptablePolicy: under the x25519 policy, an acceptable
// test is required invalid exactly when its shared secret is all zero
// (libsodium's refusal), so the policy table is not just made to pass.
func TestWycheproofAcceptablePolicy(t *testing.T) {
	suites, _ := Embedded()
	n := 0
	for _, s := range suites {
		if s.Schema != "xdh_comp_schema_v1.json" {
			continue
		}
		for _, c := range s.Cases {
			if c.Result != Acceptable {
				continue
			}
			n++
			zero := bytes.Equal(c.Input.(X25519).Shared, make([]byte, 32))
			if (c.Want(false) == Invalid) != zero {
				t.Errorf("tcId %d %v: policy says %s, shared secret zero = %v", c.TcID, c.Flags, c.Want(false), zero)
			}
		}
	}
	if n == 0 {
		t.Fatal("no acceptable x25519 tests")
	}
}

func TestLoadMalformed(t *testing.T) {
	const good = `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","notes":{"F":{"description":"d"}},
"testGroups":[{"type":"MigrationLockKey","tests":[{"tcId":1,"flags":["F"],"key":"7473773831","result":"valid"}]}]}`
	if _, err := Load("good.json", []byte(good)); err != nil {
		t.Fatalf("the base case does not load: %v", err)
	}
	tests := []struct {
		name, data string
		tcID       int
		want       string
	}{
		{"invalid JSON", `{"algorithm":`, 0, "invalid JSON"},
		{"trailing data", good + `{}`, 0, "data after"},
		{"unknown schema", strings.Replace(good, `meshctl_mesh_lockkey_v1`, `nope_v9`, 1), 0, `unknown schema "nope_v9"`},
		{"algorithm mismatch", strings.Replace(good, `MESH-LOCK-KEY`, `XDH`, 1), 0, `needs algorithm "MESH-LOCK-KEY"`},
		{"no algorithm", strings.Replace(good, `"algorithm":"MESH-LOCK-KEY",`, ``, 1), 0, "algorithm: missing"},
		{"no groups", `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","testGroups":[]}`, 0, "testGroups: missing or empty"},
		{"unknown group type", strings.Replace(good, `"MigrationLockKey"`, `"Other"`, 1), 0, `unknown group type "Other"`},
		{"missing result", strings.Replace(good, `,"result":"valid"`, ``, 1), 1, "result: missing"},
		{"bad result", strings.Replace(good, `"valid"`, `"maybe"`, 1), 1, `"maybe" is not valid`},
		{"duplicate tcId", strings.Replace(good, `"result":"valid"}]`, `"result":"valid"},{"tcId":1,"key":1,"result":"valid"}]`, 1), 1, "duplicate tcId"},
		{"tcId zero", strings.Replace(good, `"tcId":1`, `"tcId":0`, 1), 0, "tcId: missing or not a positive integer"},
		{"unknown flag", strings.Replace(good, `["F"]`, `["G"]`, 1), 1, `flag "G" has no entry in notes`},
		{"acceptable without policy", strings.Replace(good, `"valid"`, `"acceptable"`, 1), 1, `acceptable flag "F" has no policy`},
		{"policy without reason", strings.Replace(strings.Replace(good, `"valid"`, `"acceptable"`, 1), `"description":"d"`, `"description":"d","policy":{"default":"valid"}`, 1), 1, "reason is empty"},
		{"bad field type", strings.Replace(good, `"7473773831"`, `7473773831`, 1), 1, "key: not a string"},
		{"numberOfTests mismatch", strings.Replace(good, `"notes"`, `"numberOfTests":2,"notes"`, 1), 0, "says 2, file has 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("f.json", []byte(tt.data))
			var me *MalformedError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want a *MalformedError", err)
			}
			if me.File != "f.json" || me.TcID != tt.tcID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q (tcId %d), want tcId %d and %q", err, me.TcID, tt.tcID, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestLoadBadHexNamesField(t *testing.T) {
	data := `{"algorithm":"XDH","schema":"xdh_comp_schema_v1.json","notes":{},"testGroups":[{"type":"XdhComp","curve":"curve25519",
"tests":[{"tcId":7,"private":"zz","public":"00","shared":"00","result":"valid"}]}]}`
	_, err := Load("x.json", []byte(data))
	if err == nil || err.Error() != "x.json: tcId 7: private: bad hex" {
		t.Errorf("err = %v", err)
	}
}

func TestRunSkipsLongUnlessAsked(t *testing.T) {
	data := `{"algorithm":"XDH","schema":"meshctl_x25519_v1","notes":{},"testGroups":[{"type":"XdhIterate","tests":[
{"tcId":1,"iterations":1000,"long":true,"shared":"684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51","result":"valid"}]}]}`
	s, err := Load("it.json", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := Run(context.Background(), []*Suite{s}, Options{})
	if rep.Skipped != 1 || rep.Suites[0].Skips[0].Reason != "1000 iterations" || !rep.Suites[0].Skips[0].Long {
		t.Errorf("without Long: %+v", rep)
	}
	rep, _ = Run(context.Background(), []*Suite{s}, Options{Long: true})
	if rep.Passed != 1 {
		t.Errorf("with Long: %+v", rep)
	}
}

func TestRunReportsFailures(t *testing.T) {
	data := `{"algorithm":"MESH-LOCK-KEY","schema":"meshctl_mesh_lockkey_v1","notes":{"F":{"description":"d"}},
"testGroups":[{"type":"AuditLockKey","tests":[{"tcId":3,"flags":["F"],"meshId":"mesh1","key":"1","result":"valid"}]}]}`
	s, err := Load("lk.json", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := Run(context.Background(), []*Suite{s}, Options{})
	want := []Failure{{File: "lk.json", TcID: 3, Flags: []string{"F"}, Expected: Valid, Got: Invalid, Detail: "lock key is 870734828183836005"}}
	if diff := cmp.Diff(want, rep.Suites[0].Failures); diff != "" || rep.OK() {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
}

// TestSpecPinsInFiles: every SPEC pin appears, literally, as a valid vector
// (so a reviewer finds it in the data, not only in Go tests).
func TestSpecPinsInFiles(t *testing.T) {
	suites, _ := Embedded()
	found := map[string]bool{}
	for _, s := range suites {
		for _, c := range s.Cases {
			if c.Result != Valid {
				continue
			}
			switch in := c.Input.(type) {
			case APIKeyCase:
				if in.Secret == "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" && in.Prefix == "cm_AAAAAAAA" &&
					in.Hash == "aacb3267ef9e7497508b3dbe8444519c1cf1175656b3bdb82aa59115ac94074b" {
					found["api key"] = true
				}
			case KeyConversion:
				if hex.EncodeToString(in.EdPublic) == "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664" &&
					hex.EncodeToString(in.Seed) == "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" {
					found["ed25519 seed"] = true
				}
			case AuditRowCase:
				if in.PrevHash == "genesis" && in.MeshID == "mesh1" && in.Hash == "73bad757dad9b1fee95c3eb00f4a72e7a6d188d8c765d9bcdef4625f267a0a6c" {
					found["audit row"] = true
				}
			case LockKeyCase:
				if in.Kind == "migration" && in.Key == 7473773831 {
					found["migration lock"] = true
				}
				if in.Kind == "audit" && in.MeshID == "mesh1" && in.Key == 870734828183836005 {
					found["audit lock"] = true
				}
			}
		}
	}
	for _, pin := range []string{"api key", "ed25519 seed", "migration lock", "audit lock", "audit row"} {
		if !found[pin] {
			t.Errorf("SPEC pin %q is not a valid vector in the embedded files", pin)
		}
	}
}

// TestAuditVectorsAreNodes: the audit vectors are exactly what the Node
// oracle writes (Node is the upstream runtime; Go never computes them).
func TestAuditVectorsAreNodes(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true: it is the independent oracle for the audit vectors")
		}
		t.Skip("node not installed: cannot regenerate the audit vectors (they are still checked against audit.HashV1)")
	}
	out, err := exec.Command(node, "testdata/audit/audit_v1_vectors.mjs").Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	emb, _ := EmbeddedFiles()
	if !bytes.Equal(out, emb["audit_v1_test.json"]) {
		t.Error("data/audit_v1_test.json is not the output of testdata/audit/audit_v1_vectors.mjs")
	}
}

// TestUpstreamFilesProvenance: every upstream_*.json names the pinned
// upstream commit and libsodium-wrappers 0.7.15 (libsodium 1.0.20), and
// holds only valid objects made by a named upstream function; every format
// upstream has is represented.
func TestUpstreamFilesProvenance(t *testing.T) {
	files, _ := EmbeddedFiles()
	schemas := map[string]int{}
	for name, data := range files {
		if !strings.HasPrefix(name, "upstream_") {
			continue
		}
		var f struct {
			Provenance struct {
				UpstreamCommit, LibsodiumWrappers, Libsodium, Command string
			}
			Schema string
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		p := f.Provenance
		if p.UpstreamCommit != "213a6b37cc1739776d71887d67e60ee0fcf2652a" || p.LibsodiumWrappers != "0.7.15" || p.Libsodium != "1.0.20" || p.Command == "" {
			t.Errorf("%s: provenance %+v", name, p)
		}
		s, err := Load(name, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Cases {
			if c.Result != Valid || len(c.Flags) != 1 || c.Flags[0] != "Upstream" || !strings.Contains(c.Comment, ": ") {
				t.Errorf("%s tcId %d: %s %v %q: want a valid Upstream object naming its function", name, c.TcID, c.Result, c.Flags, c.Comment)
			}
		}
		for _, c := range s.Cases {
			schemas[strings.TrimPrefix(fmt.Sprintf("%T", c.Input), "vectors.")]++
		}
	}
	for _, want := range []string{"HelloCase", "SessionAttestationCase", "SessionHelloCase", "InviteV1Case", "InviteV2Case", "TopicKeyCase",
		"RootKeyCase", "APIKeyCase", "BodyV1Case", "BodyV2Case", "DirectCase", "FileKeyCase", "EnvSecretCase"} {
		if schemas[want] == 0 {
			t.Errorf("no upstream-made object of format %s", want)
		}
	}
	t.Logf("upstream-made objects per format: %v", schemas)
}

// TestNoUnsafeIntegers: no file holds a JSON number that JavaScript's
// JSON.parse would not read exactly (beyond 2^53); such values are decimal
// strings, as Wycheproof writes them.
func TestNoUnsafeIntegers(t *testing.T) {
	files, _ := EmbeddedFiles()
	for name, data := range files {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case json.Number:
				i, err := x.Int64()
				isInt := !strings.ContainsAny(x.String(), ".eE")
				if isInt && (err != nil || i > 1<<53-1 || i < -(1<<53-1)) {
					t.Errorf("%s: integer %s is beyond 2^53 (write it as a decimal string)", name, x)
				}
			}
		}
		walk(v)
	}
}

// TestNoNonCanonicalPrimeOrderKey: of the 38 non-canonical encodings
// (y = p + k, k < 19, either sign) none decodes to a point of prime order,
// so the keyconv file's NonCanonicalY vectors are all refusals and no
// policy for an accepted one is needed.
func TestNoNonCanonicalPrimeOrderKey(t *testing.T) {
	onCurve := 0
	for y := 0; y < 19; y++ {
		for _, sign := range []byte{0, 0x80} {
			enc := mustHex(smallOrderEd[5])
			enc[0] += byte(y)
			enc[31] |= sign
			small, prime, ok := pointOrder(enc)
			if !ok {
				continue
			}
			onCurve++
			if prime && !small {
				t.Errorf("y = p + %d sign %x is of prime order", y, sign)
			}
		}
	}
	if onCurve != 24 {
		t.Errorf("%d non-canonical encodings on the curve, want 24", onCurve)
	}
}

// TestFlipsWrittenIntoFiles: every generated file whose formats have an
// authenticated part carries its single-byte flips as ordinary invalid
// tests (so other implementations get them from the data), one per byte
// for each valid test, and the runner adds none of its own for it.
func TestFlipsWrittenIntoFiles(t *testing.T) {
	suites, _ := Embedded()
	for _, s := range suites {
		if !strings.HasPrefix(s.File, "mesh_") {
			continue
		}
		valid, flips := map[int]bool{}, map[int]int{}
		flippable := false
		for _, c := range s.Cases {
			if _, ok := c.Input.(flipper); ok && c.Result == Valid {
				valid[c.TcID] = true
				flippable = true
			}
			if len(c.Flags) == 1 && c.Flags[0] == byteFlipFlag {
				var n int
				if _, err := fmt.Sscanf(c.Comment, "tcId %d with", &n); err != nil || c.Result != Invalid {
					t.Errorf("%s tcId %d: flip comment %q, result %s", s.File, c.TcID, c.Comment, c.Result)
				}
				flips[n]++
			}
		}
		if !flippable {
			continue
		}
		if _, ok := s.Notes[byteFlipFlag]; !ok || len(Expand(s)) != 0 {
			t.Errorf("%s: no ByteFlip note, or the runner still expands it", s.File)
		}
		for id := range valid {
			if flips[id] < 16 {
				t.Errorf("%s: valid tcId %d has %d flips in the file", s.File, id, flips[id])
			}
		}
	}
}

// TestMentionVectorsAreNodes: the mention vectors are exactly what Node
// writes with SPEC §5's rule (the broker's regex, toLowerCase, Set);
// Go never computes an expected token or recipient.
func TestMentionVectorsAreNodes(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true: it computes the mention vectors")
		}
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "testdata/mention/mention_vectors.mjs").Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	emb, _ := EmbeddedFiles()
	if !bytes.Equal(out, emb["mention_v1_test.json"]) {
		t.Error("data/mention_v1_test.json is not the output of testdata/mention/mention_vectors.mjs")
	}
}
