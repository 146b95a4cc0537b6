package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofFormat is the format line of every proof file.
const ProofFormat = "claudemesh-audit-proof/v1"

// ErrProofMalformed reports a proof file that cannot be read: not JSON of
// this format, or not in the exact form meshctl writes.
var ErrProofMalformed = errors.New("proof file malformed")

// ErrProofInvalid reports a well-formed proof that does not prove what it
// claims: a hash, size or event was changed.
var ErrProofInvalid = errors.New("proof does not verify")

// ErrNotProvable reports a proof request the checkpoint cannot answer: no
// such row, or a row written after the checkpoint.
var ErrNotProvable = errors.New("not provable from this checkpoint")

// ErrDatabaseMismatch reports a database whose chain no longer matches a
// signed checkpoint, so no honest proof can be made from it.
var ErrDatabaseMismatch = errors.New("the database does not match the checkpoint")

// InclusionProof shows that one event is the Index-th row (0-based) of its
// mesh's chain as recorded by a signed checkpoint. It is checked offline:
// the event's fields give its v1 hash (the leaf), the proof hashes lead
// from the leaf to the checkpoint's root, and the key verifies the
// checkpoint. Row ids are not hashed by v1, so a proof names the event by
// its position.
type InclusionProof struct {
	Format     string     `json:"format"`
	Type       string     `json:"type"` // "inclusion"
	MeshID     string     `json:"mesh_id"`
	Index      int64      `json:"index"`
	TreeSize   int64      `json:"tree_size"`
	Leaf       string     `json:"leaf"` // the row's v1 hash, hex: the leaf data's spelling
	Event      ProofEvent `json:"event"`
	Proof      []string   `json:"proof"`      // base64 hashes, as tlog.ProveRecord gives them
	Checkpoint string     `json:"checkpoint"` // the mesh's signed tlog-checkpoint note
}

// ProofEvent is the hashed part of a row, exactly as the v1 hash reads it.
type ProofEvent struct {
	PrevHash  string  `json:"prev_hash"`
	EventType string  `json:"event_type"`
	Actor     *string `json:"actor_member_id"`
	Payload   string  `json:"payload"`    // canonical JSON (SPEC §3)
	CreatedAt string  `json:"created_at"` // Date.toISOString form, as hashed
}

// ConsistencyProof shows that a newer checkpoint extends an older one: for
// every mesh the older covers, the newer tree contains the older tree as
// its first leaves. Both checkpoint files are embedded whole.
type ConsistencyProof struct {
	Format string            `json:"format"`
	Type   string            `json:"type"` // "consistency"
	Old    string            `json:"old_checkpoint"`
	New    string            `json:"new_checkpoint"`
	Meshes []MeshConsistency `json:"meshes"`
}

// MeshConsistency is one mesh's consistency proof between two sizes.
type MeshConsistency struct {
	MeshID  string   `json:"mesh_id"`
	OldSize int64    `json:"old_size"`
	NewSize int64    `json:"new_size"`
	Proof   []string `json:"proof"` // base64 hashes, as tlog.ProveTree gives them
}

