package audit

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Class names a kind of finding.
type Class string

const (
	// ContentMismatch: a row's stored hash is not the hash of its fields
	// (a field was edited after the row was written).
	ContentMismatch Class = "content_mismatch"
	// LinkMismatch: a row's prev_hash is not the previous row's hash
	// (a row was inserted, deleted or moved).
	LinkMismatch Class = "link_mismatch"
	// Fork: two rows claim the same prev_hash (a writer without the lock,
	// or a forged row slipped in before a genuine one).
	Fork Class = "fork"
	// GenesisDuplicate: a row other than the first claims prev "genesis".
	GenesisDuplicate Class = "genesis_duplicate"
	// Truncation: fewer rows than a checkpoint recorded, or its head is gone.
	Truncation Class = "truncation"
	// Rewrite: the checkpointed head row now has a different hash, or sits
	// at another position: the chain was re-sealed after the checkpoint.
	Rewrite Class = "rewrite"
	// Unreadable: the row cannot be hashed (payload or created_at unusable).
	Unreadable Class = "unreadable"
	// Precision: created_at holds a fraction of a millisecond. The v1 hash
	// covers milliseconds only, so an edit within the millisecond is
	// invisible to it; upstream and Append write whole milliseconds, so
	// such a row was written by something else or edited. A warning
	// (Report.Warnings), or a finding with VerifyOptions.Strict.
	Precision Class = "precision"
)

// Finding is one break in a chain.
type Finding struct {
	MeshID     string `json:"mesh_id"`
	RowID      int64  `json:"row_id"`                 // the row where the break shows
	OtherRowID int64  `json:"other_row_id,omitempty"` // fork, genesis_duplicate: the earlier row
	Class      Class  `json:"class"`
	// Expected and Found are hashes or short descriptions; a stored value
	// longer than 256 bytes is cut, with its length noted.
	Expected string `json:"expected"`
	Found    string `json:"found"`
	// RowsVerified counts the rows after this break that are consistent
	// (content and link) up to the next break or the end of the chain.
	RowsVerified int64 `json:"rows_verified"`
}

// MeshResult summarises one mesh's chain.
type MeshResult struct {
	MeshID   string `json:"mesh_id"`
	Rows     int64  `json:"rows"`
	FirstID  int64  `json:"first_id"`
	LastID   int64  `json:"last_id"`
	HeadHash string `json:"head_hash"`
	// MerkleRoot is the hex RFC 6962 root over the mesh's row hashes
	// (VerifyOptions.MerkleRoots), as a checkpoint records it.
	MerkleRoot string `json:"merkle_root,omitempty"`
	Findings   int    `json:"findings"`
	Warnings   int    `json:"warnings"`
}

// Clean reports whether the mesh's chain showed no break.
func (m MeshResult) Clean() bool { return m.Findings == 0 }

// Report is the outcome of a verification.
type Report struct {
	Meshes   []MeshResult `json:"meshes"`
	Findings []Finding    `json:"findings"`
	// FindingsOmitted counts findings beyond MaxFindings (counted in the
	// meshes' Findings, not listed).
	FindingsOmitted int64 `json:"findings_omitted"`
	// Warnings are findings that are not tampering by themselves
	// (precision, unless VerifyOptions.Strict); WarningsOmitted counts
	// those beyond MaxFindings.
	Warnings        []Finding `json:"warnings"`
	WarningsOmitted int64     `json:"warnings_omitted"`
	Rows            int64     `json:"rows"`
}

// Clean reports whether no mesh showed a break.
func (r *Report) Clean() bool {
	return len(r.Findings) == 0 && r.FindingsOmitted == 0
}

// Head is one mesh's checkpointed state: how many rows its chain had, the
// id and hash of the last one, and the Merkle root over all of them.
type Head struct {
	MeshID   string
	Rows     int64 // the tree size
	HeadID   int64
	HeadHash string
	Root     string // hex RFC 6962 root over the first Rows row hashes; "" = not checked
}

// Row is one audit_log row as stored, for verifying rows held in memory.
type Row struct {
	ID        int64
	MeshID    string
	EventType string
	Actor     *string
	Payload   []byte // JSON
	PrevHash  string
	Hash      string
	CreatedAt time.Time
}

