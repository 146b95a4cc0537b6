package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/claudemesh/meshctl/meshfmt"
)

// APIKeyCase: when Random is set, the key derived from it must be
// (Secret, Prefix, Hash); in every case Secret must parse as an API key
// whose prefix and hash are Prefix and Hash.
type APIKeyCase struct {
	Random               []byte
	Secret, Prefix, Hash string
}

func (in APIKeyCase) Accept(Options) (bool, string) {
	if in.Random != nil {
		var b [32]byte
		copy(b[:], in.Random)
		if k := meshfmt.APIKeyFromBytes(b); k.Secret != in.Secret || k.Prefix != in.Prefix || k.Hash != in.Hash {
			return false, "key derived from random differs (prefix " + k.Prefix + ", hash " + k.Hash + ")"
		}
	}
	k, err := meshfmt.ParseAPIKey(in.Secret)
	if err != nil {
		return false, err.Error()
	}
	if k.Prefix != in.Prefix {
		return false, "prefix differs: " + k.Prefix
	}
	if k.Hash != in.Hash {
		return false, "hash differs: " + k.Hash
	}
	return true, ""
}

// KeyConversion: EdPublic must convert to XPublic (or be refused when
// XPublic is absent); with Seed, the ed25519 key pair of Seed must have
// EdPublic and its converted secret key must be XSecret, whose public key
// is XPublic.
type KeyConversion struct {
	Seed, EdPublic, XPublic, XSecret []byte
}

func (in KeyConversion) Accept(Options) (bool, string) {
	if in.Seed != nil {
		sk := ed25519.NewKeyFromSeed(in.Seed)
		if !bytes.Equal(sk[32:], in.EdPublic) {
			return false, "ed25519 public key of seed differs: " + hex.EncodeToString(sk[32:])
		}
		xsk, _ := meshfmt.Ed25519SecretKeyToX25519(sk)
		if !bytes.Equal(xsk[:], in.XSecret) {
			return false, "converted secret key differs"
		}
		if xpk := meshfmt.X25519PublicKey(xsk); !bytes.Equal(xpk[:], in.XPublic) {
			return false, "public key of converted secret key differs: " + hex.EncodeToString(xpk[:])
		}
	}
	xpk, err := meshfmt.Ed25519PublicKeyToX25519(in.EdPublic)
	if err != nil {
		return false, err.Error()
	}
	if in.XPublic != nil && !bytes.Equal(xpk[:], in.XPublic) {
		return false, "converted public key differs: " + hex.EncodeToString(xpk[:])
	}
	return true, ""
}

// TopicKeyCase: Blob (with Nonce) must open with the recipient's x25519
// secret to TopicKey; with SenderSecret, sealing TopicKey must reproduce
// Blob. The recipient is given either as an x25519 secret (RecipientSecret)
// or, as on the real path, by an ed25519 seed (RecipientEdSeed): the box is
// then addressed to x25519(ed25519 pk) and opened with x25519(ed25519 sk),
// libsodium's conversions. TopicSenderPubkey (topic.encrypted_key_pubkey)
// is informational: upstream never compares it with the blob's sender key.
type TopicKeyCase struct {
	RecipientSecret, RecipientEdSeed, SenderSecret []byte
	Nonce, Blob                                    string
	TopicKey                                       []byte
}

// recipient returns the recipient's x25519 key pair.
func (in TopicKeyCase) recipient() (pk, sk [32]byte, err error) {
	if in.RecipientEdSeed != nil {
		ed := ed25519.NewKeyFromSeed(in.RecipientEdSeed)
		if pk, err = meshfmt.Ed25519PublicKeyToX25519(ed[32:]); err != nil {
			return pk, sk, err
		}
		sk, err = meshfmt.Ed25519SecretKeyToX25519(ed)
		return pk, sk, err
	}
	copy(sk[:], in.RecipientSecret)
	return meshfmt.X25519PublicKey(sk), sk, nil
}

func (in TopicKeyCase) Accept(Options) (bool, string) {
	rpk, rsk, err := in.recipient()
	if err != nil {
		return false, "recipient key: " + err.Error()
	}
	key, _, err := meshfmt.OpenTopicKey(in.Blob, in.Nonce, rsk)
	if err != nil {
		return false, err.Error()
	}
	if !bytes.Equal(key[:], in.TopicKey) {
		return false, "topic key differs"
	}
	if in.SenderSecret != nil {
		var ssk, tk [32]byte
		var n [24]byte
		copy(ssk[:], in.SenderSecret)
		copy(tk[:], in.TopicKey)
		nb, _ := base64.StdEncoding.DecodeString(in.Nonce)
		copy(n[:], nb)
		blob, _, err := meshfmt.SealTopicKey(tk, n, rpk, ssk)
		if err != nil || blob != in.Blob {
			return false, "sealing does not reproduce the blob"
		}
	}
	return true, ""
}

