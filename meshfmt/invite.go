package meshfmt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
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
// order, v, mesh_id, mesh_slug, broker_url, expires_at, mesh_root_key, role,
// owner_pubkey, signature, serialised as JavaScript's JSON.stringify does.
// The signed string is "1|mesh_id|mesh_slug|broker_url|expires_at|mesh_root_key|role|owner_pubkey"
// (expires_at in Unix seconds). The token carries the mesh root key: it is a
// secret.
//
// v2 stored form: {"canonical":"v=2|mesh_id|invite_id|expires_at|role|owner_pubkey","signature":"<128 hex>"}.
//
// Reading is strict (see flatObject): exact-case keys, no repeated or extra
// keys, v and expires_at JSON numbers in canonical integer spelling (never
// strings), string fields non-empty, role one of RoleAdmin and RoleMember.
// A token the broker could read differently (say member here, admin there)
// is refused rather than reported.

// Invite roles: the closed set upstream accepts.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// validRole reports whether role is one an invite may grant.
func validRole(role string) bool { return role == RoleAdmin || role == RoleMember }

// inviteV1Keys are the v1 payload's keys in JSON.stringify order.
var inviteV1Keys = []string{"v", "mesh_id", "mesh_slug", "broker_url", "expires_at", "mesh_root_key", "role", "owner_pubkey", "signature"}

// InviteV1 is a decoded v1 invite.
type InviteV1 struct {
	MeshID      string
	MeshSlug    string
	BrokerURL   string
	ExpiresAt   int64  // Unix seconds
	RootKey     string // JSON key mesh_root_key: base64url of the mesh's 32-byte root key
	Role        string // RoleAdmin or RoleMember
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
	b.WriteString(`,"mesh_root_key":` + jsString(i.RootKey))
	b.WriteString(`,"role":` + jsString(i.Role))
	b.WriteString(`,"owner_pubkey":` + jsString(i.OwnerPubkey))
	b.WriteString(`,"signature":` + jsString(i.Signature) + `}`)
	return b.Bytes()
}

func checkFields(fields ...string) error {
	for _, f := range fields {
		if f == "" {
			return formatErr("invite", "a field is empty")
		}
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
	if !validRole(i.Role) {
		return "", i, formatErr("role", "want %s or %s", RoleAdmin, RoleMember)
	}
	if i.ExpiresAt < 0 || i.ExpiresAt > maxSafeInteger {
		return "", i, formatErr("expires_at", "want 0 to 2^53-1 seconds")
	}
	i.Signature = hex.EncodeToString(ed25519.Sign(ownerSK, i.Canonical()))
	return i.Token(), i, nil
}

// ParseInviteV1 decodes a v1 token strictly, without verifying its
// signature or expiry.
func ParseInviteV1(token string) (InviteV1, error) {
	raw, err := decodeB64(base64.RawURLEncoding, token)
	if err != nil {
		return InviteV1{}, formatErr("token", "not base64url without padding")
	}
	obj, err := flatObject(raw, inviteV1Keys...)
	if err != nil {
		return InviteV1{}, formatErr("token", "%v", err)
	}
	v, err := intField(obj, "v", "token")
	if err != nil {
		return InviteV1{}, err
	}
	if v != 1 {
		return InviteV1{}, formatErr("token", "v is not 1")
	}
	var i InviteV1
	for _, f := range []struct {
		key string
		dst *string
	}{{"mesh_id", &i.MeshID}, {"mesh_slug", &i.MeshSlug}, {"broker_url", &i.BrokerURL}, {"mesh_root_key", &i.RootKey},
		{"role", &i.Role}, {"owner_pubkey", &i.OwnerPubkey}, {"signature", &i.Signature}} {
		if *f.dst, err = stringField(obj, f.key, "token"); err != nil {
			return InviteV1{}, err
		}
	}
	if i.ExpiresAt, err = intField(obj, "expires_at", "expires_at"); err != nil {
		return InviteV1{}, err
	}
	if !validRole(i.Role) {
		return InviteV1{}, formatErr("role", "want %s or %s", RoleAdmin, RoleMember)
	}
	return i, nil
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
	if !validRole(role) {
		return "", formatErr("role", "want %s or %s", RoleAdmin, RoleMember)
	}
	if expiresAt < 0 || expiresAt > maxSafeInteger {
		return "", formatErr("expires_at", "want 0 to 2^53-1 seconds")
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
	obj, err := flatObject([]byte(stored), "canonical", "signature")
	if err != nil {
		return InviteV2{}, formatErr("invite", `want {"canonical":…,"signature":…}: %v`, err)
	}
	canonical, err := stringField(obj, "canonical", "invite")
	if err != nil {
		return InviteV2{}, err
	}
	signature, err := stringField(obj, "signature", "invite")
	if err != nil {
		return InviteV2{}, err
	}
	parts := strings.Split(canonical, "|")
	if len(parts) != 6 || parts[0] != "v=2" {
		return InviteV2{}, formatErr("canonical", "want v=2 and 6 '|'-separated fields")
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || !canonicalInt.MatchString(parts[3]) || exp > maxSafeInteger {
		return InviteV2{}, formatErr("canonical", "expires_at is not a canonical integer")
	}
	for _, p := range parts[1:] {
		if p == "" {
			return InviteV2{}, formatErr("canonical", "a field is empty")
		}
	}
	if !validRole(parts[4]) {
		return InviteV2{}, formatErr("role", "want %s or %s", RoleAdmin, RoleMember)
	}
	i := InviteV2{MeshID: parts[1], InviteID: parts[2], ExpiresAt: exp, Role: parts[4], OwnerPubkey: parts[5],
		Canonical: canonical, Signature: signature}
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
