package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// CheckpointOriginPrefix starts the origin line of every mesh checkpoint;
// the rest is the path-escaped mesh id.
const CheckpointOriginPrefix = "claudemesh.audit/v1/"

// ErrCheckpoint reports a checkpoint file that is malformed or whose
// signatures do not verify with the given key.
var ErrCheckpoint = errors.New("checkpoint")

// ErrCheckpointForged reports a checkpoint note carrying a signature by
// the given key that does not verify: the file was altered after signing.
var ErrCheckpointForged = errors.New("checkpoint signature does not verify")

// GenerateKey returns a new ed25519 signed-note key pair: the private
// signer key (keep it secret) and the public verifier key.
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	if name == "" || strings.ContainsAny(name, "+ \t\n") {
		return "", "", fmt.Errorf("key name %q must be non-empty without '+' or spaces", name)
	}
	return note.GenerateKey(rand.Reader, name)
}

// SignCheckpoints returns one C2SP checkpoint (a signed note) per head,
// concatenated:
//
//	claudemesh.audit/v1/<path-escaped mesh id>
//	<rows>
//	<head hash, base64>
//	id <head row id>
//
//	— <key name> <signature>
func SignCheckpoints(heads []Head, signerKey string) ([]byte, error) {
	signer, err := note.NewSigner(signerKey)
	if err != nil {
		return nil, fmt.Errorf("%w: the signing key is not a signed-note private key", ErrCheckpoint)
	}
	var out bytes.Buffer
	for _, h := range heads {
		sum, err := hex.DecodeString(h.HeadHash)
		if err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("%w: mesh %q: head hash %q is not a sha256 hex digest", ErrCheckpoint, h.MeshID, h.HeadHash)
		}
		text := fmt.Sprintf("%s%s\n%d\n%s\nid %d\n", CheckpointOriginPrefix, url.PathEscape(h.MeshID), h.Rows,
			base64.StdEncoding.EncodeToString(sum), h.HeadID)
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			return nil, fmt.Errorf("%w: signing mesh %q: %v", ErrCheckpoint, h.MeshID, err)
		}
		out.Write(msg)
	}
	return out.Bytes(), nil
}

// OpenCheckpoints verifies every note in data with verifierKey and returns
// the heads they record. Any note that fails makes the whole file fail:
// a checkpoint is trusted entirely or not at all.
func OpenCheckpoints(data []byte, verifierKey string) ([]Head, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, fmt.Errorf("%w: the key is not a signed-note public (verifier) key", ErrCheckpoint)
	}
	msgs, err := splitNotes(data)
	if err != nil {
		return nil, err
	}
	var heads []Head
	seen := map[string]bool{}
	for i, msg := range msgs {
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			var unverified *note.UnverifiedNoteError
			var invalid *note.InvalidSignatureError
			switch {
			case errors.As(err, &invalid):
				return nil, fmt.Errorf("%w: note %d, key %s: the file was altered after signing", ErrCheckpointForged, i+1, invalid.Name)
			case errors.As(err, &unverified):
				return nil, fmt.Errorf("%w: note %d: not signed by key %s", ErrCheckpoint, i+1, v.Name())
			default:
				return nil, fmt.Errorf("%w: note %d: %v", ErrCheckpoint, i+1, err)
			}
		}
		h, err := parseCheckpoint(n.Text)
		if err != nil {
			return nil, fmt.Errorf("%w: note %d: %v", ErrCheckpoint, i+1, err)
		}
		if seen[h.MeshID] {
			return nil, fmt.Errorf("%w: mesh %q appears twice", ErrCheckpoint, h.MeshID)
		}
		seen[h.MeshID] = true
		heads = append(heads, h)
	}
	if len(heads) == 0 {
		return nil, fmt.Errorf("%w: the file holds no checkpoint", ErrCheckpoint)
	}
	return heads, nil
}

// splitNotes cuts concatenated signed notes apart: a note is text lines up
// to a blank line, then signature lines starting with "— ".
func splitNotes(data []byte) ([][]byte, error) {
	var msgs [][]byte
	rest := data
	for len(bytes.TrimSpace(rest)) > 0 {
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
	return msgs, nil
}

func parseCheckpoint(text string) (Head, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], CheckpointOriginPrefix) || !strings.HasPrefix(lines[3], "id ") {
		return Head{}, errors.New("not a meshctl audit checkpoint")
	}
	mesh, err := url.PathUnescape(strings.TrimPrefix(lines[0], CheckpointOriginPrefix))
	if err != nil || mesh == "" {
		return Head{}, errors.New("bad mesh id in origin line")
	}
	rows, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || rows < 1 {
		return Head{}, errors.New("bad row count")
	}
	sum, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(sum) != 32 {
		return Head{}, errors.New("bad head hash")
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(lines[3], "id "), 10, 64)
	if err != nil {
		return Head{}, errors.New("bad head id")
	}
	return Head{MeshID: mesh, Rows: rows, HeadID: id, HeadHash: hex.EncodeToString(sum)}, nil
}

// HeadsOf returns the checkpointable heads of a clean report's meshes.
func HeadsOf(r *Report) []Head {
	var heads []Head
	for _, m := range r.Meshes {
		if m.Rows > 0 {
			heads = append(heads, Head{MeshID: m.MeshID, Rows: m.Rows, HeadID: m.LastID, HeadHash: m.HeadHash})
		}
	}
	return heads
}
