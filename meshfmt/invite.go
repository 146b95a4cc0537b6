package meshfmt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Invites (SPEC §4). Both versions are signed by the mesh owner's ed25519
// key over a '|'-joined canonical string and verified with VerifyStrict.
// Security contract: Verify* check the signature against the owner key
// carried in the invite and the expiry; the caller must still check that
// OwnerPubkey is the mesh's stored owner_pubkey, or anyone could mint
// invites with their own key. Fields containing '|' are refused when
// signing, because they would make the canonical string ambiguous.
//
// v1 token: base64url (no padding) of the JSON object with keys, in this
// order, v, mesh_id, mesh_slug, broker_url, expires_at, root_key, role,
// owner_pubkey, signature, serialised as JavaScript's JSON.stringify does.
// The signed string is "1|mesh_id|mesh_slug|broker_url|expires_at|root_key|role|owner_pubkey"
// (expires_at in Unix seconds). The token carries the mesh root key: it is a
// secret.
//
// v2 stored form: {"canonical":"v=2|mesh_id|invite_id|expires_at|role|owner_pubkey","signature":"<128 hex>"}.

// InviteV1 is a decoded v1 invite.
type InviteV1 struct {
	MeshID      string
	MeshSlug    string
	BrokerURL   string
	ExpiresAt   int64 // Unix seconds
	RootKey     string
	Role        string
	OwnerPubkey string // 64 hex
	Signature   string // 128 hex
}

// Canonical returns the signed bytes of a v1 invite.
func (i InviteV1) Canonical() []byte {
	return []byte(strings.Join([]string{"1", i.MeshID, i.MeshSlug, i.BrokerURL,
		strconv.FormatInt(i.ExpiresAt, 10), i.RootKey, i.Role, i.OwnerPubkey}, "|"))
}

// Token encodes i (with its Signature as set) as a v1 token: base64url
// without padding of the JSON payload, keys in the fixed order.
func (i InviteV1) Token() string {
	return base64.RawURLEncoding.EncodeToString(i.payload())
}

// payload is the JSON text of the token, keys in the fixed order.
func (i InviteV1) payload() []byte {
	var b bytes.Buffer
	b.WriteString(`{"v":1,"mesh_id":` + jsString(i.MeshID))
	b.WriteString(`,"mesh_slug":` + jsString(i.MeshSlug))
	b.WriteString(`,"broker_url":` + jsString(i.BrokerURL))
	b.WriteString(`,"expires_at":` + strconv.FormatInt(i.ExpiresAt, 10))
	b.WriteString(`,"root_key":` + jsString(i.RootKey))
	b.WriteString(`,"role":` + jsString(i.Role))
	b.WriteString(`,"owner_pubkey":` + jsString(i.OwnerPubkey))
	b.WriteString(`,"signature":` + jsString(i.Signature) + `}`)
	return b.Bytes()
}

func checkFields(fields ...string) error {
	for _, f := range fields {
		if strings.Contains(f, "|") {
			return formatErr("invite", "a field contains '|'")
		}
		if !utf8.ValidString(f) {
			return formatErr("invite", "a field is not UTF-8")
		}
	}
	return nil
}

// SignInviteV1 signs i with the owner's secret key (64 bytes), setting
// OwnerPubkey and Signature, and returns the token.
func SignInviteV1(i InviteV1, ownerSK ed25519.PrivateKey) (string, InviteV1, error) {
	if len(ownerSK) != ed25519.PrivateKeySize {
		return "", i, formatErr("secret key", "want %d bytes", ed25519.PrivateKeySize)
	}
	i.OwnerPubkey = hex.EncodeToString(ownerSK[32:])
	if err := checkFields(i.MeshID, i.MeshSlug, i.BrokerURL, i.RootKey, i.Role); err != nil {
		return "", i, err
	}
	i.Signature = hex.EncodeToString(ed25519.Sign(ownerSK, i.Canonical()))
	return i.Token(), i, nil
}

