package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"
)

// testLeaves returns n distinct 32-byte leaves.
func testLeaves(n int) [][]byte {
	leaves := make([][]byte, n)
	for i := range leaves {
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		leaves[i] = s[:]
	}
	return leaves
}

// nodeOrNot returns node's path; under CI=true its absence fails the test.
func nodeOrNot(t *testing.T) string {
	t.Helper()
	node, err := osexec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true: it is the independent Merkle oracle")
		}
		t.Skip("node not installed")
	}
	return node
}

// TestTreeRootMatchesRFC6962Oracle: the streaming tree's root at every
// size equals RFC 6962's recursive definition, computed by Node.
func TestTreeRootMatchesRFC6962Oracle(t *testing.T) {
	node := nodeOrNot(t)
	leaves := testLeaves(70)
	hexes := make([]string, len(leaves))
	for i, l := range leaves {
		hexes[i] = hex.EncodeToString(l)
	}
	in, _ := json.Marshal(hexes)
	cmd := osexec.Command(node, "testdata/rfc6962_root.js")
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	var b treeBuilder
	var got []string
	for _, l := range leaves {
		if err := b.add(l); err != nil {
			t.Fatal(err)
		}
		r, err := b.root()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, hex.EncodeToString(r[:]))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("roots (-node +tlog):\n%s", diff)
	}
	if r, _ := TreeRoot(leaves[:5]); hex.EncodeToString(r[:]) != want[4] {
		t.Fatal("TreeRoot(5 leaves) differs from the oracle")
	}
}

// fullStore keeps every stored hash: the plain way to use tlog.
type fullStore []tlog.Hash

func (s fullStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		out[i] = s[idx]
	}
	return out, nil
}

// TestStreamingProofsEqualFullStore: proofs made from the few hashes a
// streaming pass keeps equal those made from every stored hash, and check.
func TestStreamingProofsEqualFullStore(t *testing.T) {
	leaves := testLeaves(33)
	var full fullStore
	for i, l := range leaves {
		hs, err := tlog.StoredHashes(int64(i), l, full)
		if err != nil {
			t.Fatal(err)
		}
		full = append(full, hs...)
	}
	for size := int64(1); size <= int64(len(leaves)); size++ {
		root, err := tlog.TreeHash(size, full)
		if err != nil {
			t.Fatal(err)
		}
		for n := int64(0); n < size; n++ {
			want, _ := tlog.ProveRecord(size, n, full)
			tree, err := forRecordProof(size, n)
			got, err := tlog.ProveRecord(size, n, grown(t, tree, err, leaves[:size]))
			if err != nil {
				t.Fatalf("size %d leaf %d: %v", size, n, err)
			}
			if !cmp.Equal(want, got) {
				t.Fatalf("size %d leaf %d: inclusion proof differs", size, n)
			}
			if err := tlog.CheckRecord(got, size, root, n, tlog.RecordHash(leaves[n])); err != nil {
				t.Fatalf("size %d leaf %d: %v", size, n, err)
			}
		}
		for old := int64(1); old <= size; old++ {
			want, _ := tlog.ProveTree(size, old, full)
			tree, err := forTreeProof(size, old)
			got, err := tlog.ProveTree(size, old, grown(t, tree, err, leaves[:size]))
			if err != nil {
				t.Fatalf("%d -> %d: %v", old, size, err)
			}
			if !cmp.Equal(want, got) {
				t.Fatalf("%d -> %d: consistency proof differs", old, size)
			}
		}
	}
}

// TestProofsMatchRFC9162Oracle: the proofs the streaming tree gives are
// accepted by RFC 9162's verification algorithms computed by Node, and a
// proof for the wrong leaf, position or root is rejected by them.
func TestProofsMatchRFC9162Oracle(t *testing.T) {
	node := nodeOrNot(t)
	leaves := testLeaves(21)
	type oracleCase struct {
		Kind       string   `json:"kind"`
		Index      int64    `json:"index"`
		Size       int64    `json:"size"`
		Leaf       string   `json:"leaf,omitempty"`
		Root       string   `json:"root,omitempty"`
		First      int64    `json:"first"`
		Second     int64    `json:"second"`
		FirstRoot  string   `json:"firstRoot,omitempty"`
		SecondRoot string   `json:"secondRoot,omitempty"`
		Proof      []string `json:"proof"`
	}
	hx := func(hs []tlog.Hash) []string {
		out := []string{}
		for _, h := range hs {
			out = append(out, hex.EncodeToString(h[:]))
		}
		return out
	}
	roots := make([]string, len(leaves)+1)
	for size := 1; size <= len(leaves); size++ {
		r, _ := TreeRoot(leaves[:size])
		roots[size] = hex.EncodeToString(r[:])
	}
	var cases []oracleCase
	var want []bool
	for size := int64(1); size <= int64(len(leaves)); size++ {
		for n := int64(0); n < size; n++ {
			tree, err := forRecordProof(size, n)
			p, err := tlog.ProveRecord(size, n, grown(t, tree, err, leaves[:size]))
			if err != nil {
				t.Fatal(err)
			}
			c := oracleCase{Kind: "inclusion", Index: n, Size: size, Leaf: hex.EncodeToString(leaves[n]), Root: roots[size], Proof: hx(p)}
			wrongLeaf := c
			wrongLeaf.Leaf = hex.EncodeToString(leaves[(n+1)%size])
			wrongRoot := c
			wrongRoot.Root = roots[max(1, size-1)]
			cases = append(cases, c, wrongLeaf, wrongRoot)
			want = append(want, true, size == 1, size == 1) // one leaf: the "wrong" ones are the same
		}
		for old := int64(1); old <= size; old++ {
			tree, err := forTreeProof(size, old)
			p, err := tlog.ProveTree(size, old, grown(t, tree, err, leaves[:size]))
			if err != nil {
				t.Fatal(err)
			}
			c := oracleCase{Kind: "consistency", First: old, Second: size, FirstRoot: roots[old], SecondRoot: roots[size], Proof: hx(p)}
			wrongOld := c
			wrongOld.FirstRoot = roots[size]
			cases = append(cases, c, wrongOld)
			want = append(want, true, old == size)
		}
	}
	in, _ := json.Marshal(cases)
	cmd := osexec.Command(node, "testdata/rfc9162_verify.js")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d verdicts for %d cases", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("case %+v: node says %v, want %v", cases[i], got[i], want[i])
		}
	}
}

// grown grows a planned tree to the given leaves.
func grown(t *testing.T, tree *treeBuilder, err error, leaves [][]byte) *treeBuilder {
	t.Helper()
	if err == nil {
		err = tree.addAll(leaves)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// BenchmarkTreeAdd: the cost per row of growing a mesh's tree (what a
// checkpoint adds to verification, on the checker's goroutine).
func BenchmarkTreeAdd(b *testing.B) {
	leaf := []byte(strings.Repeat("ab", 32))
	var t treeBuilder
	b.ReportAllocs()
	for b.Loop() {
		if err := t.add(LeafData(leaf)); err != nil {
			b.Fatal(err)
		}
	}
}
