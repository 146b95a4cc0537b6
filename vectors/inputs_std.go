package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/claudemesh/meshctl/meshfmt"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// Options select how Run decides verdicts.
type Options struct {
	// Strict verifies standard ed25519 vectors with meshfmt.VerifyStrict
	// (libsodium 1.0.20's rules) instead of crypto/ed25519. Mesh formats
	// always use the strict rules, as the broker does.
	Strict bool
	// Long runs the slow vectors (RFC 7748's 1,000,000 iterations).
	Long bool
}

// Input is a decoded test input. Accept runs meshctl's Go implementation
// and reports whether the input was accepted and produced the expected
// outputs; detail says why not.
type Input interface {
	Accept(o Options) (ok bool, detail string)
}

// flipper is implemented by inputs whose valid vectors yield single-byte
// flip negatives: one per byte of the authenticated part (signature, box).
type flipper interface {
	flips() []flip
}

type flip struct {
	label string
	input Input
}

// slowInput is implemented by inputs that may be long vectors, run only
// with Options.Long; why says what makes them slow.
type slowInput interface {
	slow() (long bool, why string)
}

// flipEach returns one copy of b per byte, that byte XORed with 0x01 (the
// lowest bit: the smallest change; a flip of bit 255 of an x25519 key would
// be masked, which is not what these negatives test).
func flipEach(b []byte, mk func(i int, fb []byte) flip) []flip {
	out := make([]flip, 0, len(b))
	for i := range b {
		fb := bytes.Clone(b)
		fb[i] ^= 0x01
		out = append(out, mk(i, fb))
	}
	return out
}

// Ed25519Verify is a signature verification vector (Wycheproof EddsaVerify,
// C2SP CCTV).
type Ed25519Verify struct {
	PublicKey, Message, Signature []byte
}

func (in Ed25519Verify) Accept(o Options) (bool, string) {
	var ok bool
	if o.Strict {
		ok = meshfmt.VerifyStrict(in.PublicKey, in.Message, in.Signature)
	} else {
		ok = len(in.PublicKey) == ed25519.PublicKeySize && ed25519.Verify(in.PublicKey, in.Message, in.Signature)
	}
	if !ok {
		return false, "signature rejected"
	}
	return true, ""
}

func (in Ed25519Verify) flips() []flip {
	return flipEach(in.Signature, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("signature byte %d flipped", i), Ed25519Verify{in.PublicKey, in.Message, fb}}
	})
}

// Ed25519Sign is a known-answer vector with the secret seed (RFC 8032):
// the key pair and the deterministic signature must be reproduced, and the
// signature must verify.
type Ed25519Sign struct {
	Seed, PublicKey, Message, Signature []byte
}

func (in Ed25519Sign) Accept(o Options) (bool, string) {
	if len(in.Seed) != ed25519.SeedSize {
		return false, "seed is not 32 bytes"
	}
	sk := ed25519.NewKeyFromSeed(in.Seed)
	if !bytes.Equal(sk[32:], in.PublicKey) {
		return false, "public key of the seed differs: " + hex.EncodeToString(sk[32:])
	}
	if sig := ed25519.Sign(sk, in.Message); !bytes.Equal(sig, in.Signature) {
		return false, "signature differs: " + hex.EncodeToString(sig)
	}
	return Ed25519Verify{in.PublicKey, in.Message, in.Signature}.Accept(o)
}

func (in Ed25519Sign) flips() []flip {
	return Ed25519Verify{in.PublicKey, in.Message, in.Signature}.flips()
}

// X25519 is a scalar multiplication vector: X25519(Private, Public) must
// equal Shared. An all-zero result is refused (libsodium's rule).
type X25519 struct {
	Private, Public, Shared []byte
}

func (in X25519) Accept(Options) (bool, string) {
	got, err := curve25519.X25519(in.Private, in.Public)
	if err != nil {
		return false, "refused: " + err.Error()
	}
	if !bytes.Equal(got, in.Shared) {
		return false, "shared secret differs: " + hex.EncodeToString(got)
	}
	return true, ""
}

// X25519Iterate is RFC 7748 §5.2's iteration: k = u = 9; repeat
// (k, u) = (X25519(k, u), k).
type X25519Iterate struct {
	Iterations int
	Result     []byte
	Long       bool
}

func (in X25519Iterate) slow() (bool, string) {
	return in.Long, fmt.Sprintf("%d iterations", in.Iterations)
}

func (in X25519Iterate) Accept(Options) (bool, string) {
	k := make([]byte, 32)
	k[0] = 9
	u := bytes.Clone(k)
	for i := 0; i < in.Iterations; i++ {
		r, err := curve25519.X25519(k, u)
		if err != nil {
			return false, fmt.Sprintf("iteration %d refused", i+1)
		}
		u, k = k, r
	}
	if !bytes.Equal(k, in.Result) {
		return false, "result differs: " + hex.EncodeToString(k)
	}
	return true, ""
}

// NaClBox is crypto_box_easy: Box = MAC ‖ ciphertext of Message between
// SecretKey and PublicKey. Accepted when Box opens to Message and sealing
// Message reproduces Box; small-order keys are refused as libsodium does.
type NaClBox struct {
	SecretKey, PublicKey, Nonce, Message, Box []byte
}

func (in NaClBox) Accept(Options) (bool, string) {
	if len(in.SecretKey) != 32 || len(in.PublicKey) != 32 || len(in.Nonce) != 24 {
		return false, "key or nonce has the wrong length"
	}
	var pk, sk [32]byte
	var n [24]byte
	copy(pk[:], in.PublicKey)
	copy(sk[:], in.SecretKey)
	copy(n[:], in.Nonce)
	if _, err := curve25519.X25519(in.SecretKey, in.PublicKey); err != nil {
		return false, "small-order public key refused"
	}
	if out, ok := box.Open(nil, in.Box, &n, &pk, &sk); !ok || !bytes.Equal(out, in.Message) {
		return false, "box does not open"
	}
	if got := box.Seal(nil, in.Message, &n, &pk, &sk); !bytes.Equal(got, in.Box) {
		return false, "box differs: " + hex.EncodeToString(got)
	}
	return true, ""
}

func (in NaClBox) flips() []flip {
	return flipEach(in.Box, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("box byte %d flipped", i), NaClBox{in.SecretKey, in.PublicKey, in.Nonce, in.Message, fb}}
	})
}

// NaClSecretBox is crypto_secretbox_easy: Box = MAC ‖ ciphertext.
type NaClSecretBox struct {
	Key, Nonce, Message, Box []byte
}

func (in NaClSecretBox) Accept(Options) (bool, string) {
	if len(in.Key) != 32 || len(in.Nonce) != 24 {
		return false, "key or nonce has the wrong length"
	}
	var k [32]byte
	var n [24]byte
	copy(k[:], in.Key)
	copy(n[:], in.Nonce)
	out, ok := secretbox.Open(nil, in.Box, &n, &k)
	if !ok {
		return false, "secretbox does not open"
	}
	if !bytes.Equal(out, in.Message) {
		return false, "plaintext differs"
	}
	if got := secretbox.Seal(nil, in.Message, &n, &k); !bytes.Equal(got, in.Box) {
		return false, "secretbox differs: " + hex.EncodeToString(got)
	}
	return true, ""
}

func (in NaClSecretBox) flips() []flip {
	return flipEach(in.Box, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("secretbox byte %d flipped", i), NaClSecretBox{in.Key, in.Nonce, in.Message, fb}}
	})
}
