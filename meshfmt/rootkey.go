package meshfmt

import (
	"encoding/base64"
	"io"
)

// Root-key seal (SPEC §4): the mesh root key (the 43-character base64url
// text stored in mesh.root_key, sealed as those UTF-8 bytes, as
// libsodium-wrappers seals a string) is sealed to a recipient's x25519 key
// with crypto_box_seal, and stored base64url without padding. Security
// contract: the ephemeral key must come from a CSPRNG and is never reused;
// only the recipient can open; the sender is anonymous (a sealed box
// authenticates nothing about who sealed it).
const RootKeyLength = 43

// CheckRootKey reports whether s is a root key: base64url without padding
// of 32 bytes (43 characters).
func CheckRootKey(s string) error {
	b, err := decodeB64(base64.RawURLEncoding, s)
	if err != nil || len(s) != RootKeyLength || len(b) != 32 {
		return formatErr("root key", "want base64url (no padding) of 32 bytes")
	}
	return nil
}

// SealRootKey seals rootKey to recipientPK with an ephemeral key read from
// rand (crypto/rand.Reader in production).
func SealRootKey(rand io.Reader, rootKey string, recipientPK [32]byte) (string, error) {
	if err := CheckRootKey(rootKey); err != nil {
		return "", err
	}
	var esk [32]byte
	if _, err := io.ReadFull(rand, esk[:]); err != nil {
		return "", err
	}
	sealed, err := SealAnonymous([]byte(rootKey), recipientPK, esk)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// OpenRootKey opens a sealed root key with the recipient's x25519 key pair
// and checks that what it holds is a root key.
func OpenRootKey(sealed string, recipientPK, recipientSK [32]byte) (string, error) {
	raw, err := decodeB64(base64.RawURLEncoding, sealed)
	if err != nil {
		return "", formatErr("sealed root key", "not base64url without padding")
	}
	pt, err := OpenAnonymous(raw, recipientPK, recipientSK)
	if err != nil {
		return "", err
	}
	if err := CheckRootKey(string(pt)); err != nil {
		return "", err
	}
	return string(pt), nil
}
