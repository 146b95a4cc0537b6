package audit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"
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
)

// Finding is one break in a chain.
type Finding struct {
	MeshID     string `json:"mesh_id"`
	RowID      int64  `json:"row_id"`                 // the row where the break shows
	OtherRowID int64  `json:"other_row_id,omitempty"` // fork, genesis_duplicate: the earlier row
	Class      Class  `json:"class"`
	Expected   string `json:"expected"`
	Found      string `json:"found"`
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
	Findings int    `json:"findings"`
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
	Rows            int64 `json:"rows"`
}

// Clean reports whether no mesh showed a break.
func (r *Report) Clean() bool {
	return len(r.Findings) == 0 && r.FindingsOmitted == 0
}

// Head is one mesh's checkpointed state: how many rows its chain had, and
// the id and hash of the last one.
type Head struct {
	MeshID   string
	Rows     int64
	HeadID   int64
	HeadHash string
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

// DefaultWindow is how many preceding rows per mesh Verify remembers to
// tell a fork (two rows on the same prev_hash) from a plain link mismatch.
const DefaultWindow = 4096

// DefaultMaxFindings bounds the findings a Report lists.
const DefaultMaxFindings = 100000

// rowView is a row during verification: byte slices into a batch arena.
type rowView struct {
	id                          int64
	mesh, event, actor, payload []byte
	prev, hash                  []byte
	actorNull                   bool
	ms                          int64 // created_at, ms since the Unix epoch
	computed                    [32]byte
	problem                     string // non-empty: unreadable, and why
}

// ringEntry remembers one earlier row's prev_hash.
type ringEntry struct {
	id   int64
	prev [64]byte
	n    int // len(prev); -1 when longer than 64 bytes (never matches)
}

// checker holds the sequential part of verification: links, forks,
// checkpoints, counts. Content hashes arrive precomputed.
type checker struct {
	rep         Report
	maxFindings int
	heads       map[string]Head // checkpoint, by mesh
	seen        map[string]bool // checkpointed meshes met in the stream

	// current mesh
	cur      *MeshResult
	lastHash []byte
	ring     []ringEntry
	ringNext int
	ringLen  int
	runStart int // findings of the last bad row: rep.Findings[runStart:runEnd]
	runEnd   int
	head     *Head
	headSeen bool
	headHash string
	headPos  int64
	hexBuf   [64]byte
}

func newChecker(window, maxFindings int, heads []Head) *checker {
	if window <= 0 {
		window = DefaultWindow
	}
	if maxFindings <= 0 {
		maxFindings = DefaultMaxFindings
	}
	k := &checker{maxFindings: maxFindings, ring: make([]ringEntry, window), seen: map[string]bool{}}
	k.rep.Meshes = []MeshResult{}
	k.rep.Findings = []Finding{}
	if heads != nil {
		k.heads = make(map[string]Head, len(heads))
		for _, h := range heads {
			k.heads[h.MeshID] = h
		}
	}
	return k
}

func (k *checker) add(f Finding) {
	if k.cur != nil && k.cur.MeshID == f.MeshID {
		k.cur.Findings++
	} else {
		for i := range k.rep.Meshes {
			if k.rep.Meshes[i].MeshID == f.MeshID {
				k.rep.Meshes[i].Findings++
			}
		}
	}
	if len(k.rep.Findings) >= k.maxFindings {
		k.rep.FindingsOmitted++
		return
	}
	k.rep.Findings = append(k.rep.Findings, f)
}

func (k *checker) startMesh(mesh []byte, id int64) {
	k.endMesh()
	k.rep.Meshes = append(k.rep.Meshes, MeshResult{MeshID: string(mesh), FirstID: id})
	k.cur = &k.rep.Meshes[len(k.rep.Meshes)-1]
	k.lastHash = k.lastHash[:0]
	k.ringNext, k.ringLen = 0, 0
	k.runStart, k.runEnd = len(k.rep.Findings), len(k.rep.Findings)
	k.head, k.headSeen, k.headHash, k.headPos = nil, false, "", 0
	if h, ok := k.heads[k.cur.MeshID]; ok {
		k.head = &h
		k.seen[h.MeshID] = true
	}
}

// row checks one row; rows arrive grouped by mesh, in id order.
func (k *checker) row(r *rowView) {
	if k.cur == nil || string(r.mesh) != k.cur.MeshID {
		k.startMesh(r.mesh, r.id)
	}
	m := k.cur
	mesh := m.MeshID
	before, omitted := len(k.rep.Findings), k.rep.FindingsOmitted

	// Content: the row's own fields against its stored hash.
	switch {
	case r.problem != "":
		k.add(Finding{MeshID: mesh, RowID: r.id, Class: Unreadable, Found: r.problem})
	default:
		hex.Encode(k.hexBuf[:], r.computed[:])
		if !bytes.Equal(k.hexBuf[:], r.hash) {
			k.add(Finding{MeshID: mesh, RowID: r.id, Class: ContentMismatch, Expected: string(k.hexBuf[:]), Found: string(r.hash)})
		}
	}

	// Link: prev_hash against the previous row's stored hash.
	switch {
	case m.Rows == 0:
		if string(r.prev) != Genesis {
			k.add(Finding{MeshID: mesh, RowID: r.id, Class: LinkMismatch, Expected: Genesis, Found: string(r.prev)})
		}
	case bytes.Equal(r.prev, k.lastHash):
	case string(r.prev) == Genesis:
		k.add(Finding{MeshID: mesh, RowID: r.id, OtherRowID: m.FirstID, Class: GenesisDuplicate, Expected: string(k.lastHash), Found: Genesis})
	default:
		if other, ok := k.claimed(r.prev); ok {
			k.add(Finding{MeshID: mesh, RowID: r.id, OtherRowID: other, Class: Fork, Expected: string(k.lastHash), Found: string(r.prev)})
		} else {
			k.add(Finding{MeshID: mesh, RowID: r.id, Class: LinkMismatch, Expected: string(k.lastHash), Found: string(r.prev)})
		}
	}

	if len(k.rep.Findings) != before || k.rep.FindingsOmitted != omitted {
		k.runStart, k.runEnd = before, len(k.rep.Findings)
	} else {
		for i := k.runStart; i < k.runEnd; i++ {
			k.rep.Findings[i].RowsVerified++
		}
	}

	k.remember(r)
	m.Rows++
	m.LastID = r.id
	k.lastHash = append(k.lastHash[:0], r.hash...)
	k.rep.Rows++
	if k.head != nil && r.id == k.head.HeadID {
		k.headSeen, k.headHash, k.headPos = true, string(r.hash), m.Rows
	}
}

// claimed reports the id of a remembered earlier row with this prev_hash.
func (k *checker) claimed(prev []byte) (int64, bool) {
	if len(prev) > 64 {
		return 0, false
	}
	for i := 0; i < k.ringLen; i++ {
		e := &k.ring[i]
		if e.n == len(prev) && bytes.Equal(e.prev[:e.n], prev) {
			return e.id, true
		}
	}
	return 0, false
}

func (k *checker) remember(r *rowView) {
	e := &k.ring[k.ringNext]
	e.id = r.id
	if len(r.prev) > 64 {
		e.n = -1
	} else {
		e.n = copy(e.prev[:], r.prev)
	}
	k.ringNext = (k.ringNext + 1) % len(k.ring)
	k.ringLen = min(k.ringLen+1, len(k.ring))
}

// endMesh closes the current mesh: head hash and checkpoint comparison.
func (k *checker) endMesh() {
	m := k.cur
	if m == nil {
		return
	}
	m.HeadHash = string(k.lastHash)
	if h := k.head; h != nil {
		k.checkHead(*h, m.Rows, m.LastID)
	}
	k.cur = nil
}

// checkHead compares a checkpointed head with the chain as found.
func (k *checker) checkHead(h Head, rows, lastID int64) {
	switch {
	case !k.headSeen && (rows < h.Rows || lastID < h.HeadID):
		k.add(Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Truncation,
			Expected: fmt.Sprintf("%d rows up to id %d", h.Rows, h.HeadID),
			Found:    fmt.Sprintf("%d rows up to id %d", rows, lastID)})
	case !k.headSeen:
		k.add(Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Rewrite,
			Expected: "row " + strconv.FormatInt(h.HeadID, 10) + " with hash " + h.HeadHash,
			Found:    "no row with that id"})
	case k.headHash != h.HeadHash:
		k.add(Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Rewrite, Expected: h.HeadHash, Found: k.headHash})
	case k.headPos < h.Rows:
		k.add(Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Truncation,
			Expected: fmt.Sprintf("row %d at position %d", h.HeadID, h.Rows),
			Found:    fmt.Sprintf("position %d (rows before it deleted)", k.headPos)})
	case k.headPos > h.Rows:
		k.add(Finding{MeshID: h.MeshID, RowID: h.HeadID, Class: Rewrite,
			Expected: fmt.Sprintf("row %d at position %d", h.HeadID, h.Rows),
			Found:    fmt.Sprintf("position %d (rows inserted before it)", k.headPos)})
	}
}

// finish closes the last mesh and reports checkpointed meshes that have no
// rows left. Only meshes in scope are checked (all, or the one asked for).
func (k *checker) finish(scope string) *Report {
	k.endMesh()
	ids := make([]string, 0, len(k.heads))
	for id := range k.heads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		h := k.heads[id]
		if k.seen[id] || (scope != "" && id != scope) {
			continue
		}
		k.rep.Meshes = append(k.rep.Meshes, MeshResult{MeshID: id})
		k.headSeen = false
		k.checkHead(h, 0, 0)
	}
	return &k.rep
}

// compute fills r.computed with the v1 hash of r's fields, or sets
// r.problem when the row cannot be hashed.
func (h *hasher) compute(r *rowView, canon []byte) []byte {
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

// VerifyRows verifies rows held in memory, grouped by mesh and in id order
// within each mesh, against optional checkpointed heads. It is Verify
// without the database, for tests and for tools that read rows elsewhere.
func VerifyRows(rows []Row, heads []Head) *Report {
	k := newChecker(0, 0, heads)
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
		} else {
			v.ms = maxDateMs + 1
		}
		canon = h.compute(&v, canon)
		k.row(&v)
	}
	return k.finish("")
}
