package meshfmt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestBackupRoundTripAndRefusals(t *testing.T) {
	salt, nonce := [16]byte{1}, [24]byte{2}
	if _, err := SealBackup("short pass!", salt, nonce, []byte("x")); !errors.Is(err, ErrEncoding) {
		t.Errorf("11-character passphrase: %v", err)
	}
	// 12 UTF-16 units although only 6 runes: JavaScript counts code units.
	if _, err := SealBackup(strings.Repeat("🔐", 6), salt, nonce, []byte("x")); err != nil {
		t.Errorf("6 astral characters (12 UTF-16 units): %v", err)
	}
	f, err := SealBackup("correct horse battery", salt, nonce, []byte(`{"meshes":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(f, []byte("CMB1\x01")) || len(f) != 4+16+24+13+16 {
		t.Errorf("layout: %d bytes, %q…", len(f), f[:5])
	}
	if pt, err := OpenBackup(f, "correct horse battery"); err != nil || string(pt) != `{"meshes":[]}` {
		t.Errorf("OpenBackup = %q, %v", pt, err)
	}
	if _, err := OpenBackup(f, "wrong horse battery"); !errors.Is(err, ErrOpen) {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, err := OpenBackup(append([]byte("CMB2"), f[4:]...), "correct horse battery"); !errors.Is(err, ErrEncoding) {
		t.Errorf("bad magic: %v", err)
	}
	if _, err := OpenBackup(f[:60], "correct horse battery"); !errors.Is(err, ErrEncoding) {
		t.Errorf("60 bytes: %v", err)
	}
}

func TestCLISession(t *testing.T) {
	tok, err := SignCLISession(CLISessionClaims{Sub: "user1", Email: "a@b.c", Name: "José", JTI: "j1", IssuedAt: 1_777_777_777}, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !bytes.Contains(payload, []byte("Jos\xe9")) {
		t.Errorf("payload is not Latin-1 as btoa writes it: %q", payload)
	}
	c, err := VerifyCLISession(tok, "s3cret")
	if err != nil || c.Name != "José" || c.ExpiresAt != 1_777_777_777+30*86400 {
		t.Errorf("VerifyCLISession = %+v, %v", c, err)
	}
	if _, err := VerifyCLISession(tok, "other"); !errors.Is(err, ErrSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
	if _, err := VerifyCLISession(none, "s3cret"); !errors.Is(err, ErrEncoding) {
		t.Errorf("alg none: %v", err)
	}
	if _, err := SignCLISession(CLISessionClaims{Sub: "u", JTI: "j", Name: "Ωmega"}, "k"); !errors.Is(err, ErrEncoding) {
		t.Errorf("name above U+00FF: %v", err)
	}
	if h := CLISessionTokenHash("abc"); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("token hash %s", h)
	}
}
