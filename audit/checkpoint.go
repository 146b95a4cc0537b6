package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
)

// A checkpoint file is one signed unit covering a set of meshes:
//
//	index note    <origin>
//	              claudemesh audit checkpoint index
//	              time <RFC 3339 UTC signing time>
//	              <mesh> <tree size> <base64 SHA-256 of that mesh's note text>   (one per mesh, by id)
//
//	              — <origin> <signature>
//	mesh notes    one C2SP tlog-checkpoint per mesh, in the index's order:
//	              <origin>/<mesh>
//	              <tree size: the mesh's row count>
//	              <base64 RFC 6962 root over the mesh's row hashes (see LeafData)>
//	              v1-head <id of the last row> <its v1 hash, hex>
//	              time <the index's time>
//
//	              — <origin> <signature>
//
// <origin> names the installation (one database cluster) and is also the
// signing key's name; <mesh> is the mesh id, path-escaped with '+' as
// %2B. Each mesh note is a checkpoint any C2SP verifier reads; the index
// binds them, so removing, adding, editing or reordering any note (or any
// line) of the file is detected.

// checkpointIndexTag is the second line of an index note. It is not a
// number, so no tlog-checkpoint reader takes an index for a checkpoint.
const checkpointIndexTag = "claudemesh audit checkpoint index"

// legacyOriginPrefix started the per-mesh notes of the first checkpoint
// format (no index, no Merkle root), which is refused.
const legacyOriginPrefix = "claudemesh.audit/v1/"

// OriginPrefix starts the origin that DefaultOrigin derives.
const OriginPrefix = "claudemesh.audit/"

// ErrCheckpoint reports a checkpoint file that cannot be read: malformed,
// of another format, or not signed by the given key.
var ErrCheckpoint = errors.New("checkpoint")

// ErrCheckpointForged reports a checkpoint file changed after signing: a
// signature by the given key does not verify, or signed parts of the file
// no longer agree with each other (a note removed, added or moved).
var ErrCheckpointForged = errors.New("checkpoint altered after signing")

// Checkpoint is a verified checkpoint file.
type Checkpoint struct {
	Origin string    // the installation's origin, and the signing key's name
	Time   time.Time // when it was signed (UTC, whole seconds)
	Meshes []MeshCheckpoint
}

// MeshCheckpoint is one mesh's signed tree head.
type MeshCheckpoint struct {
	Head
	Origin string // <installation origin>/<escaped mesh id>
	Time   time.Time
	Note   []byte // the signed note, as in the file
}

// Heads returns the heads of every mesh the checkpoint covers.
func (c *Checkpoint) Heads() []Head {
	hs := make([]Head, len(c.Meshes))
	for i, m := range c.Meshes {
		hs[i] = m.Head
	}
	return hs
}

// Mesh returns the checkpoint of one mesh, if covered.
func (c *Checkpoint) Mesh(id string) (MeshCheckpoint, bool) {
	for _, m := range c.Meshes {
		if m.MeshID == id {
			return m, true
		}
	}
	return MeshCheckpoint{}, false
}

// ValidOrigin checks that origin can be a C2SP origin line and a signed
// note key name: non-empty UTF-8 without spaces, '+' or control characters.
func ValidOrigin(origin string) error {
	switch {
	case origin == "":
		return errors.New("the origin is empty")
	case !utf8.ValidString(origin):
		return errors.New("the origin is not UTF-8")
	case strings.ContainsRune(origin, '+'):
		return errors.New("the origin contains '+'")
	case strings.IndexFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return errors.New("the origin contains a space or control character")
	}
	return nil
}

// DefaultOrigin is the origin of an installation whose PostgreSQL system
// identifier (pg_control_system()) is sysID: two clusters never share one,
// so staging and production meshes with the same id never share a log.
func DefaultOrigin(sysID int64) string {
	return OriginPrefix + strconv.FormatInt(sysID, 10)
}

// InstallationOrigin returns DefaultOrigin for the cluster conn is on.
func InstallationOrigin(ctx context.Context, conn *pgx.Conn) (string, error) {
	var id int64
	if err := conn.QueryRow(ctx, `SELECT system_identifier FROM pg_control_system()`).Scan(&id); err != nil {
		return "", fmt.Errorf("reading the system identifier (pg_control_system()): %w", err)
	}
	return DefaultOrigin(id), nil
}

// MeshOrigin is the origin line of one mesh's checkpoint.
func MeshOrigin(origin, meshID string) string {
	return origin + "/" + escapeMesh(meshID)
}

func escapeMesh(id string) string { return strings.ReplaceAll(url.PathEscape(id), "+", "%2B") }

