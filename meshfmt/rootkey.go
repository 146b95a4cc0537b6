package meshfmt

import (
	"encoding/base64"
	"io"
)

// Root-key seal (SPEC §4, the invite v2 claim): the mesh root key is stored
// in mesh.root_key as 43 characters of base64url without padding; the
// sealed form is crypto_box_seal of the 32 DECODED bytes (not of the text)
// to the claimant's x25519 key, 80 bytes, stored base64url without padding
// (107 characters). Upstream's broker decodes the text with
// sodium.from_base64(…, URLSAFE_NO_PADDING) before sealing. The opener
// refuses a plaintext that is not exactly 32 bytes.
//
// Security contract: the ephemeral key must come from a CSPRNG and is never
// reused; only the recipient can open; the sender is anonymous (a sealed
// box authenticates nothing about who sealed it).
const (
	RootKeyLength       = 43                           // characters of mesh.root_key
	RootKeySize         = 32                           // bytes of the decoded root key
	SealedRootKeySize   = SealedOverhead + RootKeySize // 80
	SealedRootKeyLength = 107                          // characters of sealed_root_key
)

// CheckRootKey reports whether s is a root key: base64url without padding
// of 32 bytes (43 characters).
func CheckRootKey(s string) error {
	_, err := decodeRootKey(s)
	return err
}

func decodeRootKey(s string) ([]byte, error) {
	b, err := decodeB64(base64.RawURLEncoding, s)
	if err != nil || len(s) != RootKeyLength || len(b) != RootKeySize {
		return nil, formatErr("root key", "want base64url (no padding) of 32 bytes")
	}
	return b, nil
}

// SealRootKey seals the 32 bytes of rootKey (the mesh.root_key text) to
// recipientPK with an ephemeral key read from rand (crypto/rand.Reader in
// production), and returns the sealed_root_key text.
func SealRootKey(rand io.Reader, rootKey string, recipientPK [32]byte) (string, error) {
	k, err := decodeRootKey(rootKey)
	if err != nil {
		return "", err
	}
	var esk [32]byte
	if _, err := io.ReadFull(rand, esk[:]); err != nil {
		return "", err
	}
	sealed, err := SealAnonymous(k, recipientPK, esk)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// OpenRootKey opens a sealed root key with the recipient's x25519 key pair,
// checks that it holds exactly 32 bytes and returns them as the
// mesh.root_key text (base64url without padding).
func OpenRootKey(sealed string, recipientPK, recipientSK [32]byte) (string, error) {
	raw, err := decodeB64(base64.RawURLEncoding, sealed)
	if err != nil {
		return "", formatErr("sealed root key", "not base64url without padding")
	}
	if len(raw) != SealedRootKeySize {
		return "", formatErr("sealed root key", "want %d bytes, got %d", SealedRootKeySize, len(raw))
	}
	pt, err := OpenAnonymous(raw, recipientPK, recipientSK)
	if err != nil {
		return "", err
	}
	if len(pt) != RootKeySize {
		return "", formatErr("root key", "the sealed plaintext is %d bytes, want %d", len(pt), RootKeySize)
	}
	return base64.RawURLEncoding.EncodeToString(pt), nil
}
