package meshfmt

import (
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"time"
)

// Session keys (SPEC §4). A member's CLI mints a per-session ed25519 key
// pair and vouches for it with an attestation signed by the member's own
// key; the session then proves possession on every connection with a
// session hello signed by the session key.
//
//	attestation: "claudemesh-session-attest|<parent_pk hex>|<session_pk hex>|<expires_at_ms>"
//	             signed by the parent member; accepted while now < expires_at ≤ now + 24 h
//	session hello: "claudemesh-session-hello|<mesh_id>|<parent_pk>|<session_pk>|<ts_ms>"
//	             signed by the session key; accepted within ±60 000 ms of now
//
// Keys are signed as given (the broker signs and verifies the strings it
// received); callers must still check that ParentPubkey is the member's
// stored peer_pubkey.

// SessionAttestationMaxTTL is the longest accepted attestation lifetime.
const SessionAttestationMaxTTL = 24 * time.Hour

// SessionAttestation is a parent member vouching for a session key.
type SessionAttestation struct {
	ParentPubkey  string // 64 hex
	SessionPubkey string // 64 hex
	ExpiresAtMs   int64
}

// Canonical returns the signed bytes.
func (a SessionAttestation) Canonical() []byte {
	return []byte("claudemesh-session-attest|" + a.ParentPubkey + "|" + a.SessionPubkey + "|" + strconv.FormatInt(a.ExpiresAtMs, 10))
}

// SignSessionAttestation signs a with the parent's secret key (64 bytes).
func SignSessionAttestation(a SessionAttestation, parentSK ed25519.PrivateKey) (string, error) {
	if len(parentSK) != ed25519.PrivateKeySize {
		return "", formatErr("secret key", "want %d bytes", ed25519.PrivateKeySize)
	}
	return hex.EncodeToString(ed25519.Sign(parentSK, a.Canonical())), nil
}

// VerifySessionAttestation checks the lifetime (expired at or before now,
// or more than SessionAttestationMaxTTL ahead: ErrExpired), the encodings
// (*FormatError) and the parent's signature, strictly (ErrSignature).
func VerifySessionAttestation(a SessionAttestation, sigHex string, now time.Time) error {
	n := now.UnixMilli()
	if a.ExpiresAtMs <= n || a.ExpiresAtMs > n+SessionAttestationMaxTTL.Milliseconds() {
		return ErrExpired
	}
	if err := checkHexKey("session pubkey", a.SessionPubkey); err != nil {
		return err
	}
	return verifyOwnerSig(a.ParentPubkey, sigHex, a.Canonical())
}

// SessionHello is what a session signs on every connection.
type SessionHello struct {
	MeshID        string
	ParentPubkey  string
	SessionPubkey string
	TimestampMs   int64
}

// Canonical returns the signed bytes.
func (h SessionHello) Canonical() []byte {
	return []byte("claudemesh-session-hello|" + h.MeshID + "|" + h.ParentPubkey + "|" + h.SessionPubkey + "|" + strconv.FormatInt(h.TimestampMs, 10))
}

// SignSessionHello signs h with the session's secret key (64 bytes).
func SignSessionHello(h SessionHello, sessionSK ed25519.PrivateKey) (string, error) {
	if len(sessionSK) != ed25519.PrivateKeySize {
		return "", formatErr("secret key", "want %d bytes", ed25519.PrivateKeySize)
	}
	return hex.EncodeToString(ed25519.Sign(sessionSK, h.Canonical())), nil
}

// VerifySessionHello checks the ±HelloSkew window (ErrExpired), the
// encodings and the session key's signature, strictly.
func VerifySessionHello(h SessionHello, sigHex string, now time.Time) error {
	d := now.UnixMilli() - h.TimestampMs
	if d > HelloSkew.Milliseconds() || d < -HelloSkew.Milliseconds() {
		return ErrExpired
	}
	if err := checkHexKey("parent pubkey", h.ParentPubkey); err != nil {
		return err
	}
	return verifyOwnerSig(h.SessionPubkey, sigHex, h.Canonical())
}

func checkHexKey(field, s string) error {
	if b, err := hex.DecodeString(s); err != nil || len(b) != ed25519.PublicKeySize {
		return formatErr(field, "want %d hex characters", 2*ed25519.PublicKeySize)
	}
	return nil
}
