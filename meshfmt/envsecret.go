package meshfmt

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"unicode/utf8"
)

// Env secrets at rest (SPEC §4): the broker stores resolved env values as
// base64 std of iv(12) ‖ tag(16) ‖ ciphertext, AES-256-GCM under the
// 32-byte BROKER_ENCRYPTION_KEY (64 hex characters), no additional data.
// Note the order: Go's crypto/cipher appends the tag after the ciphertext;
// the stored form puts it first. Security contract: a fresh random IV per
// value (a repeated IV under one key breaks GCM); the key is a secret and
// never printed.
const (
	EnvSecretIVSize  = 12
	EnvSecretTagSize = 16
)

// ParseEnvKey decodes BROKER_ENCRYPTION_KEY: exactly 64 hex characters
// (either case, as upstream accepts).
func ParseEnvKey(s string) ([32]byte, error) {
	var k [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return k, formatErr("encryption key", "want 64 hex characters")
	}
	copy(k[:], b)
	return k, nil
}

// SealEnvSecret encrypts plaintext with key and iv and returns the stored
// form.
func SealEnvSecret(key [32]byte, iv [12]byte, plaintext string) (string, error) {
	if !utf8.ValidString(plaintext) {
		return "", formatErr("env secret", "plaintext is not UTF-8")
	}
	g := gcm(key)
	sealed := g.Seal(nil, iv[:], []byte(plaintext), nil) // ct ‖ tag
	ct, tag := sealed[:len(sealed)-EnvSecretTagSize], sealed[len(sealed)-EnvSecretTagSize:]
	out := append(append(append([]byte{}, iv[:]...), tag...), ct...)
	return base64.StdEncoding.EncodeToString(out), nil
}

// OpenEnvSecret decrypts a stored env secret. The stored text must be
// canonical base64 std of at least 28 bytes, and the plaintext UTF-8.
func OpenEnvSecret(key [32]byte, stored string) (string, error) {
	raw, err := decodeB64(base64.StdEncoding, stored)
	if err != nil {
		return "", formatErr("env secret", "not base64 std")
	}
	if len(raw) < EnvSecretIVSize+EnvSecretTagSize {
		return "", formatErr("env secret", "shorter than iv and tag (%d bytes)", len(raw))
	}
	iv, tag, ct := raw[:EnvSecretIVSize], raw[EnvSecretIVSize:EnvSecretIVSize+EnvSecretTagSize], raw[EnvSecretIVSize+EnvSecretTagSize:]
	pt, err := gcm(key).Open(nil, iv, append(append([]byte{}, ct...), tag...), nil)
	if err != nil {
		return "", ErrOpen
	}
	if !utf8.Valid(pt) {
		return "", formatErr("env secret", "plaintext is not UTF-8")
	}
	return string(pt), nil
}

func gcm(key [32]byte) cipher.AEAD {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic("meshfmt: AES-256 with a 32-byte key cannot fail")
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic("meshfmt: GCM with the standard nonce size cannot fail")
	}
	return g
}
