package meshfmt

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"

	"filippo.io/edwards25519"
)

// VerifyStrict reports whether sig is a valid ed25519 signature of message
// by publicKey under exactly the rules of libsodium 1.0.20's
// crypto_sign_verify_detached, which the broker uses:
//
//   - S (sig[32:]) must be canonical, S < L;
//   - R (sig[:32]) and A (publicKey) must not be one of the seven small-order
//     encodings libsodium blocks (compared with the sign bit ignored, so the
//     x = -0 variants are blocked too);
//   - A must be a canonical encoding (y < p) and decode to a curve point;
//   - the cofactorless equation [S]B = R + [k]A must hold, checked by
//     re-encoding [S]B - [k]A and comparing bytes with R, which rejects any
//     non-canonical R; k = SHA-512(R ‖ A ‖ M) uses the bytes as given.
//
// Points with a small-order component that are not on the block list (mixed
// order) are accepted when the equation holds, as libsodium 1.0.20 accepts
// them. Go's crypto/ed25519.Verify differs only by accepting small-order R
// and A and non-canonical A; signatures the broker would refuse must be
// refused here too, so every mesh-format verification goes through this
// function. Wrong lengths are rejected, never padded.
func VerifyStrict(publicKey, message, sig []byte) bool {
	if len(publicKey) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	S, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	if hasSmallOrder(sig[:32]) || !isCanonicalPoint(publicKey) || hasSmallOrder(publicKey) {
		return false
	}
	A, err := new(edwards25519.Point).SetBytes(publicKey)
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(publicKey)
	h.Write(message)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		return false
	}
	minusA := new(edwards25519.Point).Negate(A)
	R := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, minusA, S)
	return subtle.ConstantTimeCompare(R.Bytes(), sig[:32]) == 1
}

// smallOrderEdwards is libsodium's block list (ge25519_has_small_order):
// 0 (order 4), 1 (order 1), the two order-8 points, p-1 (order 2), and the
// non-canonical p and p+1. The sign bit of the last byte is not compared.
var smallOrderEdwards = [7][32]byte{
	{},
	{0x01},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// hasSmallOrder mirrors ge25519_has_small_order (inputs are public, so a
// plain comparison is fine).
func hasSmallOrder(s []byte) bool {
	for _, b := range smallOrderEdwards {
		if subtle.ConstantTimeCompare(s[:31], b[:31]) == 1 && s[31]&0x7f == b[31] {
			return true
		}
	}
	return false
}

// isCanonicalPoint mirrors ge25519_is_canonical: the y coordinate (sign bit
// ignored) must be below p = 2^255 - 19.
func isCanonicalPoint(s []byte) bool {
	if s[31]&0x7f != 0x7f {
		return true
	}
	for i := 30; i > 0; i-- {
		if s[i] != 0xff {
			return true
		}
	}
	return s[0] < 0xed
}
