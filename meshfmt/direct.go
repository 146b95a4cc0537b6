package meshfmt

import (
	"crypto/ed25519"
	"encoding/base64"
	"unicode/utf8"
)

// Direct messages (SPEC §4): crypto_box_easy(UTF-8 message, nonce24,
// x25519(recipient ed25519 pk), x25519(sender ed25519 sk)) = MAC16 ‖ ct,
// with nonce and ciphertext stored base64 std (message_queue.nonce,
// .ciphertext). Both key conversions are libsodium's (see
// Ed25519PublicKeyToX25519). Security contract: a nonce must never repeat
// for one sender/recipient pair (production draws it from crypto/rand); the
// box authenticates the sender to the recipient only.

// SealDirect encrypts msg from the sender (64-byte ed25519 secret key) to
// the recipient (32-byte ed25519 public key) and returns ciphertext and
// nonce, base64 std.
func SealDirect(msg string, nonce [24]byte, recipientEdPK []byte, senderEdSK ed25519.PrivateKey) (ciphertext, nonceB64 string, err error) {
	if !utf8.ValidString(msg) {
		return "", "", formatErr("message", "not UTF-8")
	}
	rpk, err := Ed25519PublicKeyToX25519(recipientEdPK)
	if err != nil {
		return "", "", err
	}
	ssk, err := Ed25519SecretKeyToX25519(senderEdSK)
	if err != nil {
		return "", "", err
	}
	box, err := boxSeal([]byte(msg), &nonce, rpk[:], ssk[:])
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(box), base64.StdEncoding.EncodeToString(nonce[:]), nil
}

// OpenDirect decrypts an envelope with the sender's ed25519 public key and
// the recipient's ed25519 secret key. The plaintext must be UTF-8.
func OpenDirect(ciphertext, nonceB64 string, senderEdPK []byte, recipientEdSK ed25519.PrivateKey) (string, error) {
	ct, err := decodeB64(base64.StdEncoding, ciphertext)
	if err != nil {
		return "", formatErr("ciphertext", "not base64 std")
	}
	nonce, err := decodeNonce(nonceB64)
	if err != nil {
		return "", err
	}
	spk, err := Ed25519PublicKeyToX25519(senderEdPK)
	if err != nil {
		return "", err
	}
	rsk, err := Ed25519SecretKeyToX25519(recipientEdSK)
	if err != nil {
		return "", err
	}
	pt, err := boxOpen(ct, nonce, spk[:], rsk[:])
	if err != nil {
		return "", err
	}
	if !utf8.Valid(pt) {
		return "", formatErr("message", "not UTF-8")
	}
	return string(pt), nil
}
