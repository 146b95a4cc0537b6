package meshfmt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/nacl/box"
)

func seedKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestSpecPins(t *testing.T) {
	k := APIKeyFromBytes([32]byte{})
	want := APIKey{Secret: "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Prefix: "cm_AAAAAAAA",
		Hash: "aacb3267ef9e7497508b3dbe8444519c1cf1175656b3bdb82aa59115ac94074b"}
	if k != want {
		t.Errorf("APIKeyFromBytes(zero) = %+v, want %+v", k, want)
	}
	if _, err := ParseAPIKey(k.Secret); err != nil {
		t.Errorf("ParseAPIKey(pin): %v", err)
	}
	if strings.Contains(k.String(), k.Secret) {
		t.Errorf("APIKey.String leaks the secret")
	}
	pk := seedKey(1).Public().(ed25519.PublicKey)
	if got := hex.EncodeToString(pk); got != "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664" {
		t.Errorf("ed25519 pk of seed 01..20 = %s", got)
	}
}

func TestParseAPIKeyRejects(t *testing.T) {
	good := APIKeyFromBytes([32]byte{1, 2, 3}).Secret
	for name, s := range map[string]string{
		"scheme":   "cx_" + good[3:],
		"short":    good[:45],
		"long":     good + "A",
		"padding":  good[:45] + "=",
		"alphabet": good[:10] + "+" + good[11:],
		"noncanon": good[:45] + "B", // last char carries 2 unused bits
		"empty":    "",
	} {
		if _, err := ParseAPIKey(s); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: ParseAPIKey err = %v, want ErrEncoding", name, err)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("%s: error repeats the secret", name)
		}
	}
}

func TestX25519ConversionMatchesBox(t *testing.T) {
	alice, bob := seedKey(1), seedKey(100)
	apk, err := Ed25519PublicKeyToX25519(alice[32:])
	if err != nil {
		t.Fatal(err)
	}
	ask, _ := Ed25519SecretKeyToX25519(alice)
	if X25519PublicKey(ask) != apk {
		t.Fatalf("converted pk and sk do not form a key pair")
	}
	bpk, _ := Ed25519PublicKeyToX25519(bob[32:])
	bsk, _ := Ed25519SecretKeyToX25519(bob.Seed())
	var nonce [24]byte
	sealed := box.Seal(nil, []byte("hi"), &nonce, &bpk, &ask)
	got, err := boxOpen(sealed, &nonce, apk[:], bsk[:])
	if err != nil || string(got) != "hi" {
		t.Fatalf("boxOpen = %q, %v", got, err)
	}
}

func TestConversionRefusesSmallOrder(t *testing.T) {
	for i, p := range smallOrderEdwards {
		for _, sign := range []byte{0, 0x80} {
			q := p
			q[31] |= sign
			if _, err := Ed25519PublicKeyToX25519(q[:]); !errors.Is(err, ErrLowOrderKey) {
				t.Errorf("entry %d sign %x: err = %v", i, sign, err)
			}
		}
	}
	// A mixed-order point: a valid key plus an order-2 component.
	pk := seedKey(1)[32:]
	mixed := addOrder2(t, pk)
	if _, err := Ed25519PublicKeyToX25519(mixed); !errors.Is(err, ErrLowOrderKey) {
		t.Errorf("mixed-order key: err = %v", err)
	}
}

func TestTopicKeyRoundTripAndLowOrder(t *testing.T) {
	member := seedKey(7)
	mpk, _ := Ed25519PublicKeyToX25519(member[32:])
	msk, _ := Ed25519SecretKeyToX25519(member)
	topicKey := [32]byte{9, 9, 9}
	sender := [32]byte{42}
	nonce := [24]byte{1}
	blob, n, err := SealTopicKey(topicKey, nonce, mpk, sender)
	if err != nil || len(blob) != 108 {
		t.Fatalf("SealTopicKey: %d chars, %v", len(blob), err)
	}
	got, spk, err := OpenTopicKey(blob, n, msk)
	if err != nil || got != topicKey || spk != X25519PublicKey(sender) {
		t.Fatalf("OpenTopicKey: %v", err)
	}
	// A low-order recipient is refused when sealing.
	if _, _, err := SealTopicKey(topicKey, nonce, [32]byte{}, sender); !errors.Is(err, ErrLowOrderKey) {
		t.Errorf("seal to zero key: err = %v", err)
	}
}

func TestBody(t *testing.T) {
	key := [32]byte{5}
	ct, n, err := EncodeBodyV2("héllo", [24]byte{3}, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeBody(2, n, ct, key); err != nil || got != "héllo" {
		t.Errorf("v2 = %q, %v", got, err)
	}
	if _, err := DecodeBody(2, n, ct, [32]byte{6}); !errors.Is(err, ErrOpen) {
		t.Errorf("v2 wrong key: %v", err)
	}
	v1, _ := EncodeBodyV1("hi @bob")
	if got, err := DecodeBody(1, "ignored", v1, key); err != nil || got != "hi @bob" {
		t.Errorf("v1 = %q, %v", got, err)
	}
	if _, err := DecodeBody(3, "", v1, key); !errors.Is(err, ErrEncoding) {
		t.Errorf("v3: %v", err)
	}
}

func TestHelloSkewBoundary(t *testing.T) {
	sk := seedKey(3)
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		offset int64
		want   error
	}{{0, nil}, {60_000, nil}, {-60_000, nil}, {60_001, ErrExpired}, {-60_001, ErrExpired}}
	for _, tt := range tests {
		h := Hello{MeshID: "m", MemberID: "x", PubkeyHex: hex.EncodeToString(sk[32:]), TimestampMs: now.UnixMilli() + tt.offset}
		sig, _ := SignHello(h, sk)
		if err := VerifyHello(h, sig, now); !errors.Is(err, tt.want) {
			t.Errorf("offset %d: err = %v, want %v", tt.offset, err, tt.want)
		}
	}
}

