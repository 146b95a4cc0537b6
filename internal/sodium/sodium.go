//go:build sodium

package sodium

/*
#cgo LDFLAGS: -lsodium
#include <stdlib.h>
#include <sodium.h>
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Init initialises libsodium; it must succeed before any other call.
func Init() error {
	if C.sodium_init() < 0 {
		return errors.New("sodium_init failed")
	}
	return nil
}

// Version is libsodium's version string.
func Version() string { return C.GoString(C.sodium_version_string()) }

func p(b []byte) *C.uchar {
	if len(b) == 0 {
		return nil
	}
	return (*C.uchar)(unsafe.Pointer(&b[0]))
}

func ull(n int) C.ulonglong { return C.ulonglong(n) }

// SignVerifyDetached is crypto_sign_verify_detached. Wrong lengths are
// rejected before the call (the C API takes fixed-size buffers).
func SignVerifyDetached(sig, msg, pk []byte) bool {
	if len(sig) != C.crypto_sign_BYTES || len(pk) != C.crypto_sign_PUBLICKEYBYTES {
		return false
	}
	return C.crypto_sign_verify_detached(p(sig), p(msg), ull(len(msg)), p(pk)) == 0
}

// SignSeedKeypair is crypto_sign_seed_keypair: returns pk and sk (seed ‖ pk).
func SignSeedKeypair(seed []byte) (pk, sk []byte) {
	pk = make([]byte, C.crypto_sign_PUBLICKEYBYTES)
	sk = make([]byte, C.crypto_sign_SECRETKEYBYTES)
	C.crypto_sign_seed_keypair(p(pk), p(sk), p(seed))
	return pk, sk
}

// SignDetached is crypto_sign_detached.
func SignDetached(msg, sk []byte) []byte {
	sig := make([]byte, C.crypto_sign_BYTES)
	C.crypto_sign_detached(p(sig), nil, p(msg), ull(len(msg)), p(sk))
	return sig
}

// PkToCurve25519 is crypto_sign_ed25519_pk_to_curve25519.
func PkToCurve25519(edpk []byte) ([]byte, bool) {
	if len(edpk) != 32 {
		return nil, false
	}
	out := make([]byte, 32)
	ok := C.crypto_sign_ed25519_pk_to_curve25519(p(out), p(edpk)) == 0
	return out, ok
}

// SkToCurve25519 is crypto_sign_ed25519_sk_to_curve25519 (64-byte sk).
func SkToCurve25519(edsk []byte) []byte {
	out := make([]byte, 32)
	C.crypto_sign_ed25519_sk_to_curve25519(p(out), p(edsk))
	return out
}

// ScalarMult is crypto_scalarmult (x25519); false when libsodium refuses.
func ScalarMult(n, pt []byte) ([]byte, bool) {
	if len(n) != 32 || len(pt) != 32 {
		return nil, false
	}
	out := make([]byte, 32)
	ok := C.crypto_scalarmult(p(out), p(n), p(pt)) == 0
	return out, ok
}

// ScalarMultBase is crypto_scalarmult_base.
func ScalarMultBase(n []byte) []byte {
	out := make([]byte, 32)
	C.crypto_scalarmult_base(p(out), p(n))
	return out
}

// BoxEasy is crypto_box_easy.
func BoxEasy(m, nonce, pk, sk []byte) ([]byte, bool) {
	if len(nonce) != 24 || len(pk) != 32 || len(sk) != 32 {
		return nil, false
	}
	c := make([]byte, len(m)+C.crypto_box_MACBYTES)
	ok := C.crypto_box_easy(p(c), p(m), ull(len(m)), p(nonce), p(pk), p(sk)) == 0
	return c, ok
}

// BoxOpenEasy is crypto_box_open_easy.
func BoxOpenEasy(c, nonce, pk, sk []byte) ([]byte, bool) {
	if len(nonce) != 24 || len(pk) != 32 || len(sk) != 32 || len(c) < C.crypto_box_MACBYTES {
		return nil, false
	}
	m := make([]byte, len(c)-C.crypto_box_MACBYTES)
	ok := C.crypto_box_open_easy(p(m), p(c), ull(len(c)), p(nonce), p(pk), p(sk)) == 0
	return m, ok
}

// BoxKeypair is crypto_box_keypair (random).
func BoxKeypair() (pk, sk []byte) {
	pk = make([]byte, 32)
	sk = make([]byte, 32)
	C.crypto_box_keypair(p(pk), p(sk))
	return pk, sk
}

// BoxSeal is crypto_box_seal (random ephemeral key).
func BoxSeal(m, pk []byte) ([]byte, bool) {
	if len(pk) != 32 {
		return nil, false
	}
	c := make([]byte, len(m)+C.crypto_box_SEALBYTES)
	ok := C.crypto_box_seal(p(c), p(m), ull(len(m)), p(pk)) == 0
	return c, ok
}

// BoxSealOpen is crypto_box_seal_open.
func BoxSealOpen(c, pk, sk []byte) ([]byte, bool) {
	if len(pk) != 32 || len(sk) != 32 || len(c) < C.crypto_box_SEALBYTES {
		return nil, false
	}
	m := make([]byte, len(c)-C.crypto_box_SEALBYTES)
	ok := C.crypto_box_seal_open(p(m), p(c), ull(len(c)), p(pk), p(sk)) == 0
	return m, ok
}

// SecretboxEasy is crypto_secretbox_easy.
func SecretboxEasy(m, nonce, key []byte) []byte {
	c := make([]byte, len(m)+C.crypto_secretbox_MACBYTES)
	C.crypto_secretbox_easy(p(c), p(m), ull(len(m)), p(nonce), p(key))
	return c
}

// SecretboxOpenEasy is crypto_secretbox_open_easy.
func SecretboxOpenEasy(c, nonce, key []byte) ([]byte, bool) {
	if len(nonce) != 24 || len(key) != 32 || len(c) < C.crypto_secretbox_MACBYTES {
		return nil, false
	}
	m := make([]byte, len(c)-C.crypto_secretbox_MACBYTES)
	ok := C.crypto_secretbox_open_easy(p(m), p(c), ull(len(c)), p(nonce), p(key)) == 0
	return m, ok
}

// Base64 variants of sodium_base642bin / sodium_bin2base64.
const (
	Base64Original          = C.sodium_base64_VARIANT_ORIGINAL
	Base64URLSafeNoPadding  = C.sodium_base64_VARIANT_URLSAFE_NO_PADDING
	Base64OriginalNoPadding = C.sodium_base64_VARIANT_ORIGINAL_NO_PADDING
)

// Base642Bin is sodium_base642bin with no ignored characters; it fails
// unless the whole string is consumed.
func Base642Bin(s string, variant int) ([]byte, bool) {
	out := make([]byte, len(s)*3/4+1)
	var binLen C.size_t
	var end *C.char
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	rc := C.sodium_base642bin(p(out), C.size_t(len(out)), cs, C.size_t(len(s)), nil, &binLen, &end, C.int(variant))
	if rc != 0 || end == nil || uintptr(unsafe.Pointer(end)) != uintptr(unsafe.Pointer(cs))+uintptr(len(s)) {
		return nil, false
	}
	return out[:binLen], true
}

// Bin2Base64 is sodium_bin2base64.
func Bin2Base64(b []byte, variant int) string {
	n := C.sodium_base64_encoded_len(C.size_t(len(b)), C.int(variant))
	out := make([]byte, n)
	C.sodium_bin2base64((*C.char)(unsafe.Pointer(&out[0])), n, p(b), C.size_t(len(b)), C.int(variant))
	return C.GoString((*C.char)(unsafe.Pointer(&out[0])))
}

// SHA256 is crypto_hash_sha256.
func SHA256(b []byte) []byte {
	out := make([]byte, 32)
	C.crypto_hash_sha256(p(out), p(b), ull(len(b)))
	return out
}

// GenericHash is crypto_generichash (BLAKE2b) with no key.
func GenericHash(outLen int, in []byte) []byte {
	out := make([]byte, outLen)
	C.crypto_generichash(p(out), C.size_t(outLen), p(in), ull(len(in)), nil, 0)
	return out
}

// RandomBytes is randombytes_buf.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if n > 0 {
		C.randombytes_buf(unsafe.Pointer(&b[0]), C.size_t(n))
	}
	return b
}
