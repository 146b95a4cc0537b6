package meshfmt

import (
	"crypto/ed25519"
	"crypto/sha512"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/curve25519"
)

// lMinusOne is the group order L minus one, little-endian: [L-1]A = -A holds
// exactly when A lies in the prime-order subgroup.
var lMinusOne = [32]byte{
	0xec, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
}

// Ed25519PublicKeyToX25519 converts a member's ed25519 public key to the
// x25519 public key used for every box addressed to that member, with the
// checks of libsodium 1.0.20's crypto_sign_ed25519_pk_to_curve25519: the key
// must not be on the small-order block list, must decode to a curve point
// and must lie in the prime-order subgroup; then u = (1+y)/(1-y).
// Non-canonical y encodings are reduced, as libsodium reduces them.
// A refused key yields ErrLowOrderKey.
func Ed25519PublicKeyToX25519(publicKey []byte) ([32]byte, error) {
	var out [32]byte
	if len(publicKey) != ed25519.PublicKeySize {
		return out, formatErr("ed25519 public key", "want %d bytes, got %d", ed25519.PublicKeySize, len(publicKey))
	}
	if hasSmallOrder(publicKey) {
		return out, ErrLowOrderKey
	}
	A, err := new(edwards25519.Point).SetBytes(publicKey)
	if err != nil {
		return out, ErrLowOrderKey
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(lMinusOne[:])
	if err != nil {
		panic("meshfmt: L-1 is not canonical") // a constant; cannot happen
	}
	if new(edwards25519.Point).ScalarMult(s, A).Equal(new(edwards25519.Point).Negate(A)) != 1 {
		return out, ErrLowOrderKey
	}
	copy(out[:], A.BytesMontgomery())
	return out, nil
}

// Ed25519SecretKeyToX25519 converts a 64-byte ed25519 secret key (seed ‖ pk)
// or a 32-byte seed to the x25519 secret key, as libsodium's
// crypto_sign_ed25519_sk_to_curve25519 does: clamp(SHA-512(seed)[0:32]).
// The result is secret: callers must not log or print it.
func Ed25519SecretKeyToX25519(secretKey []byte) ([32]byte, error) {
	var out [32]byte
	if len(secretKey) != ed25519.PrivateKeySize && len(secretKey) != ed25519.SeedSize {
		return out, formatErr("ed25519 secret key", "want %d or %d bytes, got %d", ed25519.SeedSize, ed25519.PrivateKeySize, len(secretKey))
	}
	h := sha512.Sum512(secretKey[:32])
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	copy(out[:], h[:32])
	return out, nil
}

// X25519PublicKey returns the x25519 public key of a secret key
// (crypto_scalarmult_base).
func X25519PublicKey(secretKey [32]byte) [32]byte {
	var out [32]byte
	pk, err := curve25519.X25519(secretKey[:], curve25519.Basepoint)
	if err != nil {
		panic("meshfmt: x25519 with the base point cannot fail")
	}
	copy(out[:], pk)
	return out
}
