package meshfmt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// API-key format (SPEC §4): secret = "cm_" + base64url-no-pad(32 random
// bytes), 46 characters; the stored prefix is its first 11 characters; the
// stored hash is the lowercase hex SHA-256 of the whole secret string.
const (
	APIKeyScheme    = "cm_"
	APIKeyLength    = 46
	APIKeyPrefixLen = 11
)

// APIKey is a freshly generated API key. Secret is shown to the operator
// exactly once and must never be logged or stored; only Prefix and Hash are
// stored. String, GoString and JSON leave the secret out so that a stray
// %v, %#v or json.Marshal cannot leak it; read the field to show it.
type APIKey struct {
	Secret string `json:"-"`
	Prefix string
	Hash   string
}

// String returns the prefix only.
func (k APIKey) String() string { return k.Prefix + "…(redacted)" }

// GoString is %#v: the prefix and hash, never the secret.
func (k APIKey) GoString() string {
	return fmt.Sprintf("meshfmt.APIKey{Prefix:%q, Hash:%q, Secret:(redacted)}", k.Prefix, k.Hash)
}

// GenerateAPIKey reads 32 bytes from rand (crypto/rand.Reader in
// production) and derives the key.
func GenerateAPIKey(rand io.Reader) (APIKey, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return APIKey{}, err
	}
	return APIKeyFromBytes(b), nil
}

// APIKeyFromBytes derives the key for 32 given random bytes.
func APIKeyFromBytes(b [32]byte) APIKey {
	secret := APIKeyScheme + base64.RawURLEncoding.EncodeToString(b[:])
	return APIKey{Secret: secret, Prefix: APIKeyPrefix(secret), Hash: HashAPIKey(secret)}
}

// HashAPIKey is the stored secret_hash: sha256 hex of the secret string as
// given. It does not validate the secret, so a lookup by hash of any
// presented string is well-defined.
func HashAPIKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// APIKeyPrefix is the stored secret_prefix: the first 11 characters.
func APIKeyPrefix(secret string) string {
	if len(secret) < APIKeyPrefixLen {
		return secret
	}
	return secret[:APIKeyPrefixLen]
}

// ParseAPIKey checks that secret is in the exact API-key format: scheme,
// 46 characters, canonical base64url without padding of 32 bytes. The
// error never repeats the secret.
func ParseAPIKey(secret string) (APIKey, error) {
	if !strings.HasPrefix(secret, APIKeyScheme) {
		return APIKey{}, formatErr("api key", "must start with %q", APIKeyScheme)
	}
	if len(secret) != APIKeyLength {
		return APIKey{}, formatErr("api key", "want %d characters, got %d", APIKeyLength, len(secret))
	}
	b, err := decodeB64(base64.RawURLEncoding, secret[len(APIKeyScheme):])
	if err != nil || len(b) != 32 {
		return APIKey{}, formatErr("api key", "not base64url (no padding) of 32 bytes")
	}
	return APIKey{Secret: secret, Prefix: APIKeyPrefix(secret), Hash: HashAPIKey(secret)}, nil
}