// DefaultWindow is how many preceding rows (by id, over all meshes) Verify
// remembers to tell a fork (two rows on the same prev_hash) from a plain
// link mismatch. Racing writers produce rows close in id; a fork whose rows
// lie further apart is still reported, as a link_mismatch.
const DefaultWindow = 1 << 16

// DefaultMaxFindings bounds the findings a Report lists.
const DefaultMaxFindings = 100000

// rowView is a row during verification: byte slices into a batch arena.
type rowView struct {
	id                          int64
	mesh, event, actor, payload []byte
	prev, hash                  []byte
	actorNull                   bool
	ms                          int64 // created_at, ms since the Unix epoch
	subMs                       int32 // created_at's nanoseconds beyond ms (µs precision from PostgreSQL)
	computed                    [32]byte
	problem                     string // non-empty: unreadable, and why
	ready                       bool   // computed (or problem) already set
}

// meshState is what the checker keeps per mesh: O(1), whatever the rows.
type meshState struct {
	res      MeshResult
	salt     uint64 // mixes the mesh into prev_hash fingerprints
	lastHash []byte
	runStart int // findings of the mesh's last bad row: rep.Findings[runStart:runEnd]
	runEnd   int
	heads    []headState  // checkpointed heads, if any (see heads.go)
	tree     *treeBuilder // the mesh's Merkle tree, while one is needed
}

// ringEntry remembers one recent row's prev_hash, for fork detection.
type ringEntry struct {
	mesh *meshState
	id   int64
	key  uint64
	prev [64]byte
	n    int // len(prev); 0 = unused
}

// checker holds the sequential part of verification: links, forks,
// checkpoints, counts. Rows arrive in id order (meshes interleaved);
// content hashes arrive precomputed.
type checker struct {
	rep         Report
	strict      bool // precision findings are tampering, not warnings
	maxFindings int
	heads       map[string][]Head
	merkleRoots bool // compute every mesh's Merkle root
	meshes      map[string]*meshState
	last        *meshState // the previous row's mesh (runs are common)
	seed        maphash.Seed
	ring        []ringEntry
	ringNext    int
	claims      map[uint64]int // prev fingerprint -> ring slot
	hexBuf      [64]byte
}

func newChecker(window, maxFindings int, heads []Head) *checker {
	if window <= 0 {
		window = DefaultWindow
	}
	if maxFindings <= 0 {
		maxFindings = DefaultMaxFindings
	}
	k := &checker{maxFindings: maxFindings, meshes: map[string]*meshState{}, seed: maphash.MakeSeed(),
		ring: make([]ringEntry, window), claims: make(map[uint64]int, window)}
	k.rep.Meshes = []MeshResult{}
	k.rep.Findings = []Finding{}
	k.rep.Warnings = []Finding{}
	k.heads = make(map[string][]Head, len(heads))
	for _, h := range heads {
		k.heads[h.MeshID] = append(k.heads[h.MeshID], h)
	}
	return k
}

// maxValue bounds how much of a stored value (hash, prev_hash) a finding
// keeps: a genuine value is 64 bytes, and a forged one of any size must
// not grow the report beyond about MaxFindings × 2 × maxValue bytes.
const maxValue = 256

// value is a stored value for a finding, cut to maxValue bytes (at a
// character boundary) with its full length noted.
func value(b []byte) string {
	if len(b) <= maxValue {
		return string(b)
	}
	n := maxValue
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return fmt.Sprintf("%s... (%d bytes)", b[:n], len(b))
}

func (k *checker) add(m *meshState, f Finding) {
	m.res.Findings++
	if len(k.rep.Findings) >= k.maxFindings {
		k.rep.FindingsOmitted++
		return
	}
	k.rep.Findings = append(k.rep.Findings, f)
}

// warn records a finding that is not tampering by itself.
func (k *checker) warn(m *meshState, f Finding) {
	if k.strict {
		k.add(m, f)
		return
	}
	m.res.Warnings++
	if len(k.rep.Warnings) >= k.maxFindings {
		k.rep.WarningsOmitted++
		return
	}
	k.rep.Warnings = append(k.rep.Warnings, f)
}

// precisionFinding describes a created_at with a sub-millisecond part.
func precisionFinding(mesh string, r *rowView) Finding {
	iso := appendISO(nil, r.ms)
	iso = iso[:len(iso)-1] // drop the Z
	frac := fmt.Sprintf("%06d", r.subMs)
	return Finding{MeshID: mesh, RowID: r.id, Class: Precision,
		Expected: "whole milliseconds (" + string(iso) + "Z)",
		Found:    string(iso) + strings.TrimRight(frac, "0") + "Z"}
}

