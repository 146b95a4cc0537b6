package meshfmt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionAttestationTTL(t *testing.T) {
	parent, session := seedKey(1), seedKey(50)
	now := time.UnixMilli(1_777_777_777_000)
	for _, tt := range []struct {
		ttl  int64
		want error
	}{{1, nil}, {24 * 3600_000, nil}, {24*3600_000 + 1, ErrExpired}, {0, ErrExpired}, {-1, ErrExpired}} {
		a := SessionAttestation{ParentPubkey: hex.EncodeToString(parent[32:]), SessionPubkey: hex.EncodeToString(session[32:]), ExpiresAtMs: now.UnixMilli() + tt.ttl}
		sig, _ := SignSessionAttestation(a, parent)
		if err := VerifySessionAttestation(a, sig, now); !errors.Is(err, tt.want) {
			t.Errorf("ttl %d: err = %v, want %v", tt.ttl, err, tt.want)
		}
	}
	a := SessionAttestation{ParentPubkey: hex.EncodeToString(parent[32:]), SessionPubkey: hex.EncodeToString(session[32:]), ExpiresAtMs: now.UnixMilli() + 10}
	sig, _ := SignSessionAttestation(a, session) // signed by the wrong key
	if err := VerifySessionAttestation(a, sig, now); !errors.Is(err, ErrSignature) {
		t.Errorf("signed by the session key: %v", err)
	}
}

func TestSessionHelloSkew(t *testing.T) {
	parent, session := seedKey(1), seedKey(50)
	now := time.UnixMilli(1_777_777_777_000)
	for _, tt := range []struct {
		off  int64
		want error
	}{{0, nil}, {60_000, nil}, {-60_000, nil}, {60_001, ErrExpired}, {-60_001, ErrExpired}} {
		h := SessionHello{MeshID: "m", ParentPubkey: hex.EncodeToString(parent[32:]), SessionPubkey: hex.EncodeToString(session[32:]), TimestampMs: now.UnixMilli() + tt.off}
		sig, _ := SignSessionHello(h, session)
		if err := VerifySessionHello(h, sig, now); !errors.Is(err, tt.want) {
			t.Errorf("offset %d: err = %v, want %v", tt.off, err, tt.want)
		}
	}
}

func TestDirectFileEnvRoundTrips(t *testing.T) {
	alice, bob := seedKey(1), seedKey(50)
	ct, n, err := SealDirect("hi ü", [24]byte{1}, bob[32:], alice)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenDirect(ct, n, alice[32:], bob); err != nil || got != "hi ü" {
		t.Errorf("OpenDirect = %q, %v", got, err)
	}
	if _, err := OpenDirect(ct, n, bob[32:], bob); !errors.Is(err, ErrOpen) {
		t.Errorf("wrong sender: %v", err)
	}

	key := [32]byte{3}
	sealed, err := SealFileKey(bytes.NewReader(bytes.Repeat([]byte{4}, 32)), key, bob[32:])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenFileKey(sealed, bob); err != nil || got != key {
		t.Errorf("OpenFileKey: %v", err)
	}
	if _, err := OpenFileKey(sealed, alice); !errors.Is(err, ErrOpen) {
		t.Errorf("wrong peer: %v", err)
	}
	body, fn := EncryptFile([]byte("body"), [24]byte{5}, key)
	if got, err := DecryptFile(body, fn, key); err != nil || string(got) != "body" {
		t.Errorf("DecryptFile = %q, %v", got, err)
	}

	k, err := ParseEnvKey(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := SealEnvSecret(k, [12]byte{6}, `{"A":"b"}`)
	raw, _ := base64.StdEncoding.DecodeString(st)
	if len(raw) != 12+16+9 || !bytes.Equal(raw[:12], []byte{6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("stored layout: %d bytes, iv %x", len(raw), raw[:12])
	}
	if got, err := OpenEnvSecret(k, st); err != nil || got != `{"A":"b"}` {
		t.Errorf("OpenEnvSecret = %q, %v", got, err)
	}
	// Tag after the ciphertext (Go's order) must not open: the stored order is iv ‖ tag ‖ ct.
	swapped := append(append(append([]byte{}, raw[:12]...), raw[28:]...), raw[12:28]...)
	if _, err := OpenEnvSecret(k, base64.StdEncoding.EncodeToString(swapped)); !errors.Is(err, ErrOpen) {
		t.Errorf("iv ‖ ct ‖ tag accepted: %v", err)
	}
	if _, err := ParseEnvKey(strings.Repeat("a", 63)); !errors.Is(err, ErrEncoding) {
		t.Errorf("63 hex: %v", err)
	}
}
