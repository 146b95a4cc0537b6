package meshfmt

import (
	"crypto/ed25519"
	"encoding/base64"
	"io"

	"golang.org/x/crypto/nacl/secretbox"
)

// Shared files (SPEC §4): the file body is crypto_secretbox_easy under a
// fresh random 32-byte key and 24-byte nonce (nonce stored base64 std); the
// key is crypto_box_seal'ed to each peer's x25519 key (converted from the
// peer's ed25519 public key) and stored base64 std in file_key.sealed_key.
// Security contract: one key per file, never reused; the sealed key
// authenticates nothing about who sealed it.

// FileKeySealedSize is the size of a sealed file key: 48 + 32 bytes.
const FileKeySealedSize = SealedOverhead + KeySize

// EncryptFile seals body under key with nonce; returns the ciphertext
// (MAC16 ‖ ct) and the nonce in base64 std.
func EncryptFile(body []byte, nonce [24]byte, key [32]byte) ([]byte, string) {
	return secretbox.Seal(nil, body, &nonce, &key), base64.StdEncoding.EncodeToString(nonce[:])
}

// DecryptFile opens a file body.
func DecryptFile(ciphertext []byte, nonceB64 string, key [32]byte) ([]byte, error) {
	nonce, err := decodeNonce(nonceB64)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < BoxOverhead {
		return nil, ErrOpen
	}
	pt, ok := secretbox.Open(nil, ciphertext, nonce, &key)
	if !ok {
		return nil, ErrOpen
	}
	return pt, nil
}

// SealFileKey seals key to the peer's ed25519 public key with an ephemeral
// key read from rand (crypto/rand.Reader in production).
func SealFileKey(rand io.Reader, key [32]byte, peerEdPK []byte) (string, error) {
	pk, err := Ed25519PublicKeyToX25519(peerEdPK)
	if err != nil {
		return "", err
	}
	var esk [32]byte
	if _, err := io.ReadFull(rand, esk[:]); err != nil {
		return "", err
	}
	sealed, err := SealAnonymous(key[:], pk, esk)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// OpenFileKey opens a sealed file key with the peer's ed25519 secret key
// (64 bytes); the content must be exactly 32 bytes.
func OpenFileKey(sealed string, peerEdSK ed25519.PrivateKey) ([32]byte, error) {
	var key [32]byte
	raw, err := decodeB64(base64.StdEncoding, sealed)
	if err != nil {
		return key, formatErr("sealed key", "not base64 std")
	}
	if len(raw) != FileKeySealedSize {
		return key, formatErr("sealed key", "want %d bytes, got %d", FileKeySealedSize, len(raw))
	}
	if len(peerEdSK) != ed25519.PrivateKeySize {
		return key, formatErr("secret key", "want %d bytes", ed25519.PrivateKeySize)
	}
	pk, err := Ed25519PublicKeyToX25519(peerEdSK[32:])
	if err != nil {
		return key, err
	}
	sk, err := Ed25519SecretKeyToX25519(peerEdSK)
	if err != nil {
		return key, err
	}
	pt, err := OpenAnonymous(raw, pk, sk)
	if err != nil {
		return key, err
	}
	copy(key[:], pt)
	return key, nil
}