// unescapeMesh accepts only the spelling escapeMesh makes.
func unescapeMesh(s string) (string, bool) {
	id, err := url.PathUnescape(s)
	if err != nil || id == "" || escapeMesh(id) != s {
		return "", false
	}
	return id, true
}

// GenerateKey returns a new ed25519 signed-note key pair named after the
// installation's origin: the private signer key (keep it secret) and the
// public verifier key.
func GenerateKey(origin string) (signerKey, verifierKey string, err error) {
	if err := ValidOrigin(origin); err != nil {
		return "", "", err
	}
	return note.GenerateKey(rand.Reader, origin)
}

// VerifierKey returns the public verifier key of a signer key (the .pub
// that GenerateKey made with it). Errors never contain the key.
func VerifierKey(signerKey string) (string, error) {
	signerKey = strings.TrimSpace(signerKey)
	if _, err := note.NewSigner(signerKey); err != nil {
		return "", errors.New("not a signed-note signer key")
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(signerKey, signerPrefix), "+")
	_, enc, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 { // 1: note's ed25519 algorithm byte
		return "", errors.New("not an ed25519 signed-note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(name, pub)
}

// KeyName returns the name of a signed-note key (private or public).
func KeyName(key string) string {
	key = strings.TrimPrefix(strings.TrimSpace(key), signerPrefix)
	name, _, _ := strings.Cut(key, "+")
	return name
}

// signerPrefix starts every signed-note private key (golang.org/x/mod/sumdb/note).
const signerPrefix = "PRIVATE+KEY+"

// KeyKind says what a key file holds.
type KeyKind int

const (
	KeyInvalid  KeyKind = iota // neither kind of signed-note key
	KeySigner                  // a private signer key (the .key file of GenerateKey)
	KeyVerifier                // a public verifier key (the .pub file)
)

// ParseKey reads the text of a key file as GenerateKey writes it and says
// which kind of key it is; the key comes back trimmed. An invalid key's
// text is never returned, so it cannot end up in a message.
func ParseKey(data []byte) (string, KeyKind) {
	key := strings.TrimSpace(string(data))
	if strings.HasPrefix(key, signerPrefix) {
		if _, err := note.NewSigner(key); err != nil {
			return "", KeyInvalid
		}
		return key, KeySigner
	}
	if _, err := note.NewVerifier(key); err != nil {
		return "", KeyInvalid
	}
	return key, KeyVerifier
}

// SignCheckpoint signs the heads (each with its Merkle root) as one
// checkpoint file of the installation origin, at time at. The key's name
// must be the origin, as C2SP tlog-checkpoint asks.
func SignCheckpoint(origin string, at time.Time, heads []Head, signerKey string) ([]byte, error) {
	signer, err := note.NewSigner(signerKey)
	if err != nil {
		return nil, fmt.Errorf("%w: the signing key is not a signed-note private key", ErrCheckpoint)
	}
	if err := ValidOrigin(origin); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("%w: the key is named %q but the origin is %q (a key signs for the origin it is named after)", ErrCheckpoint, signer.Name(), origin)
	}
	if len(heads) == 0 {
		return nil, fmt.Errorf("%w: no mesh to checkpoint", ErrCheckpoint)
	}
	heads = slices.Clone(heads)
	slices.SortFunc(heads, func(a, b Head) int { return strings.Compare(a.MeshID, b.MeshID) })
	stamp := at.UTC().Truncate(time.Second).Format(time.RFC3339)
	var index strings.Builder
	fmt.Fprintf(&index, "%s\n%s\ntime %s\n", origin, checkpointIndexTag, stamp)
	var notes bytes.Buffer
	for i, h := range heads {
		if i > 0 && h.MeshID == heads[i-1].MeshID {
			return nil, fmt.Errorf("%w: mesh %q given twice", ErrCheckpoint, h.MeshID)
		}
		sum, err1 := hex.DecodeString(h.HeadHash)
		root, err2 := hex.DecodeString(h.Root)
		if h.MeshID == "" || h.Rows < 1 || err1 != nil || len(sum) != 32 || err2 != nil || len(root) != 32 {
			return nil, fmt.Errorf("%w: mesh %q: not a complete head (rows, head hash and Merkle root)", ErrCheckpoint, h.MeshID)
		}
		text := fmt.Sprintf("%s\n%d\n%s\nv1-head %d %s\ntime %s\n", MeshOrigin(origin, h.MeshID), h.Rows,
			base64.StdEncoding.EncodeToString(root), h.HeadID, h.HeadHash, stamp)
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			return nil, fmt.Errorf("%w: signing mesh %q: %v", ErrCheckpoint, h.MeshID, err)
		}
		notes.Write(msg)
		digest := sha256.Sum256([]byte(text))
		fmt.Fprintf(&index, "%s %d %s\n", escapeMesh(h.MeshID), h.Rows, base64.StdEncoding.EncodeToString(digest[:]))
	}
	msg, err := note.Sign(&note.Note{Text: index.String()}, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: signing the index: %v", ErrCheckpoint, err)
	}
	return append(msg, notes.Bytes()...), nil
}