// EncodeProof writes a proof (*InclusionProof or *ConsistencyProof) in
// the one form CheckProof accepts.
func EncodeProof(p any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// readTx opens a read-only snapshot, so all of a proof's reads agree.
func readTx(ctx context.Context, conn *pgx.Conn) (pgx.Tx, error) {
	return conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
}

// growTree adds the first size row hashes of a mesh's chain to tree,
// calling at(n) after the n-th; fewer rows is ErrDatabaseMismatch.
func growTree(ctx context.Context, tx pgx.Tx, mesh string, size int64, tree *treeBuilder, at func(n int64) error) error {
	rows, err := tx.Query(ctx, `SELECT hash FROM mesh.audit_log WHERE mesh_id = $1 ORDER BY id LIMIT $2`, mesh, size)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := tree.add(LeafData(rows.RawValues()[0])); err != nil {
			return err
		}
		if at != nil {
			if err := at(tree.n); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if tree.n < size {
		return fmt.Errorf("%w: mesh %q has %d rows, the checkpoint records %d (rows deleted)", ErrDatabaseMismatch, mesh, tree.n, size)
	}
	return nil
}

func rootMismatch(mesh string, size int64) error {
	return fmt.Errorf("%w: the first %d rows of mesh %q no longer hash to the checkpoint's Merkle root (rows rewritten)", ErrDatabaseMismatch, size, mesh)
}

// ProveInclusion proves that row rowID of the checkpointed mesh is in the
// tree mc records. The rows are read in one snapshot; a chain that no
// longer matches mc, or a row whose hash is not the hash of its fields,
// is ErrDatabaseMismatch.
func ProveInclusion(ctx context.Context, conn *pgx.Conn, mc MeshCheckpoint, rowID int64) (*InclusionProof, error) {
	tx, err := readTx(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var (
		ev      ProofEvent
		payload []byte
		stored  string
		created time.Time
		index   int64
	)
	err = tx.QueryRow(ctx, `SELECT event_type, actor_member_id, payload::text, prev_hash, hash, created_at,
	(SELECT count(*) FROM mesh.audit_log b WHERE b.mesh_id = a.mesh_id AND b.id < a.id)
FROM mesh.audit_log a WHERE id = $1 AND mesh_id = $2`, rowID, mc.MeshID).Scan(
		&ev.EventType, &ev.Actor, &payload, &ev.PrevHash, &stored, &created, &index)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: mesh %q has no audit row with id %d", ErrNotProvable, mc.MeshID, rowID)
	}
	if err != nil {
		return nil, err
	}
	if index >= mc.Rows {
		return nil, fmt.Errorf("%w: row %d is at position %d of mesh %q, after the checkpoint's %d rows: sign a newer checkpoint", ErrNotProvable, rowID, index+1, mc.MeshID, mc.Rows)
	}
	canon, err := Canonical(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: row %d: payload: %v", ErrDatabaseMismatch, rowID, err)
	}
	ev.Payload = string(canon)
	if ev.CreatedAt, err = FormatISO(created); err != nil {
		return nil, fmt.Errorf("%w: row %d: %v", ErrDatabaseMismatch, rowID, err)
	}
	if h, err := eventHash(mc.MeshID, ev); err != nil || h != stored {
		return nil, fmt.Errorf("%w: row %d: its hash is not the hash of its fields (content_mismatch; see audit verify)", ErrDatabaseMismatch, rowID)
	}
	tree, err := forRecordProof(mc.Rows, index)
	if err != nil {
		return nil, err
	}
	if err := growTree(ctx, tx, mc.MeshID, mc.Rows, tree, nil); err != nil {
		return nil, err
	}
	if err := checkRoot(tree, mc); err != nil {
		return nil, err
	}
	rp, err := tlog.ProveRecord(mc.Rows, index, tree)
	if err != nil {
		return nil, err
	}
	return &InclusionProof{Format: ProofFormat, Type: "inclusion", MeshID: mc.MeshID, Index: index, TreeSize: mc.Rows,
		Leaf: stored, Event: ev, Proof: hashes64(rp), Checkpoint: string(mc.Note)}, nil
}

func checkRoot(tree *treeBuilder, mc MeshCheckpoint) error {
	root, err := tree.root()
	if err != nil {
		return err
	}
	if hex.EncodeToString(root[:]) != mc.Root {
		return rootMismatch(mc.MeshID, mc.Rows)
	}
	return nil
}

// ProveConsistency proves, for every mesh older covers, that newer's tree
// extends older's. Both must be of one installation, newer signed no
// earlier, covering every mesh older covers with at least as many rows;
// else ErrCheckpointsDisagree.
func ProveConsistency(ctx context.Context, conn *pgx.Conn, older, newer *Checkpoint, olderFile, newerFile []byte) (*ConsistencyProof, error) {
	if err := CheckCheckpointOrder(older, newer); err != nil {
		return nil, err
	}
	tx, err := readTx(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	p := &ConsistencyProof{Format: ProofFormat, Type: "consistency", Old: string(olderFile), New: string(newerFile), Meshes: []MeshConsistency{}}
	for _, o := range older.Meshes {
		n, _ := newer.Mesh(o.MeshID)
		tree, err := forTreeProof(n.Rows, o.Rows)
		if err != nil {
			return nil, err
		}
		err = growTree(ctx, tx, o.MeshID, n.Rows, tree, func(size int64) error {
			if size == o.Rows {
				return checkRoot(tree, o)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := checkRoot(tree, n); err != nil {
			return nil, err
		}
		tp, err := tlog.ProveTree(n.Rows, o.Rows, tree)
		if err != nil {
			return nil, err
		}
		p.Meshes = append(p.Meshes, MeshConsistency{MeshID: o.MeshID, OldSize: o.Rows, NewSize: n.Rows, Proof: hashes64(tp)})
	}
	return p, nil
}

// ErrCheckpointsDisagree reports two checkpoints of one installation that
// cannot both be honest: the newer drops a mesh, or records fewer rows.
var ErrCheckpointsDisagree = errors.New("checkpoints disagree")

// CheckCheckpointOrder checks what two checkpoints of one installation
// must satisfy whatever the database holds: same origin, newer signed no
// earlier, and every mesh of older covered by newer with no fewer rows.
func CheckCheckpointOrder(older, newer *Checkpoint) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: origins %q and %q", ErrCheckpointsDisagree, older.Origin, newer.Origin)
	}
	if newer.Time.Before(older.Time) {
		return fmt.Errorf("%w: the newer checkpoint was signed at %s, before the older (%s)", ErrCheckpointsDisagree,
			newer.Time.Format(time.RFC3339), older.Time.Format(time.RFC3339))
	}
	for _, o := range older.Meshes {
		n, ok := newer.Mesh(o.MeshID)
		switch {
		case !ok:
			return fmt.Errorf("%w: mesh %q is in the checkpoint of %s but not in the later one of %s", ErrCheckpointsDisagree,
				o.MeshID, older.Time.Format(time.RFC3339), newer.Time.Format(time.RFC3339))
		case n.Rows < o.Rows:
			return fmt.Errorf("%w: mesh %q has %d rows in the checkpoint of %s but %d in the later one of %s", ErrCheckpointsDisagree,
				o.MeshID, o.Rows, older.Time.Format(time.RFC3339), n.Rows, newer.Time.Format(time.RFC3339))
		}
	}
	return nil
}

func hashes64[T ~[]tlog.Hash](hs T) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// eventHash is the v1 hash of a proof's event, checking that its payload
// and time are in the exact form the hash reads.
func eventHash(mesh string, ev ProofEvent) (string, error) {
	canon, err := Canonical([]byte(ev.Payload))
	if err != nil || string(canon) != ev.Payload {
		return "", errors.New("payload is not canonical JSON")
	}
	t, err := time.Parse("2006-01-02T15:04:05.000Z", ev.CreatedAt)
	if err != nil {
		return "", errors.New("created_at is not a toISOString time")
	}
	if iso, err := FormatISO(t); err != nil || iso != ev.CreatedAt {
		return "", errors.New("created_at is not a toISOString time")
	}
	return HashV1(ev.PrevHash, mesh, ev.EventType, ev.Actor, canon, t)
}

// CheckedProof is what a verified proof shows.
type CheckedProof struct {
	Type   string // "inclusion" or "consistency"
	Origin string
	// Inclusion.
	Mesh  MeshCheckpoint
	Index int64
	Event ProofEvent
	Leaf  string
	// Consistency.
	Old, New *Checkpoint
	Meshes   []MeshConsistency
}

// CheckProof verifies a proof file offline with the installation's public
// key. ErrProofMalformed and ErrCheckpoint: it cannot be read (or the key
// is not the signer's); ErrProofInvalid, ErrCheckpointForged and
// ErrCheckpointsDisagree: it was altered or proves nothing.
func CheckProof(data []byte, verifierKey string) (*CheckedProof, error) {
	var probe struct{ Format, Type string }
	if err := json.Unmarshal(data, &probe); err != nil || probe.Format != ProofFormat {
		return nil, fmt.Errorf("%w: not a %s file", ErrProofMalformed, ProofFormat)
	}
	switch probe.Type {
	case "inclusion":
		var p InclusionProof
		if err := decodeExact(data, &p); err != nil {
			return nil, err
		}
		return checkInclusion(&p, verifierKey)
	case "consistency":
		var p ConsistencyProof
		if err := decodeExact(data, &p); err != nil {
			return nil, err
		}
		return checkConsistency(&p, verifierKey)
	}
	return nil, fmt.Errorf("%w: unknown proof type", ErrProofMalformed)
}

// decodeExact decodes a proof and requires the file to be exactly what
// EncodeProof makes of it: no unknown or repeated fields, no other
// spelling of the same values, so every byte of the file is accounted for.
func decodeExact(data []byte, p any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return fmt.Errorf("%w: %v", ErrProofMalformed, err)
	}
	again, err := EncodeProof(p)
	if err != nil || !bytes.Equal(again, data) {
		return fmt.Errorf("%w: not in the exact form meshctl audit prove writes", ErrProofMalformed)
	}
	return nil
}

// decodeHashes reads base64 proof hashes, refusing any other spelling.
func decodeHashes(in []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != len(tlog.Hash{}) || base64.StdEncoding.EncodeToString(b) != s {
			return nil, fmt.Errorf("%w: proof hash %d is not a base64 SHA-256 hash", ErrProofMalformed, i+1)
		}
		out[i] = tlog.Hash(b)
	}
	return out, nil
}

func checkInclusion(p *InclusionProof, key string) (*CheckedProof, error) {
	mc, err := OpenMeshCheckpoint([]byte(p.Checkpoint), key)
	if err != nil {
		return nil, err
	}
	switch {
	case p.MeshID != mc.MeshID:
		return nil, fmt.Errorf("%w: the proof names mesh %q, its checkpoint mesh %q", ErrProofInvalid, p.MeshID, mc.MeshID)
	case p.TreeSize != mc.Rows:
		return nil, fmt.Errorf("%w: tree size %d, the checkpoint records %d", ErrProofInvalid, p.TreeSize, mc.Rows)
	case p.Index < 0 || p.Index >= p.TreeSize:
		return nil, fmt.Errorf("%w: index %d outside a tree of %d", ErrProofInvalid, p.Index, p.TreeSize)
	case len(p.Leaf) != 64 || !isLowerHex([]byte(p.Leaf)):
		return nil, fmt.Errorf("%w: the leaf is not a v1 hash", ErrProofMalformed)
	case p.Index == p.TreeSize-1 && p.Leaf != mc.HeadHash:
		return nil, fmt.Errorf("%w: the last leaf is not the checkpoint's v1 head", ErrProofInvalid)
	}
	h, err := eventHash(p.MeshID, p.Event)
	if err != nil {
		return nil, fmt.Errorf("%w: event: %v", ErrProofMalformed, err)
	}
	if h != p.Leaf {
		return nil, fmt.Errorf("%w: the event's v1 hash is %s, not the leaf %s", ErrProofInvalid, h, p.Leaf)
	}
	hs, err := decodeHashes(p.Proof)
	if err != nil {
		return nil, err
	}
	if err := tlog.CheckRecord(tlog.RecordProof(hs), p.TreeSize, rootHash(mc.Root), p.Index, tlog.RecordHash(LeafData([]byte(p.Leaf)))); err != nil {
		return nil, fmt.Errorf("%w: the leaf does not lead to the checkpoint's root (%v)", ErrProofInvalid, err)
	}
	return &CheckedProof{Type: "inclusion", Origin: strings.TrimSuffix(mc.Origin, "/"+escapeMesh(mc.MeshID)), Mesh: mc,
		Index: p.Index, Event: p.Event, Leaf: p.Leaf}, nil
}

func checkConsistency(p *ConsistencyProof, key string) (*CheckedProof, error) {
	older, err := OpenCheckpoint([]byte(p.Old), key)
	if err != nil {
		return nil, fmt.Errorf("old_checkpoint: %w", err)
	}
	newer, err := OpenCheckpoint([]byte(p.New), key)
	if err != nil {
		return nil, fmt.Errorf("new_checkpoint: %w", err)
	}
	if err := CheckCheckpointOrder(older, newer); err != nil {
		return nil, err
	}
	if len(p.Meshes) != len(older.Meshes) {
		return nil, fmt.Errorf("%w: %d mesh proofs for the %d meshes of the older checkpoint", ErrProofInvalid, len(p.Meshes), len(older.Meshes))
	}
	for i, m := range p.Meshes {
		o := older.Meshes[i]
		n, _ := newer.Mesh(o.MeshID)
		if m.MeshID != o.MeshID || m.OldSize != o.Rows || m.NewSize != n.Rows {
			return nil, fmt.Errorf("%w: mesh proof %d does not match the checkpoints (mesh %q, %d and %d rows)", ErrProofInvalid, i+1, o.MeshID, o.Rows, n.Rows)
		}
		hs, err := decodeHashes(m.Proof)
		if err != nil {
			return nil, err
		}
		if err := tlog.CheckTree(tlog.TreeProof(hs), n.Rows, rootHash(n.Root), o.Rows, rootHash(o.Root)); err != nil {
			return nil, fmt.Errorf("%w: mesh %q: the tree of %d rows does not extend the tree of %d (%v)", ErrProofInvalid, o.MeshID, n.Rows, o.Rows, err)
		}
	}
	return &CheckedProof{Type: "consistency", Origin: older.Origin, Old: older, New: newer, Meshes: p.Meshes}, nil
}

// rootHash decodes a hex root that OpenCheckpoint already checked.
func rootHash(s string) tlog.Hash {
	var h tlog.Hash
	b, _ := hex.DecodeString(s)
	copy(h[:], b)
	return h
}
