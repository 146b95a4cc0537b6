package meshfmt

import (
	"encoding/base64"
	"io"
)

// Topic-key sealed copy (SPEC §4): each member's copy of a topic's 32-byte
// secretbox key is crypto_box_easy(topicKey, nonce, member x25519 pk,
// topic sender sk), stored as base64 std (padded) of sender_pk(32) ‖
// MAC(16) ‖ ct(32) = 80 bytes, with the 24-byte nonce stored separately in
// base64 std. Security contract: a nonce must never repeat for the same
// (sender, recipient) pair; the sender secret key is used once per topic and
// discarded after sealing (a CLI re-seal uses the re-sealing member's own
// x25519 key instead, see OpenTopicKey); small-order public keys are
// refused on both sides, as libsodium refuses them.
const (
	TopicKeyBlobSize = KeySize + BoxOverhead + KeySize // 80
)

// GenerateTopicKey reads a fresh topic key from rand (crypto/rand.Reader).
func GenerateTopicKey(rand io.Reader) ([32]byte, error) {
	var k [32]byte
	_, err := io.ReadFull(rand, k[:])
	return k, err
}

// SealTopicKey seals topicKey for one member. recipientPK is the member's
// x25519 key (see Ed25519PublicKeyToX25519); senderSK is the topic's
// one-time x25519 sender key. It returns the blob and the nonce, both base64
// std, ready for topic_member_key.encrypted_key and .nonce.
func SealTopicKey(topicKey [32]byte, nonce [24]byte, recipientPK, senderSK [32]byte) (blob, nonceB64 string, err error) {
	box, err := boxSeal(topicKey[:], &nonce, recipientPK[:], senderSK[:])
	if err != nil {
		return "", "", err
	}
	senderPK := X25519PublicKey(senderSK)
	raw := append(senderPK[:], box...)
	return base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(nonce[:]), nil
}

// OpenTopicKey opens a member's sealed copy with the member's x25519 secret
// key. It returns the topic key and the sender public key embedded in the
// blob. Blobs that are not exactly 80 bytes, nonces that are not 24 bytes,
// small-order sender keys and failed MACs are all refused.
//
// The embedded sender key is NOT in general topic.encrypted_key_pubkey, and
// callers must not require it to be: only the creator's seal (broker
// createTopic, dashboard #general) uses the topic's one-time sender key; a
// CLI re-seal (sealTopicKeyFor) embeds the re-sealing member's own x25519
// key, and upstream never compares the two. What the box authenticates is
// that the holder of the embedded key's secret sealed it; whether that
// holder may share the topic key is the caller's policy (e.g. the embedded
// key converts from a current member's peer_pubkey, or equals the topic's
// sender key).
func OpenTopicKey(blob, nonceB64 string, recipientSK [32]byte) (topicKey, senderPK [32]byte, err error) {
	raw, err := decodeB64(base64.StdEncoding, blob)
	if err != nil {
		return topicKey, senderPK, formatErr("blob", "not base64 std")
	}
	if len(raw) != TopicKeyBlobSize {
		return topicKey, senderPK, formatErr("blob", "want %d bytes, got %d", TopicKeyBlobSize, len(raw))
	}
	nonce, err := decodeNonce(nonceB64)
	if err != nil {
		return topicKey, senderPK, err
	}
	copy(senderPK[:], raw[:KeySize])
	key, err := boxOpen(raw[KeySize:], nonce, senderPK[:], recipientSK[:])
	if err != nil {
		return topicKey, senderPK, err
	}
	copy(topicKey[:], key)
	return topicKey, senderPK, nil
}

func decodeNonce(s string) (*[24]byte, error) {
	b, err := decodeB64(base64.StdEncoding, s)
	if err != nil {
		return nil, formatErr("nonce", "not base64 std")
	}
	if len(b) != NonceSize {
		return nil, formatErr("nonce", "want %d bytes, got %d", NonceSize, len(b))
	}
	var n [24]byte
	copy(n[:], b)
	return &n, nil
}