// OpenCheckpoint verifies a checkpoint file with verifierKey and returns
// what it records. The file is trusted entirely or not at all: any note
// that fails, and any disagreement between the index and the mesh notes,
// fails the whole file.
func OpenCheckpoint(data []byte, verifierKey string) (*Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, fmt.Errorf("%w: the key is not a signed-note public (verifier) key", ErrCheckpoint)
	}
	msgs, err := splitNotes(data)
	if err != nil {
		return nil, err
	}
	idx, err := openNote(msgs[0], v, "the index")
	if err != nil {
		return nil, err
	}
	cp, entries, err := parseIndex(idx.Text)
	if err != nil {
		// A verified first note that is a mesh checkpoint of this format:
		// the notes were reordered.
		if _, _, perr := parseMeshText(idx.Text); perr == nil {
			return nil, fmt.Errorf("%w: the first note is not the index (notes reordered)", ErrCheckpointForged)
		}
		if strings.HasPrefix(idx.Text, legacyOriginPrefix) {
			return nil, fmt.Errorf("%w: an old-format checkpoint (one note per mesh, no index, no Merkle root): sign a new one", ErrCheckpoint)
		}
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if v.Name() != cp.Origin {
		return nil, fmt.Errorf("%w: signed for origin %q by a key named %q: the key's name must be the origin", ErrCheckpoint, cp.Origin, v.Name())
	}
	if len(msgs)-1 != len(entries) {
		return nil, fmt.Errorf("%w: the index lists %d mesh checkpoints, the file holds %d", ErrCheckpointForged, len(entries), len(msgs)-1)
	}
	for i, e := range entries {
		what := fmt.Sprintf("the checkpoint of mesh %q", e.mesh)
		n, err := openNote(msgs[i+1], v, what)
		if err != nil {
			return nil, err
		}
		mc, origin, err := parseMeshText(n.Text)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCheckpointForged, what, err)
		}
		digest := sha256.Sum256([]byte(n.Text))
		if origin != cp.Origin || mc.MeshID != e.mesh || mc.Rows != e.rows || digest != e.digest || !mc.Time.Equal(cp.Time) {
			return nil, fmt.Errorf("%w: note %d does not match the index's entry for mesh %q (notes removed, replaced or moved)", ErrCheckpointForged, i+2, e.mesh)
		}
		mc.Note = msgs[i+1]
		cp.Meshes = append(cp.Meshes, mc)
	}
	return cp, nil
}

// OpenMeshCheckpoint verifies one mesh's signed note (as embedded in a
// proof) with verifierKey, whose name must be the installation origin.
func OpenMeshCheckpoint(msg []byte, verifierKey string) (MeshCheckpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return MeshCheckpoint{}, fmt.Errorf("%w: the key is not a signed-note public (verifier) key", ErrCheckpoint)
	}
	n, err := openNote(msg, v, "the mesh checkpoint")
	if err != nil {
		return MeshCheckpoint{}, err
	}
	mc, origin, err := parseMeshText(n.Text)
	if err != nil {
		return MeshCheckpoint{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if origin != v.Name() {
		return MeshCheckpoint{}, fmt.Errorf("%w: signed for origin %q by a key named %q: the key's name must be the origin", ErrCheckpoint, origin, v.Name())
	}
	mc.Note = msg
	return mc, nil
}

func openNote(msg []byte, v note.Verifier, what string) (*note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err == nil {
		// note decodes signatures leniently: a line whose base64 differs
		// only in unused bits still verifies. Such a line was edited.
		for _, sig := range n.Sigs {
			if _, err := base64.StdEncoding.Strict().DecodeString(sig.Base64); err != nil {
				return nil, fmt.Errorf("%w: %s: its signature line was edited", ErrCheckpointForged, what)
			}
		}
		return n, nil
	}
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &invalid):
		return nil, fmt.Errorf("%w: %s: its signature by key %s does not verify", ErrCheckpointForged, what, invalid.Name)
	case errors.As(err, &unverified):
		return nil, fmt.Errorf("%w: %s is not signed by key %s", ErrCheckpoint, what, v.Name())
	default:
		return nil, fmt.Errorf("%w: %s: %v", ErrCheckpoint, what, err)
	}
}

type indexEntry struct {
	mesh   string
	rows   int64
	digest [32]byte
}