func (k *checker) mesh(id []byte) *meshState {
	if k.last != nil && string(id) == k.last.res.MeshID {
		return k.last
	}
	m, ok := k.meshes[string(id)]
	if !ok {
		m = &meshState{res: MeshResult{MeshID: string(id)}}
		m.salt = maphash.String(k.seed, m.res.MeshID) * 0x9E3779B97F4A7C15
		k.startHeads(m)
		k.meshes[m.res.MeshID] = m
	}
	k.last = m
	return m
}

// row checks one row; each mesh's rows arrive in id order.
func (k *checker) row(r *rowView) {
	m := k.mesh(r.mesh)
	mesh := m.res.MeshID
	before, omitted := len(k.rep.Findings), k.rep.FindingsOmitted

	// Content: the row's own fields against its stored hash.
	switch {
	case r.problem != "":
		k.add(m, Finding{MeshID: mesh, RowID: r.id, Class: Unreadable, Found: r.problem})
	default:
		hex.Encode(k.hexBuf[:], r.computed[:])
		if !bytes.Equal(k.hexBuf[:], r.hash) {
			k.add(m, Finding{MeshID: mesh, RowID: r.id, Class: ContentMismatch, Expected: string(k.hexBuf[:]), Found: value(r.hash)})
		}
		if r.subMs != 0 {
			k.warn(m, precisionFinding(mesh, r))
		}
	}

	// Link: prev_hash against the previous row's stored hash.
	key := k.fingerprint(m, r.prev)
	switch {
	case m.res.Rows == 0:
		m.res.FirstID = r.id
		if string(r.prev) != Genesis {
			k.add(m, Finding{MeshID: mesh, RowID: r.id, Class: LinkMismatch, Expected: Genesis, Found: value(r.prev)})
		}
	case bytes.Equal(r.prev, m.lastHash):
	case string(r.prev) == Genesis:
		k.add(m, Finding{MeshID: mesh, RowID: r.id, OtherRowID: m.res.FirstID, Class: GenesisDuplicate, Expected: value(m.lastHash), Found: Genesis})
	default:
		if other, ok := k.claimed(m, key, r.prev); ok {
			k.add(m, Finding{MeshID: mesh, RowID: r.id, OtherRowID: other, Class: Fork, Expected: value(m.lastHash), Found: value(r.prev)})
		} else {
			k.add(m, Finding{MeshID: mesh, RowID: r.id, Class: LinkMismatch, Expected: value(m.lastHash), Found: value(r.prev)})
		}
	}

	if len(k.rep.Findings) != before || k.rep.FindingsOmitted != omitted {
		m.runStart, m.runEnd = before, len(k.rep.Findings)
	} else {
		for i := m.runStart; i < m.runEnd; i++ {
			k.rep.Findings[i].RowsVerified++
		}
	}

	if string(r.prev) != Genesis {
		k.remember(m, key, r)
	}
	m.res.Rows++
	m.res.LastID = r.id
	m.lastHash = append(m.lastHash[:0], r.hash...)
	k.rep.Rows++
	if m.tree != nil || m.heads != nil {
		k.trackHeads(m, r)
	}
}

// fingerprint keys a (mesh, prev_hash) claim.
func (k *checker) fingerprint(m *meshState, prev []byte) uint64 {
	return maphash.Bytes(k.seed, prev) ^ m.salt
}

// claimed reports the id of a recent row of the same mesh with this prev_hash.
func (k *checker) claimed(m *meshState, key uint64, prev []byte) (int64, bool) {
	slot, ok := k.claims[key]
	if !ok {
		return 0, false
	}
	e := &k.ring[slot]
	if e.mesh != m || e.n != len(prev) || !bytes.Equal(e.prev[:e.n], prev) {
		return 0, false
	}
	return e.id, true
}

// remember records r's claim on its prev_hash, evicting the oldest.
func (k *checker) remember(m *meshState, key uint64, r *rowView) {
	if len(r.prev) == 0 || len(r.prev) > 64 {
		return // not a hash: cannot be a fork's shared parent
	}
	slot := k.ringNext
	e := &k.ring[slot]
	if e.n > 0 && k.claims[e.key] == slot {
		delete(k.claims, e.key)
	}
	if _, dup := k.claims[key]; !dup {
		// Keep the earliest claim: the fork is reported against it.
		k.claims[key] = slot
	}
	e.mesh, e.id, e.key, e.n = m, r.id, key, copy(e.prev[:], r.prev)
	k.ringNext = (slot + 1) % len(k.ring)
}