func (in TopicKeyCase) flips() []flip {
	raw, err := base64.StdEncoding.DecodeString(in.Blob)
	if err != nil {
		return nil
	}
	return flipEach(raw, func(i int, fb []byte) flip {
		part := "sender public key"
		switch {
		case i >= 48:
			part = "ciphertext"
		case i >= 32:
			part = "MAC"
		}
		c := in
		c.SenderSecret, c.Blob = nil, base64.StdEncoding.EncodeToString(fb)
		return flip{fmt.Sprintf("blob byte %d (%s) flipped", i, part), c}
	})
}

// BodyV1Case: Ciphertext must decode to Plaintext.
type BodyV1Case struct{ Ciphertext, Plaintext string }

func (in BodyV1Case) Accept(Options) (bool, string) {
	got, err := meshfmt.DecodeBodyV1(in.Ciphertext)
	if err != nil {
		return false, err.Error()
	}
	if got != in.Plaintext {
		return false, "plaintext differs"
	}
	if enc, _ := meshfmt.EncodeBodyV1(in.Plaintext); enc != in.Ciphertext {
		return false, "encoding the plaintext does not reproduce the ciphertext"
	}
	return true, ""
}

// BodyV2Case: Ciphertext (with Nonce) must open with Key to Plaintext, and
// sealing Plaintext must reproduce it.
type BodyV2Case struct {
	Key                          []byte
	Nonce, Ciphertext, Plaintext string
}

func (in BodyV2Case) Accept(Options) (bool, string) {
	var k [32]byte
	copy(k[:], in.Key)
	got, err := meshfmt.DecodeBodyV2(in.Ciphertext, in.Nonce, k)
	if err != nil {
		return false, err.Error()
	}
	if got != in.Plaintext {
		return false, "plaintext differs"
	}
	return true, ""
}

func (in BodyV2Case) flips() []flip {
	raw, err := base64.StdEncoding.DecodeString(in.Ciphertext)
	if err != nil {
		return nil
	}
	return flipEach(raw, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("secretbox byte %d flipped", i),
			BodyV2Case{in.Key, in.Nonce, base64.StdEncoding.EncodeToString(fb), in.Plaintext}}
	})
}

// HelloCase: Signature must verify over the hello at NowMs.
type HelloCase struct {
	MeshID, MemberID, Pubkey string
	TimestampMs, NowMs       int64
	Signature                string
}

func (in HelloCase) Hello() meshfmt.Hello {
	return meshfmt.Hello{MeshID: in.MeshID, MemberID: in.MemberID, PubkeyHex: in.Pubkey, TimestampMs: in.TimestampMs}
}