func parseIndex(text string) (*Checkpoint, []indexEntry, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 4 || lines[1] != checkpointIndexTag {
		return nil, nil, errors.New("not a meshctl audit checkpoint file (no index)")
	}
	if err := ValidOrigin(lines[0]); err != nil {
		return nil, nil, err
	}
	at, ok := parseTimeLine(lines[2])
	if !ok {
		return nil, nil, errors.New("index: bad time line")
	}
	cp := &Checkpoint{Origin: lines[0], Time: at}
	var entries []indexEntry
	for _, l := range lines[3:] {
		f := strings.Split(l, " ")
		if len(f) != 3 {
			return nil, nil, fmt.Errorf("index: bad line %q", l)
		}
		mesh, ok1 := unescapeMesh(f[0])
		rows, ok2 := parseCount(f[1])
		d, err := base64.StdEncoding.Strict().DecodeString(f[2])
		if !ok1 || !ok2 || err != nil || len(d) != 32 || base64.StdEncoding.EncodeToString(d) != f[2] {
			return nil, nil, fmt.Errorf("index: bad line %q", l)
		}
		if len(entries) > 0 && entries[len(entries)-1].mesh >= mesh {
			return nil, nil, errors.New("index: meshes out of order")
		}
		entries = append(entries, indexEntry{mesh: mesh, rows: rows, digest: [32]byte(d)})
	}
	return cp, entries, nil
}

// parseMeshText parses one mesh's checkpoint text, returning the
// installation origin its origin line starts with.
func parseMeshText(text string) (MeshCheckpoint, string, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 5 {
		return MeshCheckpoint{}, "", errors.New("not a meshctl mesh checkpoint")
	}
	slash := strings.LastIndexByte(lines[0], '/')
	if slash <= 0 {
		return MeshCheckpoint{}, "", errors.New("bad origin line")
	}
	origin := lines[0][:slash]
	mesh, ok := unescapeMesh(lines[0][slash+1:])
	if !ok || ValidOrigin(origin) != nil {
		return MeshCheckpoint{}, "", errors.New("bad origin line")
	}
	rows, ok := parseCount(lines[1])
	if !ok {
		return MeshCheckpoint{}, "", errors.New("bad tree size")
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != 32 || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return MeshCheckpoint{}, "", errors.New("bad root hash")
	}
	f := strings.Split(lines[3], " ")
	if len(f) != 3 || f[0] != "v1-head" || len(f[2]) != 64 || !isLowerHex([]byte(f[2])) {
		return MeshCheckpoint{}, "", errors.New("bad v1-head line")
	}
	headID, ok := parseCount(f[1])
	if !ok {
		return MeshCheckpoint{}, "", errors.New("bad v1-head line")
	}
	at, ok := parseTimeLine(lines[4])
	if !ok {
		return MeshCheckpoint{}, "", errors.New("bad time line")
	}
	return MeshCheckpoint{
		Head:   Head{MeshID: mesh, Rows: rows, HeadID: headID, HeadHash: f[2], Root: hex.EncodeToString(root)},
		Origin: lines[0], Time: at,
	}, origin, nil
}

// parseCount accepts a positive decimal without sign or leading zeros.
func parseCount(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 1 && strconv.FormatInt(n, 10) == s
}

func parseTimeLine(l string) (time.Time, bool) {
	s, ok := strings.CutPrefix(l, "time ")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.UTC().Format(time.RFC3339) != s {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// splitNotes cuts concatenated signed notes apart: a note is text lines up
// to a blank line, then signature lines starting with "— ".
func splitNotes(data []byte) ([][]byte, error) {
	var msgs [][]byte
	rest := data
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("\n\n"))
		if i < 0 {
			return nil, fmt.Errorf("%w: malformed file: a note has no signature block", ErrCheckpoint)
		}
		end := i + 2
		for end < len(rest) && bytes.HasPrefix(rest[end:], []byte("— ")) {
			nl := bytes.IndexByte(rest[end:], '\n')
			if nl < 0 {
				return nil, fmt.Errorf("%w: malformed file: unterminated signature line", ErrCheckpoint)
			}
			end += nl + 1
		}
		if end == i+2 {
			return nil, fmt.Errorf("%w: malformed file: a note has no signature lines", ErrCheckpoint)
		}
		msgs = append(msgs, rest[:end])
		rest = rest[end:]
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrCheckpoint)
	}
	return msgs, nil
}

// HeadsOf returns the checkpointable heads of a clean report's meshes
// (Verify with MerkleRoots, so each head carries its root).
func HeadsOf(r *Report) []Head {
	var heads []Head
	for _, m := range r.Meshes {
		if m.Rows > 0 {
			heads = append(heads, Head{MeshID: m.MeshID, Rows: m.Rows, HeadID: m.LastID, HeadHash: m.HeadHash, Root: m.MerkleRoot})
		}
	}
	return heads
}
