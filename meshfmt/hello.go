package meshfmt

import (
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"time"
)

// HelloSkew is the largest accepted distance between a hello's timestamp and
// the verifier's clock, in either direction (inclusive: exactly 60 000 ms is
// accepted, 60 001 ms is not).
const HelloSkew = 60_000 * time.Millisecond

// Hello is what a peer signs when it connects (SPEC §4): the detached
// ed25519 signature covers the UTF-8 string
// "meshId|memberId|pubkeyHex|timestampMs", timestampMs in decimal.
// PubkeyHex is signed as given (the broker signs and verifies the string it
// received) and is also the key the signature is checked against; callers
// must separately check it is the member's stored peer_pubkey.
type Hello struct {
	MeshID      string
	MemberID    string
	PubkeyHex   string
	TimestampMs int64
}

// Canonical returns the signed bytes.
func (h Hello) Canonical() []byte {
	return []byte(h.MeshID + "|" + h.MemberID + "|" + h.PubkeyHex + "|" + strconv.FormatInt(h.TimestampMs, 10))
}

// SignHello returns the 128-hex signature of h by secretKey (64 bytes).
func SignHello(h Hello, secretKey ed25519.PrivateKey) (string, error) {
	if len(secretKey) != ed25519.PrivateKeySize {
		return "", formatErr("secret key", "want %d bytes", ed25519.PrivateKeySize)
	}
	return hex.EncodeToString(ed25519.Sign(secretKey, h.Canonical())), nil
}

// VerifyHello checks a hello signature with libsodium's strict rules
// (VerifyStrict) and the ±HelloSkew window around now. Errors: a
// *FormatError for bad hex, ErrSignature, ErrExpired.
func VerifyHello(h Hello, sigHex string, now time.Time) error {
	pk, err := hex.DecodeString(h.PubkeyHex)
	if err != nil || len(pk) != ed25519.PublicKeySize {
		return formatErr("pubkey", "want %d hex characters", 2*ed25519.PublicKeySize)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return formatErr("signature", "want %d hex characters", 2*ed25519.SignatureSize)
	}
	if !VerifyStrict(pk, h.Canonical(), sig) {
		return ErrSignature
	}
	d := now.UnixMilli() - h.TimestampMs
	if d > HelloSkew.Milliseconds() || d < -HelloSkew.Milliseconds() {
		return ErrExpired
	}
	return nil
}