// finish checks the checkpointed heads of the meshes in scope (all, or the
// one asked for; a checkpointed mesh with no rows left is a truncation) and
// returns the report, meshes sorted by id and findings by mesh and row.
func (k *checker) finish(scope string) *Report {
	for id := range k.heads {
		if scope == "" || id == scope {
			k.mesh([]byte(id))
		}
	}
	ids := make([]string, 0, len(k.meshes))
	for id := range k.meshes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := k.meshes[id]
		m.res.HeadHash = string(m.lastHash)
		k.finishHeads(m)
		k.rep.Meshes = append(k.rep.Meshes, m.res)
	}
	byRow := func(a, b Finding) int {
		if c := strings.Compare(a.MeshID, b.MeshID); c != 0 {
			return c
		}
		return cmp.Compare(a.RowID, b.RowID)
	}
	slices.SortStableFunc(k.rep.Findings, byRow)
	slices.SortStableFunc(k.rep.Warnings, byRow)
	return &k.rep
}

// compute fills r.computed with the v1 hash of r's fields, or sets
// r.problem when the row cannot be hashed. canon is scratch space, returned
// for reuse.
func (h *hasher) compute(r *rowView, canon []byte) []byte {
	if len(r.payload) >= largePayload {
		h.computeLarge(r)
		return canon
	}
	canon, err := h.canon.Append(canon[:0], r.payload)
	if err != nil {
		r.problem = "payload: " + err.Error()
		return canon
	}
	if r.ms < -maxDateMs || r.ms > maxDateMs {
		r.problem = ErrTimeRange.Error()
		return canon
	}
	r.computed = h.sum(r.prev, r.mesh, r.event, r.actor, r.actorNull, canon, r.ms)
	return canon
}

// largePayload is the payload size from which a row is hashed as a
// stream (see computeLarge) rather than in one buffer.
const largePayload = 1 << 20

// computeLarge hashes a large payload's row without holding the canonical
// form twice: the top-level value streams into SHA-256, and only the
// bytes that must be sorted are buffered. The buffers are not kept for
// the next row.
func (h *hasher) computeLarge(r *rowView) {
	if h.sha == nil {
		h.sha = sha256.New()
	}
	d := h.sha
	d.Reset()
	b := h.prefix(h.buf[:0], r.prev, r.mesh, r.event, r.actor, r.actorNull)
	d.Write(b)
	scratch := make([]byte, 0, len(r.payload)+64)
	_, err := h.canon.writeTo(d, scratch, r.payload)
	switch {
	case err != nil:
		r.problem = "payload: " + err.Error()
	case r.ms < -maxDateMs || r.ms > maxDateMs:
		r.problem = ErrTimeRange.Error()
	default:
		b = appendISO(append(b[:0], '|'), r.ms)
		d.Write(b)
		d.Sum(r.computed[:0])
	}
	h.buf = b
	h.canon = Canonicalizer{}
}

// VerifyRows verifies rows held in memory, grouped by mesh and in id order
// within each mesh, against optional checkpointed heads. It is Verify
// without the database, for tests and for tools that read rows elsewhere.
func VerifyRows(rows []Row, heads []Head) *Report {
	k := newChecker(0, 0, heads)
	k.merkleRoots = true
	var h hasher
	var canon []byte
	for i := range rows {
		r := &rows[i]
		v := rowView{id: r.ID, mesh: []byte(r.MeshID), event: []byte(r.EventType), payload: r.Payload,
			prev: []byte(r.PrevHash), hash: []byte(r.Hash), actorNull: r.Actor == nil}
		if r.Actor != nil {
			v.actor = []byte(*r.Actor)
		}
		if ms, ok := unixMilli(r.CreatedAt); ok {
			v.ms = ms
			v.subMs = int32(r.CreatedAt.Sub(time.UnixMilli(ms)))
		} else {
			v.ms = maxDateMs + 1
		}
		canon = h.compute(&v, canon)
		k.row(&v)
	}
	return k.finish("")
}