// ParseInviteV1 decodes a v1 token without verifying it.
func ParseInviteV1(token string) (InviteV1, error) {
	raw, err := decodeB64(base64.RawURLEncoding, token)
	if err != nil {
		return InviteV1{}, formatErr("token", "not base64url without padding")
	}
	var p struct {
		V           *json.Number `json:"v"`
		MeshID      *string      `json:"mesh_id"`
		MeshSlug    *string      `json:"mesh_slug"`
		BrokerURL   *string      `json:"broker_url"`
		ExpiresAt   *json.Number `json:"expires_at"`
		RootKey     *string      `json:"root_key"`
		Role        *string      `json:"role"`
		OwnerPubkey *string      `json:"owner_pubkey"`
		Signature   *string      `json:"signature"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil || dec.More() {
		return InviteV1{}, formatErr("token", "payload is not one JSON object")
	}
	if p.V == nil || p.V.String() != "1" {
		return InviteV1{}, formatErr("token", "v is not 1")
	}
	if p.MeshID == nil || p.MeshSlug == nil || p.BrokerURL == nil || p.ExpiresAt == nil ||
		p.RootKey == nil || p.Role == nil || p.OwnerPubkey == nil || p.Signature == nil {
		return InviteV1{}, formatErr("token", "a required key is missing")
	}
	exp, err := strconv.ParseInt(p.ExpiresAt.String(), 10, 64)
	if err != nil {
		return InviteV1{}, formatErr("expires_at", "not an integer number of seconds")
	}
	return InviteV1{MeshID: *p.MeshID, MeshSlug: *p.MeshSlug, BrokerURL: *p.BrokerURL, ExpiresAt: exp,
		RootKey: *p.RootKey, Role: *p.Role, OwnerPubkey: *p.OwnerPubkey, Signature: *p.Signature}, nil
}

// VerifyInviteV1 decodes token, verifies the owner's signature strictly and
// that now is not past expires_at.
func VerifyInviteV1(token string, now time.Time) (InviteV1, error) {
	i, err := ParseInviteV1(token)
	if err != nil {
		return i, err
	}
	if err := verifyOwnerSig(i.OwnerPubkey, i.Signature, i.Canonical()); err != nil {
		return i, err
	}
	if now.Unix() > i.ExpiresAt {
		return i, ErrExpired
	}
	return i, nil
}

// InviteV2 is a decoded v2 invite.
type InviteV2 struct {
	MeshID      string
	InviteID    string
	ExpiresAt   int64 // Unix seconds
	Role        string
	OwnerPubkey string
	Canonical   string // the signed string as stored
	Signature   string
}

// SignInviteV2 signs and returns the stored JSON form.
func SignInviteV2(meshID, inviteID string, expiresAt int64, role string, ownerSK ed25519.PrivateKey) (string, error) {
	if len(ownerSK) != ed25519.PrivateKeySize {
		return "", formatErr("secret key", "want %d bytes", ed25519.PrivateKeySize)
	}
	if err := checkFields(meshID, inviteID, role); err != nil {
		return "", err
	}
	canonical := strings.Join([]string{"v=2", meshID, inviteID, strconv.FormatInt(expiresAt, 10), role,
		hex.EncodeToString(ownerSK[32:])}, "|")
	sig := hex.EncodeToString(ed25519.Sign(ownerSK, []byte(canonical)))
	return InviteV2Stored(canonical, sig), nil
}

// InviteV2Stored returns the stored JSON form of a v2 invite.
func InviteV2Stored(canonical, signatureHex string) string {
	return `{"canonical":` + jsString(canonical) + `,"signature":` + jsString(signatureHex) + `}`
}

// VerifyInviteV2 parses the stored JSON, verifies the signature over the
// canonical string strictly and the expiry.
func VerifyInviteV2(stored string, now time.Time) (InviteV2, error) {
	var p struct {
		Canonical *string `json:"canonical"`
		Signature *string `json:"signature"`
	}
	dec := json.NewDecoder(strings.NewReader(stored))
	if err := dec.Decode(&p); err != nil || dec.More() || p.Canonical == nil || p.Signature == nil {
		return InviteV2{}, formatErr("invite", `want {"canonical":…,"signature":…}`)
	}
	parts := strings.Split(*p.Canonical, "|")
	if len(parts) != 6 || parts[0] != "v=2" {
		return InviteV2{}, formatErr("canonical", "want v=2 and 6 '|'-separated fields")
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != parts[3] {
		return InviteV2{}, formatErr("canonical", "expires_at is not a canonical integer")
	}
	i := InviteV2{MeshID: parts[1], InviteID: parts[2], ExpiresAt: exp, Role: parts[4], OwnerPubkey: parts[5],
		Canonical: *p.Canonical, Signature: *p.Signature}
	if err := verifyOwnerSig(i.OwnerPubkey, i.Signature, []byte(i.Canonical)); err != nil {
		return i, err
	}
	if now.Unix() > i.ExpiresAt {
		return i, ErrExpired
	}
	return i, nil
}

func verifyOwnerSig(pkHex, sigHex string, msg []byte) error {
	pk, err := hex.DecodeString(pkHex)
	if err != nil || len(pk) != ed25519.PublicKeySize {
		return formatErr("owner_pubkey", "want %d hex characters", 2*ed25519.PublicKeySize)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return formatErr("signature", "want %d hex characters", 2*ed25519.SignatureSize)
	}
	if !VerifyStrict(pk, msg, sig) {
		return ErrSignature
	}
	return nil
}
