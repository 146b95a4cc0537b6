package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "ops.example/installation-1"

var testTime = time.Date(2026, 12, 2, 17, 30, 0, 0, time.UTC)

// testCheckpoint signs a checkpoint over three meshes (ids chosen to need
// escaping) and returns it with the keys.
func testCheckpoint(t *testing.T) (data []byte, heads []Head, skey, vkey string) {
	t.Helper()
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	rows := append(append(memChain(t, "a|b/c d", 3), memChain(t, "x+y", 5)...), memChain(t, "z", 4)...)
	heads = HeadsOf(VerifyRows(rows, nil))
	data, err = SignCheckpoint(testOrigin, testTime, heads, skey)
	if err != nil {
		t.Fatal(err)
	}
	return data, heads, skey, vkey
}

func TestCheckpointRoundTrip(t *testing.T) {
	data, heads, skey, vkey := testCheckpoint(t)
	cp, err := OpenCheckpoint(data, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != testOrigin || !cp.Time.Equal(testTime) {
		t.Fatalf("origin %q time %v", cp.Origin, cp.Time)
	}
	if diff := cmp.Diff(heads, cp.Heads()); diff != "" {
		t.Fatalf("heads (-signed +opened):\n%s", diff)
	}
	if strings.Contains(string(data), strings.TrimPrefix(skey, "PRIVATE+KEY+")) {
		t.Fatal("checkpoint contains the private key")
	}
	// Each mesh note is a C2SP tlog-checkpoint on its own: origin, size,
	// base64 root (the tree over the rows' hashes), signed by a key named
	// after the installation origin.
	v, _ := note.NewVerifier(vkey)
	for _, h := range heads {
		mc, ok := cp.Mesh(h.MeshID)
		if !ok {
			t.Fatalf("mesh %q not covered", h.MeshID)
		}
		n, err := note.Open(mc.Note, note.VerifierList(v))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(n.Text, "\n")
		root, _ := hex.DecodeString(h.Root)
		if lines[0] != MeshOrigin(testOrigin, h.MeshID) || lines[1] != strconv.FormatInt(h.Rows, 10) || lines[2] != base64.StdEncoding.EncodeToString(root) {
			t.Fatalf("mesh note %q is not origin/size/root", n.Text)
		}
		if strings.ContainsAny(lines[0], "+ ") {
			t.Fatalf("origin line %q holds '+' or a space", lines[0])
		}
		if n.Sigs[0].Name != testOrigin {
			t.Fatalf("signed by %q", n.Sigs[0].Name)
		}
		if _, err := OpenMeshCheckpoint(mc.Note, vkey); err != nil {
			t.Fatal(err)
		}
	}
	// The root is the RFC 6962 root over the rows' hashes.
	rows := memChain(t, "z", 4)
	var leaves [][]byte
	for _, r := range rows {
		leaves = append(leaves, LeafData([]byte(r.Hash)))
	}
	root, _ := TreeRoot(leaves)
	if mc, _ := cp.Mesh("z"); mc.Root != hex.EncodeToString(root[:]) {
		t.Fatal("mesh z's root is not the tree root of its row hashes")
	}
}

// openFails checks that a variant of the file is refused, and how.
func openFails(t *testing.T, what string, data []byte, vkey string) error {
	t.Helper()
	cp, err := OpenCheckpoint(data, vkey)
	if err == nil {
		t.Fatalf("%s: accepted (%d meshes)", what, len(cp.Meshes))
	}
	if !errors.Is(err, ErrCheckpoint) && !errors.Is(err, ErrCheckpointForged) {
		t.Fatalf("%s: untyped error %v", what, err)
	}
	return err
}

// TestCheckpointCannotBeNarrowed: every single-line deletion, every
// truncation, every swap of two lines, every one-byte change of the file
// is refused; removing or moving whole notes is reported as altered.
func TestCheckpointCannotBeNarrowed(t *testing.T) {
	data, _, _, vkey := testCheckpoint(t)
	lines := strings.SplitAfter(string(data), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last "\n"
	for i := range lines {
		v := strings.Join(append(append([]string{}, lines[:i]...), lines[i+1:]...), "")
		openFails(t, "delete line "+strconv.Itoa(i+1)+" "+strings.TrimSpace(lines[i]), []byte(v), vkey)
	}
	for n := 0; n < len(data); n++ {
		openFails(t, "truncate to "+strconv.Itoa(n)+" bytes", data[:n], vkey)
	}
	for i := range lines {
		for j := i + 1; j < len(lines); j++ {
			sw := append([]string{}, lines...)
			sw[i], sw[j] = sw[j], sw[i]
			if v := strings.Join(sw, ""); v != string(data) {
				openFails(t, "swap lines "+strconv.Itoa(i+1)+" and "+strconv.Itoa(j+1), []byte(v), vkey)
			}
		}
	}
	for i := range data {
		for _, x := range []byte{0x01, 0x20, 0x80} {
			v := bytes.Clone(data)
			v[i] ^= x
			openFails(t, "flip byte "+strconv.Itoa(i), v, vkey)
		}
	}

	// Whole notes: the index binds them.
	msgs, err := splitNotes(data)
	if err != nil || len(msgs) != 4 {
		t.Fatalf("%d notes, %v", len(msgs), err)
	}
	join := func(ms ...[]byte) []byte { return bytes.Join(ms, nil) }
	for name, v := range map[string][]byte{
		"drop mesh note 1":    join(msgs[0], msgs[2], msgs[3]),
		"drop mesh note 2":    join(msgs[0], msgs[1], msgs[3]),
		"drop last mesh note": join(msgs[0], msgs[1], msgs[2]),
		"swap mesh notes":     join(msgs[0], msgs[2], msgs[1], msgs[3]),
		"index last":          join(msgs[1], msgs[2], msgs[3], msgs[0]),
		"mesh note twice":     join(msgs[0], msgs[1], msgs[1], msgs[2], msgs[3]),
	} {
		if err := openFails(t, name, v, vkey); !errors.Is(err, ErrCheckpointForged) {
			t.Errorf("%s: %v, want %v", name, err, ErrCheckpointForged)
		}
	}
}

func TestCheckpointRefusals(t *testing.T) {
	data, heads, skey, vkey := testCheckpoint(t)
	_, otherV, _ := GenerateKey("other.example/x")
	sameNameS, sameNameV, _ := GenerateKey(testOrigin)
	for name, c := range map[string]struct {
		data, key string
		want      error
	}{
		"other key":           {string(data), otherV, ErrCheckpoint},
		"same name other key": {string(data), sameNameV, ErrCheckpoint},
		"not notes":           {"hello\n", vkey, ErrCheckpoint},
		"empty":               {"", vkey, ErrCheckpoint},
		"priv key":            {string(data), skey, ErrCheckpoint},
		"hostname as key":     {string(data), "myhost\n", ErrCheckpoint},
	} {
		if _, err := OpenCheckpoint([]byte(c.data), c.key); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", name, err, c.want)
		}
	}
	// A key signs only for the origin it is named after.
	if _, err := SignCheckpoint("another.example/y", testTime, heads, skey); err == nil {
		t.Error("signed for an origin other than the key's name")
	}
	// A mesh note of another checkpoint (same key, other time) in place
	// of this one's: altered.
	later, _ := SignCheckpoint(testOrigin, testTime.Add(time.Hour), heads, skey)
	a, _ := splitNotes(data)
	b, _ := splitNotes(later)
	mixed := bytes.Join([][]byte{a[0], a[1], b[2], a[3]}, nil)
	if err := openFails(t, "mixed", mixed, vkey); !errors.Is(err, ErrCheckpointForged) {
		t.Errorf("mixed: %v", err)
	}
	// The first format (per-mesh notes, no index) is refused, named.
	legacy, _ := note.Sign(&note.Note{Text: "claudemesh.audit/v1/m\n3\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\nid 30\n"}, mustSigner(t, sameNameS))
	if _, err := OpenCheckpoint(legacy, sameNameV); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "old-format") {
		t.Errorf("legacy: %v", err)
	}
	for _, o := range []string{"", "a b", "a+b", "a\nb", "a\x1bb"} {
		if _, _, err := GenerateKey(o); err == nil {
			t.Errorf("GenerateKey(%q) accepted", o)
		}
	}
}

func mustSigner(t *testing.T, skey string) note.Signer {
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The verifier key derived from a signer key is the one GenerateKey made
// with it (x/mod's note package writes both); refusals never echo the key.
func TestVerifierKeyOfSigner(t *testing.T) {
	for i := 0; i < 20; i++ {
		signer, verifier, err := GenerateKey("audit.example.com/prod")
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifierKey(signer + "\n")
		if err != nil || got != verifier {
			t.Fatalf("VerifierKey: %q, %v; want %q", got, err, verifier)
		}
		if _, err := VerifierKey(verifier); err == nil || strings.Contains(err.Error(), verifier) {
			t.Fatalf("VerifierKey of a verifier key: %v", err)
		}
		bad := signer[:len(signer)-4] + "AAAA"
		if _, err := VerifierKey(bad); err == nil || strings.Contains(err.Error(), "PRIVATE") {
			t.Fatalf("VerifierKey of a damaged key: %v", err)
		}
	}
}
