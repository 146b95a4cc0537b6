package audit

import (
	"encoding/hex"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// A mesh's chain is also an RFC 6962 Merkle tree (the "log" of a C2SP
// tlog-checkpoint): leaf i is the i-th row of the mesh in id order, and
// its leaf data is LeafData(row.hash) — the 32 bytes that the row's v1
// hash column spells in hex. The leaf hash is therefore
// SHA-256(0x00 || those 32 bytes) and interior nodes are
// SHA-256(0x01 || left || right), as golang.org/x/mod/sumdb/tlog computes
// them; this file only decides which hashes to keep.

// LeafData returns a row's Merkle leaf data: the 32 bytes its stored hash
// column spells as 64 lowercase hex digits. A stored value that is not
// such a hash (a row that already fails its content check) enters as its
// raw bytes, so the tree still has one leaf per row.
func LeafData(storedHash []byte) []byte {
	if len(storedHash) == 64 && isLowerHex(storedHash) {
		var b [32]byte
		hex.Decode(b[:], storedHash)
		return b[:]
	}
	return storedHash
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// treeBuilder grows a Merkle tree one leaf at a time and keeps only the
// stored hashes it will be asked for: the last one of each level (enough
// for tlog to add a leaf and to compute the tree hash at the current
// size, O(log n) memory), plus the indexes a proof named in advance.
type treeBuilder struct {
	n        int64
	frontier []storedHash   // by level: the latest stored hash of that level (log2(n)+1 of them)
	want     map[int64]bool // stored-hash indexes to keep (for a proof)
	kept     map[int64]tlog.Hash
}

type storedHash struct {
	index int64
	hash  tlog.Hash
}

// ReadHashes serves tlog from the kept hashes; asking for another one is
// a bug in the plan (errMissingHash), never a wrong answer.
func (b *treeBuilder) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, _ := tlog.SplitStoredHashIndex(idx)
		if level < len(b.frontier) && b.frontier[level].index == idx {
			out[i] = b.frontier[level].hash
			continue
		}
		h, ok := b.kept[idx]
		if !ok {
			return nil, fmt.Errorf("merkle tree: stored hash %d was not kept", idx)
		}
		out[i] = h
	}
	return out, nil
}

// add appends one leaf (its leaf data, see LeafData).
func (b *treeBuilder) add(leaf []byte) error {
	hs, err := tlog.StoredHashes(b.n, leaf, b)
	if err != nil {
		return err
	}
	for level, h := range hs {
		idx := tlog.StoredHashIndex(level, b.n>>uint(level))
		if level == len(b.frontier) {
			b.frontier = append(b.frontier, storedHash{})
		}
		b.frontier[level] = storedHash{index: idx, hash: h}
		if b.want[idx] {
			if b.kept == nil {
				b.kept = map[int64]tlog.Hash{}
			}
			b.kept[idx] = h
		}
	}
	b.n++
	return nil
}

// root returns the tree hash at the current size.
func (b *treeBuilder) root() (tlog.Hash, error) { return tlog.TreeHash(b.n, b) }

// indexRecorder is a HashReader that answers zeros and remembers what
// was asked: tlog's proofs read indexes that depend only on the sizes,
// so a dry run tells which hashes a streaming pass must keep.
type indexRecorder map[int64]bool

func (r indexRecorder) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	for _, i := range indexes {
		r[i] = true
	}
	return make([]tlog.Hash, len(indexes)), nil
}

// TreeRoot returns the RFC 6962 tree hash of the given leaves (each leaf's
// data as LeafData returns it).
func TreeRoot(leaves [][]byte) (tlog.Hash, error) {
	var b treeBuilder
	if err := b.addAll(leaves); err != nil {
		return tlog.Hash{}, err
	}
	return b.root()
}

// addAll appends leaves in order.
func (b *treeBuilder) addAll(leaves [][]byte) error {
	for _, l := range leaves {
		if err := b.add(l); err != nil {
			return err
		}
	}
	return nil
}

// forRecordProof returns an empty tree that, grown to size leaves, keeps
// the hashes tlog.ProveRecord(size, n) reads.
func forRecordProof(size, n int64) (*treeBuilder, error) {
	rec := indexRecorder{}
	if _, err := tlog.ProveRecord(size, n, rec); err != nil {
		return nil, err
	}
	return &treeBuilder{want: rec}, nil
}

// forTreeProof returns an empty tree that, grown to size leaves, keeps the
// hashes tlog.ProveTree(size, old) reads.
func forTreeProof(size, old int64) (*treeBuilder, error) {
	rec := indexRecorder{}
	if _, err := tlog.ProveTree(size, old, rec); err != nil {
		return nil, err
	}
	return &treeBuilder{want: rec}, nil
}
