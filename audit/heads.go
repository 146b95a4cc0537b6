package audit

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
)

// headState follows one checkpointed head through a mesh's rows.
type headState struct {
	Head
	seen bool   // the head row was found
	hash string // its stored hash
	pos  int64  // its position (1-based) in the chain
	root string // hex Merkle root when the tree reached Rows leaves
}

// startHeads sets up a new mesh's checkpointed heads and Merkle tree.
func (k *checker) startHeads(m *meshState) {
	for _, h := range k.heads[m.res.MeshID] {
		m.heads = append(m.heads, headState{Head: h})
	}
	slices.SortStableFunc(m.heads, func(a, b headState) int { return cmp.Compare(a.Rows, b.Rows) })
	if k.merkleRoots || slices.ContainsFunc(m.heads, func(h headState) bool { return h.Root != "" }) {
		m.tree = &treeBuilder{}
	}
}

// trackHeads adds the row just checked (the mesh's m.res.Rows-th) to the
// mesh's tree and notes where checkpointed heads show up.
func (k *checker) trackHeads(m *meshState, r *rowView) {
	for i := range m.heads {
		if h := &m.heads[i]; r.id == h.HeadID {
			h.seen, h.hash, h.pos = true, string(r.hash), m.res.Rows
		}
	}
	if m.tree == nil {
		return
	}
	if err := m.tree.add(LeafData(r.hash)); err != nil {
		m.tree = nil // cannot happen: tlog reads only hashes the tree keeps
		return
	}
	need := k.merkleRoots
	for i := range m.heads {
		h := &m.heads[i]
		if h.Rows == m.tree.n && h.Root != "" {
			if root, err := m.tree.root(); err == nil {
				h.root = hex.EncodeToString(root[:])
			}
		}
		need = need || h.Rows > m.tree.n
	}
	if !need {
		m.tree = nil // every checkpointed size is behind us
	}
}

// finishHeads records the mesh's Merkle root and checks its heads.
func (k *checker) finishHeads(m *meshState) {
	if k.merkleRoots && m.tree != nil && m.tree.n == m.res.Rows {
		if root, err := m.tree.root(); err == nil {
			m.res.MerkleRoot = hex.EncodeToString(root[:])
		}
	}
	for i := range m.heads {
		k.checkHead(m, &m.heads[i])
	}
}

// checkHead compares a checkpointed head with the chain as found.
func (k *checker) checkHead(m *meshState, h *headState) {
	rows, lastID := m.res.Rows, m.res.LastID
	switch {
	case !h.seen && (rows < h.Rows || lastID < h.HeadID):
		k.add(m, Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Truncation,
			Expected: fmt.Sprintf("%d rows up to id %d", h.Rows, h.HeadID),
			Found:    fmt.Sprintf("%d rows up to id %d", rows, lastID)})
	case !h.seen:
		// As many rows or more, but the signed head is gone: rows were
		// deleted and the chain went on from an earlier row.
		k.add(m, Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Truncation,
			Expected: "row " + strconv.FormatInt(h.HeadID, 10) + " with hash " + h.HeadHash,
			Found:    "no row with that id"})
	case h.hash != h.HeadHash:
		k.add(m, Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Rewrite, Expected: h.HeadHash, Found: value([]byte(h.hash))})
	case h.pos < h.Rows:
		k.add(m, Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Truncation,
			Expected: fmt.Sprintf("row %d at position %d", h.HeadID, h.Rows),
			Found:    fmt.Sprintf("position %d (rows before it deleted)", h.pos)})
	case h.pos > h.Rows:
		k.add(m, Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Rewrite,
			Expected: fmt.Sprintf("row %d at position %d", h.HeadID, h.Rows),
			Found:    fmt.Sprintf("position %d (rows inserted before it)", h.pos)})
	case h.Root != "" && h.root != h.Root:
		// Same head row at the same place, yet the rows up to it hash to
		// another tree: a row before it was replaced.
		k.add(m, Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Rewrite,
			Expected: fmt.Sprintf("Merkle root %s over %d rows", h.Root, h.Rows),
			Found:    fmt.Sprintf("Merkle root %s", h.root)})
	}
}