func (in HelloCase) Accept(Options) (bool, string) {
	if err := meshfmt.VerifyHello(in.Hello(), in.Signature, time.UnixMilli(in.NowMs)); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func (in HelloCase) flips() []flip {
	sig, err := hex.DecodeString(in.Signature)
	if err != nil {
		return nil
	}
	return flipEach(sig, func(i int, fb []byte) flip {
		c := in
		c.Signature = hex.EncodeToString(fb)
		return flip{fmt.Sprintf("signature byte %d flipped", i), c}
	})
}

// InviteV1Case: Token must verify at NowSec; when Want is set the decoded
// invite must equal it, and with OwnerSeed signing Want must reproduce Token.
type InviteV1Case struct {
	Token     string
	NowSec    int64
	OwnerSeed []byte
	Want      *meshfmt.InviteV1
}

func (in InviteV1Case) Accept(Options) (bool, string) {
	got, err := meshfmt.VerifyInviteV1(in.Token, time.Unix(in.NowSec, 0))
	if err != nil {
		return false, err.Error()
	}
	if in.Want != nil && got != *in.Want {
		return false, "decoded invite differs"
	}
	if in.OwnerSeed != nil && in.Want != nil {
		tok, _, err := meshfmt.SignInviteV1(*in.Want, ed25519.NewKeyFromSeed(in.OwnerSeed))
		if err != nil || tok != in.Token {
			return false, "signing does not reproduce the token"
		}
	}
	return true, ""
}

func (in InviteV1Case) flips() []flip {
	inv, err := meshfmt.ParseInviteV1(in.Token)
	if err != nil {
		return nil
	}
	sig, err := hex.DecodeString(inv.Signature)
	if err != nil {
		return nil
	}
	return flipEach(sig, func(i int, fb []byte) flip {
		f := inv
		f.Signature = hex.EncodeToString(fb)
		return flip{fmt.Sprintf("signature byte %d flipped", i), InviteV1Case{Token: f.Token(), NowSec: in.NowSec}}
	})
}

// InviteV2Case: Stored must verify at NowSec; when Want is set the decoded
// fields must equal it; with OwnerSeed, signing must reproduce Stored.
type InviteV2Case struct {
	Stored    string
	NowSec    int64
	OwnerSeed []byte
	Want      *meshfmt.InviteV2
}

func (in InviteV2Case) Accept(Options) (bool, string) {
	got, err := meshfmt.VerifyInviteV2(in.Stored, time.Unix(in.NowSec, 0))
	if err != nil {
		return false, err.Error()
	}
	if w := in.Want; w != nil {
		if got.MeshID != w.MeshID || got.InviteID != w.InviteID || got.ExpiresAt != w.ExpiresAt || got.Role != w.Role || got.OwnerPubkey != w.OwnerPubkey {
			return false, "decoded invite differs"
		}
		if in.OwnerSeed != nil {
			st, err := meshfmt.SignInviteV2(w.MeshID, w.InviteID, w.ExpiresAt, w.Role, ed25519.NewKeyFromSeed(in.OwnerSeed))
			if err != nil || st != in.Stored {
				return false, "signing does not reproduce the stored invite"
			}
		}
	}
	return true, ""
}

func (in InviteV2Case) flips() []flip {
	var p struct{ Canonical, Signature string }
	if json.Unmarshal([]byte(in.Stored), &p) != nil {
		return nil
	}
	sig, err := hex.DecodeString(p.Signature)
	if err != nil {
		return nil
	}
	return flipEach(sig, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("signature byte %d flipped", i),
			InviteV2Case{Stored: meshfmt.InviteV2Stored(p.Canonical, hex.EncodeToString(fb)), NowSec: in.NowSec}}
	})
}

// RootKeyCase: Sealed must open with the recipient key pair to the 32
// bytes RootKey (base64url) spells; with EphemeralSecret, sealing those
// bytes must reproduce Sealed.
type RootKeyCase struct {
	RecipientSecret, EphemeralSecret []byte
	Sealed, RootKey                  string
}

func (in RootKeyCase) Accept(Options) (bool, string) {
	var rsk [32]byte
	copy(rsk[:], in.RecipientSecret)
	rpk := meshfmt.X25519PublicKey(rsk)
	got, err := meshfmt.OpenRootKey(in.Sealed, rpk, rsk)
	if err != nil {
		return false, err.Error()
	}
	if got != in.RootKey {
		return false, "root key differs"
	}
	if in.EphemeralSecret != nil {
		var esk [32]byte
		copy(esk[:], in.EphemeralSecret)
		k, err := base64.RawURLEncoding.DecodeString(in.RootKey)
		if err != nil {
			return false, "rootKey is not base64url"
		}
		s, err := meshfmt.SealAnonymous(k, rpk, esk)
		if err != nil || base64.RawURLEncoding.EncodeToString(s) != in.Sealed {
			return false, "sealing does not reproduce the sealed box"
		}
	}
	return true, ""
}

func (in RootKeyCase) flips() []flip {
	raw, err := base64.RawURLEncoding.DecodeString(in.Sealed)
	if err != nil {
		return nil
	}
	return flipEach(raw, func(i int, fb []byte) flip {
		return flip{fmt.Sprintf("sealed byte %d flipped", i),
			RootKeyCase{in.RecipientSecret, nil, base64.RawURLEncoding.EncodeToString(fb), in.RootKey}}
	})
}

// LockKeyCase: the advisory-lock key (Kind "migration", or "audit" of
// MeshID) must be Key.
type LockKeyCase struct {
	Kind   string
	MeshID string
	Key    int64
}

func (in LockKeyCase) Accept(Options) (bool, string) {
	got := meshfmt.MigrationLockKey
	if in.Kind == "audit" {
		got = meshfmt.AuditLockKey(in.MeshID)
	}
	if got != in.Key {
		return false, "lock key is " + strconv.FormatInt(got, 10)
	}
	return true, ""
}
