package meshfmt

import (
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/secretbox"
	//lint:ignore SA1019 HSalsa20 is the KDF of crypto_box_beforenm and crypto_box_seal; the deprecation steers new designs to AEADs, this reproduces libsodium's.
	"golang.org/x/crypto/salsa20/salsa"
)

// Overheads and sizes of the NaCl constructions used by the mesh.
const (
	NonceSize       = 24                    // crypto_box / crypto_secretbox nonce
	KeySize         = 32                    // x25519 keys, secretbox keys
	BoxOverhead     = secretbox.Overhead    // Poly1305 MAC, 16 bytes
	SealedOverhead  = KeySize + BoxOverhead // crypto_box_seal: ephemeral pk ‖ MAC
	sealNonceLength = 24
)

// boxKey is crypto_box_beforenm with libsodium's refusal: the x25519 shared
// secret must not be all zero, which is exactly the case of a small-order
// peer key (libsodium blocks those by list and then checks for zero).
// golang.org/x/crypto/nacl/box.Precompute skips this check, and a box made
// with the resulting public key HSalsa20(0) can be forged by anyone.
func boxKey(peerPublic, secret []byte) (*[32]byte, error) {
	shared, err := curve25519.X25519(secret, peerPublic)
	if err != nil {
		return nil, ErrLowOrderKey
	}
	var k, s [32]byte
	copy(s[:], shared)
	salsa.HSalsa20(&k, &[16]byte{}, &s, &salsa.Sigma)
	return &k, nil
}

// boxSeal is crypto_box_easy: MAC16 ‖ ciphertext.
func boxSeal(msg []byte, nonce *[24]byte, peerPublic, secret []byte) ([]byte, error) {
	k, err := boxKey(peerPublic, secret)
	if err != nil {
		return nil, err
	}
	return secretbox.Seal(nil, msg, nonce, k), nil
}

// boxOpen is crypto_box_open_easy.
func boxOpen(box []byte, nonce *[24]byte, peerPublic, secret []byte) ([]byte, error) {
	k, err := boxKey(peerPublic, secret)
	if err != nil {
		return nil, err
	}
	if len(box) < BoxOverhead {
		return nil, ErrOpen
	}
	out, ok := secretbox.Open(nil, box, nonce, k)
	if !ok {
		return nil, ErrOpen
	}
	return out, nil
}

// sealNonce is crypto_box_seal's nonce: BLAKE2b-192(ephemeral pk ‖ recipient pk).
func sealNonce(ephemeralPK, recipientPK []byte) *[24]byte {
	h, err := blake2b.New(sealNonceLength, nil)
	if err != nil {
		panic("meshfmt: blake2b-192 is a valid size")
	}
	h.Write(ephemeralPK)
	h.Write(recipientPK)
	var n [24]byte
	copy(n[:], h.Sum(nil))
	return &n
}

// SealAnonymous is libsodium's crypto_box_seal with a caller-supplied
// ephemeral secret key (random in production: see SealRootKey; fixed only in
// vector generation). Output: ephemeral pk ‖ MAC ‖ ciphertext.
func SealAnonymous(msg []byte, recipientPK [32]byte, ephemeralSK [32]byte) ([]byte, error) {
	epk := X25519PublicKey(ephemeralSK)
	box, err := boxSeal(msg, sealNonce(epk[:], recipientPK[:]), recipientPK[:], ephemeralSK[:])
	if err != nil {
		return nil, err
	}
	return append(epk[:], box...), nil
}

// OpenAnonymous is libsodium's crypto_box_seal_open. A small-order
// ephemeral key is refused (ErrLowOrderKey), as libsodium refuses it.
func OpenAnonymous(sealed []byte, recipientPK, recipientSK [32]byte) ([]byte, error) {
	if len(sealed) < SealedOverhead {
		return nil, ErrOpen
	}
	epk := sealed[:KeySize]
	return boxOpen(sealed[KeySize:], sealNonce(epk, recipientPK[:]), epk, recipientSK[:])
}
