package meshfmt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// specInvite is SPEC §4's pinned invite (owner seed 0x01..0x20, root key
// 32 × 0x07).
func specInvite() InviteV1 {
	return InviteV1{MeshID: "meshA", MeshSlug: "my-mesh", BrokerURL: "wss://ic.claudemesh.com/ws", ExpiresAt: 1777777777,
		RootKey: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), Role: "member"}
}

// TestSpecPinsComputedUpstream reproduces the values SPEC §4 pins from
// upstream's own code: the hello, invite v1 (signature, and the token's
// length, prefix and sha256) and invite v2 signatures.
func TestSpecPinsComputedUpstream(t *testing.T) {
	sk := seedKey(1)
	pk := hex.EncodeToString(sk[32:])
	sig, _ := SignHello(Hello{MeshID: "meshA", MemberID: "memberA", PubkeyHex: pk, TimestampMs: 1777777777000}, sk)
	if !strings.HasPrefix(sig, "8d93f8f26c5ea060") || !strings.HasSuffix(sig, "3de42a04") {
		t.Errorf("hello signature %s, pinned 8d93f8f26c5ea060…3de42a04", sig)
	}
	tok, inv, err := SignInviteV1(specInvite(), sk)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1|meshA|my-mesh|wss://ic.claudemesh.com/ws|1777777777|BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc|member|" + pk; string(inv.Canonical()) != want {
		t.Errorf("canonical %q, want %q", inv.Canonical(), want)
	}
	if !strings.HasPrefix(inv.Signature, "3dfcf61438097d2c") || !strings.HasSuffix(inv.Signature, "b64f6d0b") {
		t.Errorf("invite v1 signature %s, pinned 3dfcf61438097d2c…b64f6d0b", inv.Signature)
	}
	sum := sha256.Sum256([]byte(tok))
	if len(tok) != 555 || !strings.HasPrefix(tok, "eyJ2IjoxLCJtZXNoX2lkIjoibWVzaEEiLCJtZXNoX3NsdWciOiJteS1tZXNo") ||
		hex.EncodeToString(sum[:]) != "234c07a7947f715e268089c886f10fb2ad0f9a317bf31a8bd1e32f19820738a6" {
		t.Errorf("token: %d chars, sha256 %x; pinned 555 chars, sha256 234c07a7…", len(tok), sum)
	}
	if got, err := VerifyInviteV1(tok, time.Unix(1777777777, 0)); err != nil || got != inv {
		t.Errorf("VerifyInviteV1(pin) = %+v, %v", got, err)
	}
	st, _ := SignInviteV2("meshA", "inviteA", 1777777777, "member", sk)
	if !strings.Contains(st, `"signature":"d47fc19df96beefa`) || !strings.HasSuffix(st, `57af870f"}`) {
		t.Errorf("invite v2 %s, pinned signature d47fc19df96beefa…57af870f", st)
	}
}