func TestInvites(t *testing.T) {
	sk := seedKey(11)
	now := time.Unix(1_800_000_000, 0)
	tok, inv, err := SignInviteV1(InviteV1{MeshID: "m1", MeshSlug: "s<&>", BrokerURL: "wss://b/x", ExpiresAt: now.Unix() + 10,
		RootKey: strings.Repeat("A", 43), Role: "member"}, sk)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyInviteV1(tok, now)
	if err != nil || got != inv {
		t.Fatalf("VerifyInviteV1 = %+v, %v", got, err)
	}
	if _, err := VerifyInviteV1(tok, now.Add(11*time.Second)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired v1: %v", err)
	}
	if _, _, err := SignInviteV1(InviteV1{MeshID: "a|b"}, sk); !errors.Is(err, ErrEncoding) {
		t.Errorf("'|' in field: %v", err)
	}
	st, err := SignInviteV2("m1", "inv1", now.Unix(), "admin", sk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyInviteV2(st, now); err != nil {
		t.Errorf("VerifyInviteV2: %v", err)
	}
	if _, err := VerifyInviteV2(strings.Replace(st, "|admin|", "|member|", 1), now); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered v2: %v", err)
	}
}

func TestVerifyStrictAgreesOnOrdinarySignatures(t *testing.T) {
	for i := byte(0); i < 20; i++ {
		sk := seedKey(i * 13)
		msg := bytes.Repeat([]byte{i}, int(i))
		sig := ed25519.Sign(sk, msg)
		if !VerifyStrict(sk[32:], msg, sig) {
			t.Fatalf("key %d: valid signature rejected", i)
		}
		sig[5] ^= 1
		if VerifyStrict(sk[32:], msg, sig) {
			t.Fatalf("key %d: flipped signature accepted", i)
		}
	}
	if VerifyStrict(make([]byte, 31), nil, make([]byte, 64)) {
		t.Error("short key accepted")
	}
}

// TestVerifyStrictRefusesWhatGoAccepts: an identity public key with
// R = [r]B, S = r verifies under crypto/ed25519 for any message; libsodium
// (and so VerifyStrict) refuses it.
func TestVerifyStrictRefusesWhatGoAccepts(t *testing.T) {
	r, _ := edwards25519.NewScalar().SetUniformBytes(bytes.Repeat([]byte{7}, 64))
	R := new(edwards25519.Point).ScalarBaseMult(r)
	sig := append(R.Bytes(), r.Bytes()...)
	identity := smallOrderEdwards[1][:]
	msg := []byte("any message at all")
	if !ed25519.Verify(identity, msg, sig) {
		t.Fatal("crypto/ed25519 no longer accepts the identity-key forgery; the test premise changed")
	}
	if VerifyStrict(identity, msg, sig) {
		t.Error("VerifyStrict accepts a small-order public key")
	}
}

func TestOpenTopicKeyRejectsMalformed(t *testing.T) {
	msk := [32]byte{1}
	blob, n, _ := SealTopicKey([32]byte{2}, [24]byte{3}, X25519PublicKey(msk), [32]byte{4})
	for name, tt := range map[string]struct{ blob, nonce string }{
		"short blob":   {blob[:100], n},
		"bad base64":   {"*" + blob[1:], n},
		"line break":   {blob[:10] + "\n" + blob[10:], n},
		"short nonce":  {blob, n[:28]},
		"url alphabet": {strings.NewReplacer("+", "-", "/", "_").Replace(blob) + "", n},
	} {
		_, _, err := OpenTopicKey(tt.blob, tt.nonce, msk)
		if err == nil && tt.blob != blob {
			t.Errorf("%s: accepted", name)
		}
		if name == "short nonce" && !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// Every fmt verb and JSON: an APIKey that reaches a log line by accident
// shows its prefix, never the secret.
func TestAPIKeyNeverPrintsTheSecret(t *testing.T) {
	k := APIKeyFromBytes([32]byte{9, 8, 7})
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if got := fmt.Sprintf(verb, k); strings.Contains(got, k.Secret) {
			t.Errorf("%s prints the secret: %s", verb, got)
		}
	}
	if got := fmt.Sprintf("%+v", struct{ Key APIKey }{k}); strings.Contains(got, k.Secret) {
		t.Errorf("a struct holding the key prints the secret: %s", got)
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), k.Secret) {
		t.Errorf("json.Marshal prints the secret: %s", b)
	}
}
