package meshfmt

import (
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/nacl/secretbox"
)

// Message bodies (SPEC §4), by topic_message.body_version:
//
//	1: ciphertext = base64 std of the UTF-8 plaintext; the nonce is
//	   meaningless and ignored. Readable by the server.
//	2: ciphertext = base64 std of crypto_secretbox_easy(utf8, nonce, topicKey)
//	   = MAC16 ‖ ct; nonce = base64 std of 24 bytes. Opaque to the server.
//
// Decoding is strict: canonical padded base64 only, and the plaintext must be
// valid UTF-8 (a body that is not is refused, never passed on mangled).
// Security contract for v2: a nonce must never repeat under one topic key.
const (
	BodyV1 = 1
	BodyV2 = 2
)

// EncodeBodyV1 returns the v1 ciphertext column for plaintext.
func EncodeBodyV1(plaintext string) (string, error) {
	if !utf8.ValidString(plaintext) {
		return "", formatErr("body", "plaintext is not UTF-8")
	}
	return base64.StdEncoding.EncodeToString([]byte(plaintext)), nil
}

// DecodeBodyV1 decodes a v1 ciphertext column.
func DecodeBodyV1(ciphertext string) (string, error) {
	b, err := decodeB64(base64.StdEncoding, ciphertext)
	if err != nil {
		return "", formatErr("body", "not base64 std")
	}
	if !utf8.Valid(b) {
		return "", formatErr("body", "plaintext is not UTF-8")
	}
	return string(b), nil
}

// EncodeBodyV2 seals plaintext under topicKey with nonce and returns the
// ciphertext and nonce columns (base64 std).
func EncodeBodyV2(plaintext string, nonce [24]byte, topicKey [32]byte) (string, string, error) {
	if !utf8.ValidString(plaintext) {
		return "", "", formatErr("body", "plaintext is not UTF-8")
	}
	ct := secretbox.Seal(nil, []byte(plaintext), &nonce, &topicKey)
	return base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(nonce[:]), nil
}

// DecodeBodyV2 opens a v2 body with the topic key.
func DecodeBodyV2(ciphertext, nonceB64 string, topicKey [32]byte) (string, error) {
	ct, err := decodeB64(base64.StdEncoding, ciphertext)
	if err != nil {
		return "", formatErr("body", "not base64 std")
	}
	nonce, err := decodeNonce(nonceB64)
	if err != nil {
		return "", err
	}
	if len(ct) < BoxOverhead {
		return "", ErrOpen
	}
	pt, ok := secretbox.Open(nil, ct, nonce, &topicKey)
	if !ok {
		return "", ErrOpen
	}
	if !utf8.Valid(pt) {
		return "", formatErr("body", "plaintext is not UTF-8")
	}
	return string(pt), nil
}

// DecodeBody decodes a topic_message row's body by its version. topicKey is
// only used for version 2.
func DecodeBody(version int, nonceB64, ciphertext string, topicKey [32]byte) (string, error) {
	switch version {
	case BodyV1:
		return DecodeBodyV1(ciphertext)
	case BodyV2:
		return DecodeBodyV2(ciphertext, nonceB64, topicKey)
	}
	return "", formatErr("body_version", "unknown version %s", fmt.Sprint(version))
}
