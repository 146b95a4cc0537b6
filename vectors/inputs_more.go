package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/claudemesh/meshctl/meshfmt"
)

// SessionAttestationCase: Signature must verify over the attestation at
// NowMs (TTL rules of meshfmt.VerifySessionAttestation).
type SessionAttestationCase struct {
	ParentPubkey, SessionPubkey string
	ExpiresAtMs, NowMs          int64
	Signature                   string
}

func (in SessionAttestationCase) Accept(Options) (bool, string) {
	a := meshfmt.SessionAttestation{ParentPubkey: in.ParentPubkey, SessionPubkey: in.SessionPubkey, ExpiresAtMs: in.ExpiresAtMs}
	if err := meshfmt.VerifySessionAttestation(a, in.Signature, time.UnixMilli(in.NowMs)); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func (in SessionAttestationCase) flips() []flip {
	return hexSigFlips(in.Signature, func(sig string) Input { c := in; c.Signature = sig; return c })
}

// SessionHelloCase: Signature (by the session key) must verify at NowMs.
type SessionHelloCase struct {
	MeshID, ParentPubkey, SessionPubkey string
	TimestampMs, NowMs                  int64
	Signature                           string
}

func (in SessionHelloCase) Accept(Options) (bool, string) {
	h := meshfmt.SessionHello{MeshID: in.MeshID, ParentPubkey: in.ParentPubkey, SessionPubkey: in.SessionPubkey, TimestampMs: in.TimestampMs}
	if err := meshfmt.VerifySessionHello(h, in.Signature, time.UnixMilli(in.NowMs)); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func (in SessionHelloCase) flips() []flip {
	return hexSigFlips(in.Signature, func(sig string) Input { c := in; c.Signature = sig; return c })
}

func hexSigFlips(sigHex string, with func(string) Input) []flip {
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return nil
	}
	return flipEach(sig, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("signature byte %d flipped", i), with(hex.EncodeToString(fb))}
	})
}

// DirectCase: the envelope must open, with the sender's ed25519 public key
// and the recipient's ed25519 secret key (both from seeds), to Plaintext;
// sealing Plaintext with the same nonce must reproduce it.
type DirectCase struct {
	SenderEdSeed, RecipientEdSeed []byte
	Nonce, Ciphertext, Plaintext  string
}

func (in DirectCase) Accept(Options) (bool, string) {
	s, r := ed25519.NewKeyFromSeed(in.SenderEdSeed), ed25519.NewKeyFromSeed(in.RecipientEdSeed)
	got, err := meshfmt.OpenDirect(in.Ciphertext, in.Nonce, s[32:], r)
	if err != nil {
		return false, err.Error()
	}
	if got != in.Plaintext {
		return false, "plaintext differs"
	}
	var n [24]byte
	nb, _ := base64.StdEncoding.DecodeString(in.Nonce)
	copy(n[:], nb)
	if ct, _, err := meshfmt.SealDirect(in.Plaintext, n, r[32:], s); err != nil || ct != in.Ciphertext {
		return false, "sealing does not reproduce the ciphertext"
	}
	return true, ""
}

func (in DirectCase) flips() []flip {
	raw, err := base64.StdEncoding.DecodeString(in.Ciphertext)
	if err != nil {
		return nil
	}
	return flipEach(raw, func(i int, fb []byte) flip {
		c := in
		c.Ciphertext = base64.StdEncoding.EncodeToString(fb)
		return flip{fmt.Sprintf("box byte %d flipped", i), c}
	})
}

// FileKeyCase: SealedKey must open with the recipient's ed25519 secret key
// (from its seed) to Key, and Ciphertext (base64 std, with Nonce) must open
// with Key to Plaintext (hex).
type FileKeyCase struct {
	RecipientEdSeed, Key []byte
	SealedKey, Nonce     string
	Ciphertext           string
	Plaintext            []byte
}

func (in FileKeyCase) Accept(Options) (bool, string) {
	key, err := meshfmt.OpenFileKey(in.SealedKey, ed25519.NewKeyFromSeed(in.RecipientEdSeed))
	if err != nil {
		return false, "sealed key: " + err.Error()
	}
	if !bytes.Equal(key[:], in.Key) {
		return false, "file key differs"
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(in.Ciphertext)
	if err != nil {
		return false, "ciphertext is not base64 std"
	}
	pt, err := meshfmt.DecryptFile(ct, in.Nonce, key)
	if err != nil {
		return false, "file body: " + err.Error()
	}
	if !bytes.Equal(pt, in.Plaintext) {
		return false, "file body differs"
	}
	return true, ""
}

func (in FileKeyCase) flips() []flip {
	raw, err := base64.StdEncoding.DecodeString(in.SealedKey)
	if err != nil {
		return nil
	}
	out := flipEach(raw, func(i int, fb []byte) flip {
		c := in
		c.SealedKey = base64.StdEncoding.EncodeToString(fb)
		return flip{fmt.Sprintf("sealed key byte %d flipped", i), c}
	})
	ct, err := base64.StdEncoding.DecodeString(in.Ciphertext)
	if err != nil || len(ct) < 16 {
		return out
	}
	// The MAC covers the body: flipping each MAC byte is enough to show the
	// body is authenticated without one negative per body byte.
	return append(out, flipEach(ct[:16], func(i int, fb []byte) flip {
		c := in
		c.Ciphertext = base64.StdEncoding.EncodeToString(append(fb, ct[16:]...))
		return flip{fmt.Sprintf("file MAC byte %d flipped", i), c}
	})...)
}

// EnvSecretCase: Stored must open with Key (64 hex) to Plaintext.
type EnvSecretCase struct {
	Key, Stored, Plaintext string
}

func (in EnvSecretCase) Accept(Options) (bool, string) {
	k, err := meshfmt.ParseEnvKey(in.Key)
	if err != nil {
		return false, err.Error()
	}
	got, err := meshfmt.OpenEnvSecret(k, in.Stored)
	if err != nil {
		return false, err.Error()
	}
	if got != in.Plaintext {
		return false, "plaintext differs"
	}
	return true, ""
}

func (in EnvSecretCase) flips() []flip {
	raw, err := base64.StdEncoding.DecodeString(in.Stored)
	if err != nil {
		return nil
	}
	return flipEach(raw, func(i int, fb []byte) flip {
		part := "ciphertext"
		switch {
		case i < meshfmt.EnvSecretIVSize:
			part = "iv"
		case i < meshfmt.EnvSecretIVSize+meshfmt.EnvSecretTagSize:
			part = "tag"
		}
		c := in
		c.Stored = base64.StdEncoding.EncodeToString(fb)
		return flip{fmt.Sprintf("stored byte %d (%s) flipped", i, part), c}
	})
}
