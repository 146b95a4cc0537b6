//go:build sodium

package sodium_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/claudemesh/meshctl/internal/sodium"
	"github.com/claudemesh/meshctl/vectors"
)

// libsodiumAccepts decides a vector with libsodium for every cryptographic
// step. Only the format glue (string joins, JSON, UTF-8 and length rules of
// SPEC §4) is Go, written here independently of meshfmt. skip is set for
// inputs libsodium cannot decide in reasonable time.
func libsodiumAccepts(in vectors.Input) (ok bool, skip string) {
	switch in := in.(type) {
	case vectors.Ed25519Verify:
		return sodium.SignVerifyDetached(in.Signature, in.Message, in.PublicKey), ""
	case vectors.Ed25519Sign:
		pk, sk := sodium.SignSeedKeypair(in.Seed)
		return bytes.Equal(pk, in.PublicKey) && bytes.Equal(sodium.SignDetached(in.Message, sk), in.Signature) &&
			sodium.SignVerifyDetached(in.Signature, in.Message, in.PublicKey), ""
	case vectors.X25519:
		q, ok := sodium.ScalarMult(in.Private, in.Public)
		return ok && bytes.Equal(q, in.Shared), ""
	case vectors.X25519Iterate:
		if in.Long {
			return false, "--long only"
		}
		k := make([]byte, 32)
		k[0] = 9
		u := bytes.Clone(k)
		for i := 0; i < in.Iterations; i++ {
			r, ok := sodium.ScalarMult(k, u)
			if !ok {
				return false, ""
			}
			u, k = k, r
		}
		return bytes.Equal(k, in.Result), ""
	case vectors.NaClBox:
		m, ok := sodium.BoxOpenEasy(in.Box, in.Nonce, in.PublicKey, in.SecretKey)
		c, ok2 := sodium.BoxEasy(in.Message, in.Nonce, in.PublicKey, in.SecretKey)
		return ok && ok2 && bytes.Equal(m, in.Message) && bytes.Equal(c, in.Box), ""
	case vectors.NaClSecretBox:
		m, ok := sodium.SecretboxOpenEasy(in.Box, in.Nonce, in.Key)
		return ok && bytes.Equal(m, in.Message) && bytes.Equal(sodium.SecretboxEasy(in.Message, in.Nonce, in.Key), in.Box), ""
	case vectors.APIKeyCase:
		return apiKey(in), ""
	case vectors.KeyConversion:
		if in.Seed != nil {
			pk, sk := sodium.SignSeedKeypair(in.Seed)
			xsk := sodium.SkToCurve25519(sk)
			if !bytes.Equal(pk, in.EdPublic) || !bytes.Equal(xsk, in.XSecret) || !bytes.Equal(sodium.ScalarMultBase(xsk), in.XPublic) {
				return false, ""
			}
		}
		x, ok := sodium.PkToCurve25519(in.EdPublic)
		return ok && (in.XPublic == nil || bytes.Equal(x, in.XPublic)), ""
	case vectors.TopicKeyCase:
		return topicKey(in), ""
	case vectors.BodyV1Case:
		b, ok := sodium.Base642Bin(in.Ciphertext, sodium.Base64Original)
		return ok && utf8.Valid(b) && string(b) == in.Plaintext, ""
	case vectors.BodyV2Case:
		c, ok := sodium.Base642Bin(in.Ciphertext, sodium.Base64Original)
		n, ok2 := sodium.Base642Bin(in.Nonce, sodium.Base64Original)
		if !ok || !ok2 || len(n) != 24 {
			return false, ""
		}
		m, ok := sodium.SecretboxOpenEasy(c, n, in.Key)
		return ok && utf8.Valid(m) && string(m) == in.Plaintext, ""
	case vectors.HelloCase:
		return hello(in), ""
	case vectors.InviteV1Case:
		return inviteV1(in), ""
	case vectors.InviteV2Case:
		return inviteV2(in), ""
	case vectors.RootKeyCase:
		return rootKey(in), ""
	case vectors.SessionAttestationCase:
		msg := fmt.Sprintf("claudemesh-session-attest|%s|%s|%d", in.ParentPubkey, in.SessionPubkey, in.ExpiresAtMs)
		return hexKey(in.SessionPubkey) && verifyHex(in.ParentPubkey, in.Signature, []byte(msg)) &&
			in.ExpiresAtMs > in.NowMs && in.ExpiresAtMs <= in.NowMs+24*3600*1000, ""
	case vectors.SessionHelloCase:
		msg := fmt.Sprintf("claudemesh-session-hello|%s|%s|%s|%d", in.MeshID, in.ParentPubkey, in.SessionPubkey, in.TimestampMs)
		d := in.NowMs - in.TimestampMs
		return hexKey(in.ParentPubkey) && verifyHex(in.SessionPubkey, in.Signature, []byte(msg)) && d <= 60_000 && d >= -60_000, ""
	case vectors.DirectCase:
		return direct(in), ""
	case vectors.FileKeyCase:
		return fileKey(in), ""
	case vectors.BackupCase, vectors.AEADCase:
		return false, "XChaCha20-Poly1305 and Argon2id: the oracle is libsodium 1.0.20 in Node (vectors/oracle), not this binding"
	case vectors.MentionCase:
		return false, "mention extraction: the oracle is JavaScript (the broker's regex in Node), not libsodium"
	case vectors.CLISessionCase:
		return false, "HS256 JWTs: the oracle is Node's crypto (vectors/oracle), not libsodium"
	case vectors.EnvSecretCase:
		return false, "env secrets are AES-256-GCM: the oracle is Node's crypto (vectors/oracle), not libsodium"
	case vectors.AuditRowCase:
		return false, "audit row hashes: the oracle is Node (the upstream runtime), not libsodium"
	case vectors.LockKeyCase:
		if in.Kind == "migration" {
			return in.Key == 7473773831, ""
		}
		sum := sodium.SHA256([]byte("audit:" + in.MeshID))
		return int64(binary.BigEndian.Uint64(sum[:8])&(1<<63-1)) == in.Key, ""
	}
	panic(fmt.Sprintf("no libsodium check for %T", in))
}