// TestInviteV1ParserDifferentials: tokens JSON.parse would read differently
// from a lenient Go decoder, or that upstream refuses, are refused; the
// ones JSON.parse reads exactly as meant are accepted. Every token is
// signed by the owner over the canonical string of the fields meant.
func TestInviteV1ParserDifferentials(t *testing.T) {
	sk := seedKey(1)
	_, inv, _ := SignInviteV1(specInvite(), sk)
	now := time.Unix(1777777000, 0)
	payload := string(inv.payload())
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	// signedAs re-signs with another role, so the signature is valid for
	// the canonical string a lenient reader would build.
	signedAs := func(role string) InviteV1 {
		i := specInvite()
		i.OwnerPubkey = inv.OwnerPubkey
		i.Role = role
		i.Signature = hex.EncodeToString(ed25519Sign(sk, i.Canonical()))
		return i
	}
	owner := signedAs("owner")
	admin := signedAs("admin")
	for _, tt := range []struct {
		name, token string
		ok          bool
	}{
		{"as signed", enc(payload), true},
		{"escaped key \\u0072ole alone (JSON.parse reads role)", enc(strings.Replace(payload, `"role"`, `"\u0072ole"`, 1)), true},
		{"role owner, signed", enc(string(owner.payload())), false},
		{"v as the string \"1\"", enc(strings.Replace(payload, `"v":1`, `"v":"1"`, 1)), false},
		{"v as 1.0", enc(strings.Replace(payload, `"v":1`, `"v":1.0`, 1)), false},
		{"expires_at as a string", enc(strings.Replace(payload, `"expires_at":1777777777`, `"expires_at":"1777777777"`, 1)), false},
		{"expires_at with an exponent", enc(strings.Replace(payload, `"expires_at":1777777777`, `"expires_at":1.777777777e9`, 1)), false},
		{"member then ROLE admin (admin signed)", enc(strings.Replace(string(admin.payload()), `"role":"admin"`, `"role":"member","ROLE":"admin"`, 1)), false},
		{"role repeated: member then admin (admin signed)", enc(strings.Replace(string(admin.payload()), `"role":"admin"`, `"role":"member","role":"admin"`, 1)), false},
		{"role repeated via \\u0072ole (admin signed)", enc(strings.Replace(string(admin.payload()), `"role":"admin"`, `"role":"member","\u0072ole":"admin"`, 1)), false},
		{"extra key", enc(strings.Replace(payload, `{"v":1,`, `{"v":1,"note":"x",`, 1)), false},
		{"old key root_key", enc(strings.Replace(payload, `"mesh_root_key"`, `"root_key"`, 1)), false},
		{"'=' padding", base64.URLEncoding.EncodeToString([]byte(payload)), false},
		{"trailing data", enc(payload + " {}"), false},
		{"nested value", enc(strings.Replace(payload, `"mesh_slug":"my-mesh"`, `"mesh_slug":["my-mesh"]`, 1)), false},
		{"not UTF-8", enc(strings.Replace(payload, "my-mesh", "my-\xffmesh", 1)), false},
	} {
		_, err := VerifyInviteV1(tt.token, now)
		if tt.ok && err != nil {
			t.Errorf("%s: refused: %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: err = %v, want ErrEncoding", tt.name, err)
		}
	}
	if _, _, err := SignInviteV1(InviteV1{MeshID: "m", MeshSlug: "s", BrokerURL: "u", RootKey: "k", Role: "owner"}, sk); !errors.Is(err, ErrEncoding) {
		t.Errorf("SignInviteV1 role owner: %v", err)
	}
}

func TestInviteV2Strict(t *testing.T) {
	sk := seedKey(1)
	now := time.Unix(1777777000, 0)
	st, _ := SignInviteV2("meshA", "inviteA", 1777777777, "member", sk)
	for name, s := range map[string]string{
		"Canonical key":     strings.Replace(st, `"canonical"`, `"Canonical"`, 1),
		"repeated key":      strings.Replace(st, `{"canonical"`, `{"canonical":"x","canonical"`, 1),
		"extra key":         strings.Replace(st, `{"canonical"`, `{"v":2,"canonical"`, 1),
		"signature number":  `{"canonical":"v=2|a|b|1|member|c","signature":1}`,
		"leading zero exp":  strings.Replace(st, "|1777777777|", "|01777777777|", 1),
		"owner role (sig?)": strings.Replace(st, "|member|", "|owner|", 1),
	} {
		if _, err := VerifyInviteV2(s, now); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: err = %v, want ErrEncoding", name, err)
		}
	}
	if _, err := SignInviteV2("m", "i", 1, "owner", sk); !errors.Is(err, ErrEncoding) {
		t.Errorf("SignInviteV2 role owner: %v", err)
	}
}

// TestRootKeySealsTheDecodedBytes: upstream seals the 32 decoded bytes
// (80-byte box, 107 characters), and the opener refuses the old layout
// (the 43-character text sealed: 91 bytes).
func TestRootKeySealsTheDecodedBytes(t *testing.T) {
	rk := specInvite().RootKey
	rsk := [32]byte{77}
	rpk := X25519PublicKey(rsk)
	sealed, err := SealRootKey(bytes.NewReader(bytes.Repeat([]byte{8}, 32)), rk, rpk)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	if len(sealed) != SealedRootKeyLength || len(raw) != 80 {
		t.Errorf("sealed: %d chars, %d bytes; want 107, 80", len(sealed), len(raw))
	}
	pt, ok := box.OpenAnonymous(nil, raw, &rpk, &rsk)
	if !ok || !bytes.Equal(pt, bytes.Repeat([]byte{7}, 32)) {
		t.Errorf("x/crypto opens %x, want 32 × 07", pt)
	}
	if got, err := OpenRootKey(sealed, rpk, rsk); err != nil || got != rk {
		t.Errorf("OpenRootKey = %q, %v", got, err)
	}
	text, _ := SealAnonymous([]byte(rk), rpk, [32]byte{9})
	if _, err := OpenRootKey(base64.RawURLEncoding.EncodeToString(text), rpk, rsk); !errors.Is(err, ErrEncoding) {
		t.Errorf("sealed 43-char text: err = %v, want ErrEncoding", err)
	}
}