func apiKey(in vectors.APIKeyCase) bool {
	if !strings.HasPrefix(in.Secret, "cm_") || len(in.Secret) != 46 {
		return false
	}
	b, ok := sodium.Base642Bin(in.Secret[3:], sodium.Base64URLSafeNoPadding)
	if !ok || len(b) != 32 {
		return false
	}
	if in.Random != nil && "cm_"+sodium.Bin2Base64(in.Random, sodium.Base64URLSafeNoPadding) != in.Secret {
		return false
	}
	return in.Prefix == in.Secret[:11] && in.Hash == hex.EncodeToString(sodium.SHA256([]byte(in.Secret)))
}

func hexKey(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// edKeys returns the x25519 key pair libsodium derives from an ed25519 seed.
func edKeys(seed []byte) (xpk, xsk []byte, ok bool) {
	pk, sk := sodium.SignSeedKeypair(seed)
	xpk, ok = sodium.PkToCurve25519(pk)
	return xpk, sodium.SkToCurve25519(sk), ok
}

func direct(in vectors.DirectCase) bool {
	c, ok := sodium.Base642Bin(in.Ciphertext, sodium.Base64Original)
	n, ok2 := sodium.Base642Bin(in.Nonce, sodium.Base64Original)
	spk, ssk, ok3 := edKeys(in.SenderEdSeed)
	rpk, rsk, ok4 := edKeys(in.RecipientEdSeed)
	if !ok || !ok2 || !ok3 || !ok4 || len(n) != 24 {
		return false
	}
	m, ok := sodium.BoxOpenEasy(c, n, spk, rsk)
	if !ok || !utf8.Valid(m) || string(m) != in.Plaintext {
		return false
	}
	again, ok := sodium.BoxEasy(m, n, rpk, ssk)
	return ok && bytes.Equal(again, c)
}

func fileKey(in vectors.FileKeyCase) bool {
	sealed, ok := sodium.Base642Bin(in.SealedKey, sodium.Base64Original)
	rpk, rsk, ok2 := edKeys(in.RecipientEdSeed)
	if !ok || !ok2 {
		return false
	}
	k, ok := sodium.BoxSealOpen(sealed, rpk, rsk)
	if !ok || len(k) != 32 || !bytes.Equal(k, in.Key) {
		return false
	}
	c, ok := sodium.Base642Bin(in.Ciphertext, sodium.Base64Original)
	n, ok2 := sodium.Base642Bin(in.Nonce, sodium.Base64Original)
	if !ok || !ok2 || len(n) != 24 {
		return false
	}
	m, ok := sodium.SecretboxOpenEasy(c, n, k)
	return ok && bytes.Equal(m, in.Plaintext)
}

func topicKey(in vectors.TopicKeyCase) bool {
	if in.RecipientEdSeed != nil {
		_, xsk, ok := edKeys(in.RecipientEdSeed)
		if !ok {
			return false
		}
		in.RecipientSecret = xsk
	}
	raw, ok := sodium.Base642Bin(in.Blob, sodium.Base64Original)
	n, ok2 := sodium.Base642Bin(in.Nonce, sodium.Base64Original)
	if !ok || !ok2 || len(raw) != 80 || len(n) != 24 {
		return false
	}
	k, ok := sodium.BoxOpenEasy(raw[32:], n, raw[:32], in.RecipientSecret)
	if !ok || !bytes.Equal(k, in.TopicKey) {
		return false
	}
	if in.SenderSecret != nil {
		rpk := sodium.ScalarMultBase(in.RecipientSecret)
		if in.RecipientEdSeed != nil {
			rpk, _, _ = edKeys(in.RecipientEdSeed) // the real path: x25519 of the ed25519 public key
		}
		box, ok := sodium.BoxEasy(in.TopicKey, n, rpk, in.SenderSecret)
		blob := sodium.Bin2Base64(append(sodium.ScalarMultBase(in.SenderSecret), box...), sodium.Base64Original)
		return ok && blob == in.Blob
	}
	return true
}

func verifyHex(pkHex, sigHex string, msg []byte) bool {
	pk, err := hex.DecodeString(pkHex)
	sig, err2 := hex.DecodeString(sigHex)
	return err == nil && err2 == nil && sodium.SignVerifyDetached(sig, msg, pk)
}

func hello(in vectors.HelloCase) bool {
	msg := fmt.Sprintf("%s|%s|%s|%d", in.MeshID, in.MemberID, in.Pubkey, in.TimestampMs)
	d := in.NowMs - in.TimestampMs
	return verifyHex(in.Pubkey, in.Signature, []byte(msg)) && d <= 60_000 && d >= -60_000
}

// strictObject reads a flat JSON object as SPEC §4 requires of token
// payloads: UTF-8, exactly the keys given (exact case, after unescaping,
// as JSON.parse compares them), none repeated, string or number values,
// nothing after the object. Numbers keep their text.
func strictObject(raw []byte, keys ...string) (map[string]any, bool) {
	if !utf8.Valid(raw) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	out := map[string]any{}
	for dec.More() {
		k, err := dec.Token()
		key, isStr := k.(string)
		if err != nil || !isStr || !slices.Contains(keys, key) {
			return nil, false
		}
		if _, dup := out[key]; dup {
			return nil, false
		}
		v, err := dec.Token()
		if err != nil {
			return nil, false
		}
		switch v.(type) {
		case string, json.Number:
			out[key] = v
		default:
			return nil, false
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return out, len(out) == len(keys)
}

// safeInt is a JSON number in JSON.stringify's spelling of a non-negative
// safe integer.
func safeInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || len(n) == 0 || len(n) > 16 || (len(n) > 1 && n[0] == '0') || strings.Trim(string(n), "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil && i <= 1<<53-1
}

func inviteV1(in vectors.InviteV1Case) bool {
	raw, ok := sodium.Base642Bin(in.Token, sodium.Base64URLSafeNoPadding)
	if !ok {
		return false
	}
	keys := []string{"v", "mesh_id", "mesh_slug", "broker_url", "expires_at", "mesh_root_key", "role", "owner_pubkey", "signature"}
	p, ok := strictObject(raw, keys...)
	if !ok {
		return false
	}
	str := map[string]string{}
	for _, k := range keys {
		if k == "v" || k == "expires_at" {
			continue
		}
		s, isStr := p[k].(string)
		if !isStr || s == "" {
			return false
		}
		str[k] = s
	}
	v, okV := safeInt(p["v"])
	exp, okE := safeInt(p["expires_at"])
	if !okV || v != 1 || !okE || (str["role"] != "admin" && str["role"] != "member") {
		return false
	}
	canonical := strings.Join([]string{"1", str["mesh_id"], str["mesh_slug"], str["broker_url"], strconv.FormatInt(exp, 10),
		str["mesh_root_key"], str["role"], str["owner_pubkey"]}, "|")
	if !verifyHex(str["owner_pubkey"], str["signature"], []byte(canonical)) || in.NowSec > exp {
		return false
	}
	if w := in.Want; w != nil {
		if w.MeshID != str["mesh_id"] || w.MeshSlug != str["mesh_slug"] || w.BrokerURL != str["broker_url"] || w.ExpiresAt != exp ||
			w.RootKey != str["mesh_root_key"] || w.Role != str["role"] || w.OwnerPubkey != str["owner_pubkey"] || w.Signature != str["signature"] {
			return false
		}
		if in.OwnerSeed != nil {
			_, sk := sodium.SignSeedKeypair(in.OwnerSeed)
			return hex.EncodeToString(sodium.SignDetached([]byte(canonical), sk)) == w.Signature
		}
	}
	return true
}

func inviteV2(in vectors.InviteV2Case) bool {
	o, ok := strictObject([]byte(in.Stored), "canonical", "signature")
	if !ok {
		return false
	}
	canonical, ok1 := o["canonical"].(string)
	signature, ok2 := o["signature"].(string)
	if !ok1 || !ok2 {
		return false
	}
	p := struct{ Canonical, Signature *string }{&canonical, &signature}
	parts := strings.Split(*p.Canonical, "|")
	if len(parts) != 6 || parts[0] != "v=2" || slices.Contains(parts, "") || (parts[4] != "admin" && parts[4] != "member") {
		return false
	}
	exp, ok := safeInt(json.Number(parts[3]))
	if !ok || !verifyHex(parts[5], *p.Signature, []byte(*p.Canonical)) || in.NowSec > exp {
		return false
	}
	if w := in.Want; w != nil {
		if w.MeshID != parts[1] || w.InviteID != parts[2] || w.ExpiresAt != exp || w.Role != parts[4] || w.OwnerPubkey != parts[5] {
			return false
		}
		if in.OwnerSeed != nil {
			_, sk := sodium.SignSeedKeypair(in.OwnerSeed)
			return hex.EncodeToString(sodium.SignDetached([]byte(*p.Canonical), sk)) == *p.Signature
		}
	}
	return true
}

func rootKey(in vectors.RootKeyCase) bool {
	raw, ok := sodium.Base642Bin(in.Sealed, sodium.Base64URLSafeNoPadding)
	if !ok {
		return false
	}
	rpk := sodium.ScalarMultBase(in.RecipientSecret)
	// SPEC §4: the sealed plaintext is the 32 bytes the root key text decodes to.
	m, ok := sodium.BoxSealOpen(raw, rpk, in.RecipientSecret)
	want, ok2 := sodium.Base642Bin(in.RootKey, sodium.Base64URLSafeNoPadding)
	if !ok || !ok2 || len(m) != 32 || len(in.RootKey) != 43 || !bytes.Equal(m, want) {
		return false
	}
	if in.EphemeralSecret != nil {
		epk := sodium.ScalarMultBase(in.EphemeralSecret)
		nonce := sodium.GenericHash(24, append(bytes.Clone(epk), rpk...))
		box, ok := sodium.BoxEasy(m, nonce, rpk, in.EphemeralSecret)
		return ok && sodium.Bin2Base64(append(epk, box...), sodium.Base64URLSafeNoPadding) == in.Sealed
	}
	return true
}

// TestLibsodiumAgreesOnEveryVector: on every embedded vector and every
// generated flip, libsodium's verdict is the verdict the file requires in
// strict mode, which Go gives (TestEmbeddedSuitesPass in package vectors).
func TestLibsodiumAgreesOnEveryVector(t *testing.T) {
	suites, err := vectors.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	total, skipped := 0, map[string]int{}
	for _, s := range suites {
		for _, c := range append(append([]vectors.Case(nil), s.Cases...), vectors.Expand(s)...) {
			ok, skip := libsodiumAccepts(c.Input)
			if skip != "" {
				skipped[skip]++
				continue
			}
			total++
			want := c.Want(true)
			if want == vectors.Either {
				continue
			}
			goOK, detail := c.Input.Accept(vectors.Options{Strict: true})
			if ok != (want == vectors.Valid) || ok != goOK {
				t.Errorf("%s tcId %d %s %v: file says %s, libsodium %v, Go %v (%s)", c.File, c.TcID, c.Generated, c.Flags, want, ok, goOK, detail)
			}
		}
	}
	t.Logf("libsodium %s checked %d vectors; not by libsodium: %v", sodium.Version(), total, skipped)
}
