package vectors

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"filippo.io/edwards25519"
	"github.com/claudemesh/meshctl/meshfmt"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
	//lint:ignore SA1019 HSalsa20 derives the expected values of the NaCl vectors, as libsodium does.
	"golang.org/x/crypto/salsa20/salsa"
)

// DefaultSeed is the seed (as bytes) of the committed mesh_*.json files: `meshctl
// vectors generate` without --seed reproduces them byte for byte.
const DefaultSeed = "meshctl vectors v1"

// generatorVersion is written into every generated file; bump it when the
// generator's output changes for the same seed.
const generatorVersion = "meshctl-vectors-1"

// Fixed clocks of the generated time-dependent vectors.
const (
	genNowMs  int64 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
	genNowSec       = genNowMs / 1000
)

// Generate returns the mesh-format vector files (name → contents) as a
// deterministic function of seed: every random value comes from a ChaCha8
// stream keyed by SHA-256 of the seed, signatures are deterministic, and the
// JSON spelling is fixed. Same seed, byte-identical files.
func Generate(seed []byte) (map[string][]byte, error) {
	g := &gen{rng: rand.NewChaCha8(sha256.Sum256(append([]byte("meshctl/vectors/generate\x00"), seed...)))}
	builders := []*builder{g.apiKeys(), g.keyConversions(), g.topicKeys(), g.bodies(), g.hellos(), g.invites(), g.rootKeys(), g.lockKeys(),
		g.sessions(), g.directs(), g.fileKeys(), g.envSecrets(), g.backups(), g.cliSessions()}
	out := map[string][]byte{}
	for _, b := range builders {
		b.addFlips()
		data, err := b.marshal()
		if err != nil {
			return nil, err
		}
		if _, err := Load(b.name, data); err != nil {
			return nil, fmt.Errorf("generated file does not load: %w", err)
		}
		out[b.name] = data
	}
	return out, nil
}

type gen struct{ rng *rand.ChaCha8 }

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = g.rng.Read(b) // ChaCha8.Read never fails
	return b
}

func (g *gen) key32() (k [32]byte) { copy(k[:], g.bytes(32)); return k }

func (g *gen) nonce() (n [24]byte) { copy(n[:], g.bytes(24)); return n }

func (g *gen) id() string { return hex.EncodeToString(g.bytes(16)) } // 32-char ids, as upstream

func (g *gen) edKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(g.bytes(32)) }

var (
	hx  = hex.EncodeToString
	b64 = base64.StdEncoding.EncodeToString
	b6u = base64.RawURLEncoding.EncodeToString
)

// builder accumulates one Wycheproof-style file.
type builder struct {
	name, algorithm, schema string
	header                  []string
	notes                   map[string]Note
	groups                  []*group
	n                       int
}

type group struct {
	typ    string
	params map[string]any
	tests  []map[string]any
}

func newBuilder(name, algorithm, schema string, header []string, notes map[string]Note) *builder {
	return &builder{name: name, algorithm: algorithm, schema: schema, header: header, notes: notes}
}

func (b *builder) group(typ string, params map[string]any) *group {
	g := &group{typ: typ, params: params}
	b.groups = append(b.groups, g)
	return g
}

// add appends a test; fields hold its inputs.
func (b *builder) add(g *group, comment string, res Result, flags []string, fields map[string]any) {
	b.n++
	t := map[string]any{"tcId": b.n, "comment": comment, "flags": flags, "result": res}
	for k, v := range fields {
		t[k] = v
	}
	g.tests = append(g.tests, t)
}

func (b *builder) marshal() ([]byte, error) {
	groups := make([]map[string]any, 0, len(b.groups))
	for _, g := range b.groups {
		m := map[string]any{"type": g.typ, "tests": g.tests}
		for k, v := range g.params {
			m[k] = v
		}
		groups = append(groups, m)
	}
	return marshalFile(map[string]any{
		"algorithm": b.algorithm, "schema": b.schema, "generatorVersion": generatorVersion,
		"numberOfTests": b.n, "header": b.header, "notes": b.notes, "testGroups": groups,
	})
}

func note(bug, desc string) Note { return Note{BugType: bug, Description: desc} }

func flags(f ...string) []string { return f }

func (g *gen) apiKeys() *builder {
	b := newBuilder("mesh_apikey_test.json", "MESH-APIKEY", "meshctl_mesh_apikey_v1",
		[]string{"API keys (SPEC §4): secret = \"cm_\" + base64url-no-pad(32 random bytes), prefix = first 11 characters,",
			"secret_hash = sha256 hex of the secret string. With random, the key is derived from it; every secret must parse."},
		map[string]Note{
			"SpecPin":            note("BASIC", "The SPEC §4 pin (32 zero bytes)."),
			"Random":             note("BASIC", "A key derived from random bytes."),
			"EdgeBytes":          note("EDGE_CASE", "All-0xff random bytes (the last character uses the top bits)."),
			"WrongScheme":        note("MALFORMED", "The secret does not start with cm_."),
			"WrongLength":        note("MALFORMED", "The secret is not 46 characters."),
			"Padding":            note("MALFORMED", "The base64url part carries '=' padding, which the format does not have."),
			"WrongAlphabet":      note("MALFORMED", "The base64 part uses the standard alphabet (+ or /), not base64url."),
			"NonCanonicalBase64": note("MALFORMED", "The last character has non-zero unused bits: a second spelling of the same bytes."),
			"WrongHash":          note("AUTH_BYPASS", "The hash is that of another secret."),
			"WrongPrefix":        note("FORMAT", "The prefix is not the first 11 characters."),
			"UppercaseHash":      note("FORMAT", "The hash is upper-case hex; stored hashes are lower-case."),
		})
	gr := b.group("ApiKey", nil)
	addKey := func(comment string, fl []string, r []byte) meshfmt.APIKey {
		var a [32]byte
		copy(a[:], r)
		k := meshfmt.APIKeyFromBytes(a)
		b.add(gr, comment, Valid, fl, map[string]any{"random": hx(r), "secret": k.Secret, "prefix": k.Prefix, "hash": k.Hash})
		return k
	}
	addKey("SPEC §4 pin: 32 zero bytes", flags("SpecPin"), make([]byte, 32))
	addKey("32 bytes of 0xff", flags("EdgeBytes"), []byte(strings.Repeat("\xff", 32)))
	var k meshfmt.APIKey
	for i := 0; i < 6; i++ {
		k = addKey("random key", flags("Random"), g.bytes(32))
	}
	bad := func(comment string, fl []string, secret string) {
		b.add(gr, comment, Invalid, fl, map[string]any{"secret": secret, "prefix": meshfmt.APIKeyPrefix(secret), "hash": meshfmt.HashAPIKey(secret)})
	}
	s := k.Secret
	bad("scheme cx_", flags("WrongScheme"), "cx_"+s[3:])
	bad("scheme CM_", flags("WrongScheme"), "CM_"+s[3:])
	bad("45 characters", flags("WrongLength"), s[:45])
	bad("47 characters", flags("WrongLength"), s+"A")
	bad("empty", flags("WrongLength"), "")
	bad("'=' padding in place of the last character", flags("Padding"), s[:45]+"=")
	bad("'+' in the base64 part", flags("WrongAlphabet"), s[:10]+"+"+s[11:])
	bad("'/' in the base64 part", flags("WrongAlphabet"), s[:10]+"/"+s[11:])
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[45])
	bad("last character with a non-zero unused bit", flags("NonCanonicalBase64"), s[:45]+string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]))
	b.add(gr, "hash of another secret", Invalid, flags("WrongHash"), map[string]any{"secret": s, "prefix": k.Prefix, "hash": meshfmt.HashAPIKey(s + "x")})
	b.add(gr, "prefix of 12 characters", Invalid, flags("WrongPrefix"), map[string]any{"secret": s, "prefix": s[:12], "hash": k.Hash})
	b.add(gr, "hash in upper case", Invalid, flags("UppercaseHash"), map[string]any{"secret": s, "prefix": k.Prefix, "hash": strings.ToUpper(k.Hash)})
	return b
}

// Small-order points. smallOrderEd is libsodium's ed25519 block list;
// smallOrderX the x25519 one (u coordinates).
var (
	smallOrderEd = []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	}
	smallOrderX = []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("vectors: bad hex constant " + s)
	}
	return b
}

func withSignBit(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[31] |= 0x80
	return c
}

// pointOrder decodes enc (non-canonical y accepted, as libsodium's
// ge25519_frombytes reduces it) and reports whether the point has small
// order ([8]P = 0) and whether it lies in the prime-order subgroup
// ([L]P = 0, computed as [L-1]P + P).
func pointOrder(enc []byte) (small, prime, ok bool) {
	P, err := new(edwards25519.Point).SetBytes(enc)
	if err != nil {
		return false, false, false
	}
	var lm1 [32]byte
	copy(lm1[:], groupOrder[:])
	lm1[0]--
	s, _ := edwards25519.NewScalar().SetCanonicalBytes(lm1[:])
	id := edwards25519.NewIdentityPoint()
	prime = new(edwards25519.Point).Add(new(edwards25519.Point).ScalarMult(s, P), P).Equal(id) == 1
	small = new(edwards25519.Point).MultByCofactor(P).Equal(id) == 1
	return small, prime, true
}

func (g *gen) keyConversions() *builder {
	b := newBuilder("mesh_keyconv_test.json", "MESH-ED25519-TO-X25519", "meshctl_mesh_keyconv_v1",
		[]string{"ed25519 → x25519 key conversion (SPEC §4), with libsodium 1.0.20's crypto_sign_ed25519_pk_to_curve25519",
			"and _sk_to_curve25519: xSecret = clamp(sha512(seed)[0:32]); xPublic = (1+y)/(1-y); small-order, off-curve and",
			"mixed-order public keys are refused. Without xPublic the conversion must be refused."},
		map[string]Note{
			"SpecPin":     note("BASIC", "The SPEC §4 pin: seed 0x01..0x20."),
			"Random":      note("BASIC", "A key pair from a random seed."),
			"LowOrder":    note("CONFIDENTIALITY", "A small-order ed25519 point (libsodium's block list): converting it would give a small-order x25519 key."),
			"SignBit":     note("CONFIDENTIALITY", "A block-listed point with the sign bit set (x = -0 or a non-canonical variant)."),
			"MixedOrder":  note("CONFIDENTIALITY", "A point with both a prime-order and a small-order component: not in the prime-order subgroup."),
			"NotOnCurve":  note("MALFORMED", "The encoding is not a point on the curve."),
			"WrongLength": note("MALFORMED", "The key is not 32 bytes."),
			"NonCanonicalY": note("EDGE_CASE", "The encoding has y >= p (non-canonical). No such encoding is of a prime-order point (y = p + k, k < 19, "+
				"decodes to small or mixed order), so every one is refused; were one of prime order, libsodium would reduce y and convert it."),
		})
	gr := b.group("Ed25519ToX25519", nil)
	addSeed := func(comment string, fl []string, seed []byte) []byte {
		sk := ed25519.NewKeyFromSeed(seed)
		xsk, _ := meshfmt.Ed25519SecretKeyToX25519(sk)
		xpk := meshfmt.X25519PublicKey(xsk)
		b.add(gr, comment, Valid, fl, map[string]any{"seed": hx(seed), "edPublic": hx(sk[32:]), "xSecret": hx(xsk[:]), "xPublic": hx(xpk[:])})
		return sk[32:]
	}
	pin := make([]byte, 32)
	for i := range pin {
		pin[i] = byte(i + 1)
	}
	addSeed("SPEC §4 pin: seed 01..20, pk 79b5562e…", flags("SpecPin"), pin)
	var pk []byte
	for i := 0; i < 6; i++ {
		pk = addSeed("random seed", flags("Random"), g.bytes(32))
	}
	for i, p := range smallOrderEd {
		b.add(gr, fmt.Sprintf("block-listed small-order point %d", i), Invalid, flags("LowOrder"), map[string]any{"edPublic": p})
		b.add(gr, fmt.Sprintf("block-listed small-order point %d with the sign bit set", i), Invalid, flags("LowOrder", "SignBit"),
			map[string]any{"edPublic": hx(withSignBit(mustHex(p)))})
	}
	P, _ := new(edwards25519.Point).SetBytes(pk)
	for _, i := range []int{2, 0, 4} { // orders 8, 4, 2
		T, _ := new(edwards25519.Point).SetBytes(mustHex(smallOrderEd[i]))
		b.add(gr, "random key plus a small-order point "+smallOrderEd[i][:8]+"…", Invalid, flags("MixedOrder"),
			map[string]any{"edPublic": hx(new(edwards25519.Point).Add(P, T).Bytes())})
	}
	notOn := 0
	for y := byte(2); notOn < 2; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if _, err := new(edwards25519.Point).SetBytes(enc); err != nil {
			b.add(gr, fmt.Sprintf("y = %d has no x on the curve", y), Invalid, flags("NotOnCurve"), map[string]any{"edPublic": hx(enc)})
			notOn++
		}
	}
	// y + p (y < 19): every non-canonical encoding, both signs. Each is
	// decided here from the point's order, computed independently of
	// meshfmt: none is of prime order (TestNoNonCanonicalPrimeOrderKey), so
	// each is refused, as small order (block-listed) or mixed order.
	for y := 0; y < 19; y++ {
		for _, sign := range []byte{0, 0x80} {
			enc := mustHex(smallOrderEd[5]) // p
			enc[0] += byte(y)
			enc[31] |= sign
			small, prime, ok := pointOrder(enc)
			switch {
			case !ok:
				continue // not on the curve
			case prime && !small:
				panic("vectors: a non-canonical encoding of a prime-order point exists; add a policy for it")
			case small:
				b.add(gr, fmt.Sprintf("y = p + %d (non-canonical), sign %d: small order, block-listed", y, sign>>7), Invalid, flags("LowOrder", "NonCanonicalY"),
					map[string]any{"edPublic": hx(enc)})
			default:
				b.add(gr, fmt.Sprintf("y = p + %d (non-canonical), sign %d: outside the prime-order subgroup", y, sign>>7), Invalid, flags("MixedOrder", "NonCanonicalY"),
					map[string]any{"edPublic": hx(enc)})
			}
		}
	}
	b.add(gr, "31-byte key", Invalid, flags("WrongLength"), map[string]any{"edPublic": hx(pk[:31])})
	return b
}

// zeroBoxKey is the box key every small-order peer key yields:
// HSalsa20(0, 0). Anyone can seal with it, which is why such keys are refused.
func zeroBoxKey() *[32]byte {
	var k, zero [32]byte
	salsa.HSalsa20(&k, &[16]byte{}, &zero, &salsa.Sigma)
	return &k
}

func (g *gen) topicKeys() *builder {
	b := newBuilder("mesh_topic_key_test.json", "MESH-TOPIC-KEY", "meshctl_mesh_topickey_v1",
		[]string{"Topic-key sealed copies (SPEC §4): blob = base64 std of sender_pk(32) ‖ crypto_box_easy(topicKey, nonce,",
			"member x25519 pk, sender sk) (80 bytes); nonce = base64 std of 24 bytes. The blob must open with recipientSecret",
			"to topicKey (or, with recipientEdSeed, with the x25519 form of that member's ed25519 key); with senderSecret, sealing must",
			"reproduce it. The blob's sender key need not be topic.encrypted_key_pubkey (a CLI re-seal embeds the re-sealing member's",
			"own key). Every byte flip of a valid blob is generated at run time."},
		map[string]Note{
			"Valid":            note("BASIC", "A sealed copy made as the broker makes it."),
			"Ed25519Recipient": note("BASIC", "The recipient is given by its ed25519 seed (recipientEdSeed): sealed to x25519(ed25519 pk), opened with x25519(ed25519 sk), libsodium's conversions."),
			"WrongRecipient":   note("AUTH_BYPASS", "Opened with another member's key."),
			"WrongNonce":       note("AUTH_BYPASS", "Opened with another nonce."),
			"Truncated":        note("MALFORMED", "The blob is shorter than 80 bytes."),
			"Extended":         note("MALFORMED", "The blob is longer than 80 bytes."),
			"NonceLength":      note("MALFORMED", "The nonce is not 24 bytes."),
			"NotBase64":        note("MALFORMED", "The blob is not canonical base64 std (other alphabet, stray characters, line breaks)."),
			"LowOrderSenderKey": note("CONFIDENTIALITY", "The sender public key is a small-order x25519 point and the box is forged with the "+
				"resulting public box key HSalsa20(0). libsodium refuses the key; golang.org/x/crypto/nacl/box.Precompute alone would open it."),
			"SenderKeyHighBit": {BugType: "EDGE_CASE", Description: "The sender public key has bit 255 set; X25519 masks it (RFC 7748 §5).",
				Policy: &Policy{Default: Valid, Reason: "libsodium masks bit 255 and opens the box, and so does meshfmt: the verdict matches the broker's (the blob is malleable in that bit, which changes nothing it protects)"}},
		})
	member, other := g.edKey(), g.edKey()
	rsk, _ := meshfmt.Ed25519SecretKeyToX25519(member)
	osk, _ := meshfmt.Ed25519SecretKeyToX25519(other)
	rpk := meshfmt.X25519PublicKey(rsk)
	gr := b.group("TopicKeySeal", map[string]any{"recipientSecret": hx(rsk[:])})
	type sealed struct {
		blob, nonce string
		key         [32]byte
		raw         []byte
	}
	var first sealed
	for i := 0; i < 4; i++ {
		tk, ssk, n := g.key32(), g.key32(), g.nonce()
		blob, nb, err := meshfmt.SealTopicKey(tk, n, rpk, ssk)
		if err != nil {
			panic("vectors: sealing a topic key to a fresh key failed: " + err.Error())
		}
		b.add(gr, "sealed copy", Valid, flags("Valid"), map[string]any{"senderSecret": hx(ssk[:]), "nonce": nb, "blob": blob, "topicKey": hx(tk[:])})
		if i == 0 {
			raw, _ := base64.StdEncoding.DecodeString(blob)
			first = sealed{blob, nb, tk, raw}
		}
	}
	tk := hx(first.key[:])
	bad := func(comment string, fl []string, blob, nonce string, extra map[string]any) {
		f := map[string]any{"nonce": nonce, "blob": blob, "topicKey": tk}
		for k, v := range extra {
			f[k] = v
		}
		b.add(gr, comment, Invalid, fl, f)
	}
	bad("opened with another member's key", flags("WrongRecipient"), first.blob, first.nonce, map[string]any{"recipientSecret": hx(osk[:])})
	on := g.nonce()
	bad("another nonce", flags("WrongNonce"), first.blob, b64(on[:]), nil)
	bad("79 bytes", flags("Truncated"), b64(first.raw[:79]), first.nonce, nil)
	bad("48 bytes: the box without the sender key", flags("Truncated"), b64(first.raw[32:]), first.nonce, nil)
	bad("empty blob", flags("Truncated"), "", first.nonce, nil)
	bad("81 bytes: one zero byte appended", flags("Extended"), b64(append(append([]byte(nil), first.raw...), 0)), first.nonce, nil)
	bad("nonce of 23 bytes", flags("NonceLength"), first.blob, b64(on[:23]), nil)
	bad("nonce of 25 bytes", flags("NonceLength"), first.blob, b64(append(on[:], 0)), nil)
	bad("blob in base64url", flags("NotBase64"), urlAlphabet(first.raw), first.nonce, nil)
	bad("blob with a line break", flags("NotBase64"), first.blob[:40]+"\n"+first.blob[40:], first.nonce, nil)
	bad("blob without padding", flags("NotBase64"), strings.TrimRight(first.blob, "="), first.nonce, nil)
	fn := mustNonce(first.nonce)
	forged := secretbox.Seal(nil, first.key[:], fn, zeroBoxKey())
	for i, u := range smallOrderX {
		bad(fmt.Sprintf("small-order sender key %d, box forged with HSalsa20(0)", i), flags("LowOrderSenderKey"),
			b64(append(mustHex(u), forged...)), first.nonce, nil)
	}
	bad("small-order sender key 0 with bit 255 set, forged box", flags("LowOrderSenderKey"),
		b64(append(withSignBit(mustHex(smallOrderX[0])), forged...)), first.nonce, nil)
	// The real path: the recipient is a member's ed25519 key, converted to
	// x25519 on both sides (pk_to_curve25519 to seal, sk_to_curve25519 to open).
	edSeed, otherSeed := g.bytes(32), g.bytes(32)
	edPK, _ := boxKeys(ed25519.NewKeyFromSeed(edSeed))
	var edFirst string
	for i := 0; i < 2; i++ {
		tk, ssk, n := g.key32(), g.key32(), g.nonce()
		spk := meshfmt.X25519PublicKey(ssk)
		raw := append(spk[:], box.Seal(nil, tk[:], &n, &edPK, &ssk)...)
		b.add(gr, "sealed copy for an ed25519 member key", Valid, flags("Valid", "Ed25519Recipient"), map[string]any{"recipientEdSeed": hx(edSeed),
			"senderSecret": hx(ssk[:]), "nonce": b64(n[:]), "blob": b64(raw), "topicKey": hx(tk[:])})
		if i == 0 {
			edFirst = b64(raw)
			b.add(gr, "the same copy opened by another ed25519 member", Invalid, flags("WrongRecipient", "Ed25519Recipient"),
				map[string]any{"recipientEdSeed": hx(otherSeed), "nonce": b64(n[:]), "blob": edFirst, "topicKey": hx(tk[:])})
		}
	}
	hb := append(withSignBit(first.raw[:32]), first.raw[32:]...)
	b.add(gr, "the first blob with bit 255 of the sender key set", Acceptable, flags("SenderKeyHighBit"),
		map[string]any{"nonce": first.nonce, "blob": b64(hb), "topicKey": tk})
	return b
}

// urlAlphabet spells raw in padded base64url where base64 std is expected:
// if the two spellings coincide, a '-' replaces the first character, so the
// result always has a character base64 std does not allow.
func urlAlphabet(raw []byte) string {
	u := base64.URLEncoding.EncodeToString(raw)
	if u == b64(raw) {
		u = "-" + u[1:]
	}
	return u
}

// stdAlphabet is the converse for base64url-no-pad fields.
func stdAlphabet(raw []byte) string {
	s := base64.RawStdEncoding.EncodeToString(raw)
	if s == b6u(raw) {
		s = "+" + s[1:]
	}
	return s
}

func mustNonce(s string) *[24]byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		panic("vectors: bad nonce")
	}
	var n [24]byte
	copy(n[:], b)
	return &n
}

func (g *gen) bodies() *builder {
	b := newBuilder("mesh_body_test.json", "MESH-BODY", "meshctl_mesh_body_v1",
		[]string{"Message bodies (SPEC §4). v1: ciphertext = base64 std of the UTF-8 plaintext (nonce ignored).",
			"v2: ciphertext = base64 std of crypto_secretbox_easy(utf8, nonce, topicKey), nonce base64 std of 24 bytes.",
			"Decoding is strict: canonical padded base64, UTF-8 plaintext. plaintext of an invalid test is what a valid one would give."},
		map[string]Note{
			"Valid":        note("BASIC", "A body as the broker and peers write it."),
			"Empty":        note("EDGE_CASE", "The empty message."),
			"Unicode":      note("EDGE_CASE", "Non-ASCII text, including 4-byte UTF-8 and U+2028."),
			"NotBase64":    note("MALFORMED", "Characters outside base64 std."),
			"UrlSafe":      note("MALFORMED", "The base64url alphabet instead of base64 std."),
			"NoPadding":    note("MALFORMED", "'=' padding is missing."),
			"NonCanonical": note("MALFORMED", "Non-zero unused bits before the padding: a second spelling of the same bytes."),
			"LineBreak":    note("MALFORMED", "A line break inside the base64 (Go's decoder would skip it silently)."),
			"NotUtf8":      note("MALFORMED", "The decoded plaintext is not UTF-8; it must be refused, not passed on mangled."),
			"WrongKey":     note("AUTH_BYPASS", "Opened with another topic key."),
			"WrongNonce":   note("AUTH_BYPASS", "Opened with another nonce."),
			"Truncated":    note("MALFORMED", "Shorter than the 16-byte MAC."),
			"NonceLength":  note("MALFORMED", "The nonce is not 24 bytes."),
		})
	v1 := b.group("BodyV1", nil)
	for _, t := range []struct {
		text string
		fl   []string
	}{{"hello @alice, see #general", flags("Valid")}, {"", flags("Empty")}, {"héllo 🌍 — ü\u2028end", flags("Unicode")}, {"line 1\nline 2\ttab", flags("Valid")}} {
		c, _ := meshfmt.EncodeBodyV1(t.text)
		b.add(v1, "v1 body", Valid, t.fl, map[string]any{"ciphertext": c, "plaintext": t.text})
	}
	bad1 := func(comment string, fl []string, c, p string) {
		b.add(v1, comment, Invalid, fl, map[string]any{"ciphertext": c, "plaintext": p})
	}
	bad1("'%' is not base64", flags("NotBase64"), "aGVs%G8=", "hello")
	bad1("base64url '-' in place of '+'", flags("UrlSafe"), "Pz8-", "??>")
	bad1("padding missing", flags("NoPadding"), "aGVsbG8", "hello")
	bad1("non-zero unused bits (aGVsbG9= for aGVsbG8=)", flags("NonCanonical"), "aGVsbG9=", "hello")
	bad1("line break inside", flags("LineBreak"), "aGVs\nbG8=", "hello")
	bad1("bytes ff fe fd are not UTF-8", flags("NotUtf8"), b64([]byte{0xff, 0xfe, 0xfd}), "\ufffd\ufffd\ufffd")
	bad1("a lone surrogate encoded as UTF-8 (ed a0 80) is not UTF-8", flags("NotUtf8"), b64([]byte{'a', 0xed, 0xa0, 0x80}), "a\ufffd")

	key := g.key32()
	v2 := b.group("BodyV2", map[string]any{"key": hx(key[:])})
	type body struct{ c, n, p string }
	var first body
	for i, t := range []struct {
		text string
		fl   []string
	}{{"hello @bob", flags("Valid")}, {"", flags("Empty")}, {"ünïcödé 🔐\u2028", flags("Unicode")}, {strings.Repeat("long body ", 20), flags("Valid")}} {
		n := g.nonce()
		c, nb, _ := meshfmt.EncodeBodyV2(t.text, n, key)
		b.add(v2, "v2 body", Valid, t.fl, map[string]any{"nonce": nb, "ciphertext": c, "plaintext": t.text})
		if i == 0 {
			first = body{c, nb, t.text}
		}
	}
	bad2 := func(comment string, fl []string, c, n string, extra map[string]any) {
		f := map[string]any{"nonce": n, "ciphertext": c, "plaintext": first.p}
		for k, v := range extra {
			f[k] = v
		}
		b.add(v2, comment, Invalid, fl, f)
	}
	ok := g.key32()
	bad2("another topic key", flags("WrongKey"), first.c, first.n, map[string]any{"key": hx(ok[:])})
	on := g.nonce()
	bad2("another nonce", flags("WrongNonce"), first.c, b64(on[:]), nil)
	raw, _ := base64.StdEncoding.DecodeString(first.c)
	bad2("15 bytes", flags("Truncated"), b64(raw[:15]), first.n, nil)
	bad2("empty ciphertext", flags("Truncated"), "", first.n, nil)
	bad2("nonce of 16 bytes", flags("NonceLength"), first.c, b64(on[:16]), nil)
	bad2("ciphertext in base64url", flags("UrlSafe"), urlAlphabet(raw), first.n, nil)
	bad2("line break inside", flags("LineBreak"), first.c[:8]+"\r\n"+first.c[8:], first.n, nil)
	n := g.nonce()
	nu := secretbox.Seal(nil, []byte{0xc3, 0x28}, &n, &key)
	bad2("authentic secretbox of bytes c3 28 (not UTF-8)", flags("NotUtf8"), b64(nu), b64(n[:]), map[string]any{"plaintext": "\ufffd("})
	return b
}

// Signatures that Go's crypto/ed25519 accepts and libsodium refuses.

// scalar reads 64 random bytes as a uniformly random scalar.
func (g *gen) scalar() *edwards25519.Scalar {
	s, _ := edwards25519.NewScalar().SetUniformBytes(g.bytes(64))
	return s
}

func challenge(R, A, msg []byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(R)
	h.Write(A)
	h.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	return k
}

// identityKeySig: public key = the identity (order 1), signature R = [r]B,
// S = r. Then [S]B = R + [k]A for every message.
func (g *gen) identityKeySig() (pk, sig []byte) {
	r := g.scalar()
	R := new(edwards25519.Point).ScalarBaseMult(r)
	return mustHex(smallOrderEd[1]), append(R.Bytes(), r.Bytes()...)
}

// identityRSig: R = the identity, S = k·a, for the signer's own key.
func identityRSig(sk ed25519.PrivateKey, msg []byte) []byte {
	h := sha512.Sum512(sk[:32])
	a, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	R := mustHex(smallOrderEd[1])
	k := challenge(R, sk[32:], msg)
	return append(R, edwards25519.NewScalar().Multiply(k, a).Bytes()...)
}

// mixedOrderSig returns a key A' = [a]B + T8 (order-8 component) and a
// signature of msgOf(A') valid under the cofactorless equation: it retries r until
// k ≡ 0 (mod 8), so that [k]T8 vanishes.
func (g *gen) mixedOrderSig(msgOf func(pk []byte) []byte) (pk, sig []byte) {
	a := g.scalar()
	T8, _ := new(edwards25519.Point).SetBytes(mustHex(smallOrderEd[2]))
	A := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarBaseMult(a), T8).Bytes()
	msg := msgOf(A)
	for {
		r := g.scalar()
		R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
		k := challenge(R, A, msg)
		if k.Bytes()[0]&7 != 0 {
			continue
		}
		S := edwards25519.NewScalar().MultiplyAdd(k, a, r)
		return A, append(R, S.Bytes()...)
	}
}

// groupOrder is L, little-endian.
var groupOrder = [32]byte{
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
}

// plusL returns sig with S replaced by S + L (little-endian addition; fits
// in 32 bytes because S < L < 2^253).
func plusL(sig []byte) []byte {
	out := append([]byte(nil), sig...)
	var carry uint16
	for i := 0; i < 32; i++ {
		s := uint16(out[32+i]) + uint16(groupOrder[i]) + carry
		out[32+i] = byte(s)
		carry = s >> 8
	}
	return out
}

func (g *gen) hellos() *builder {
	b := newBuilder("mesh_hello_test.json", "MESH-HELLO", "meshctl_mesh_hello_v1",
		[]string{"Hello signatures (SPEC §4): ed25519 detached over UTF-8 \"meshId|memberId|pubkeyHex|timestampMs\", 128 hex,",
			"verified with libsodium 1.0.20's rules (meshfmt.VerifyStrict) and accepted within ±60 000 ms of nowMs (inclusive).",
			"Every byte flip of a valid signature is generated at run time."},
		map[string]Note{
			"Valid":         note("BASIC", "A hello as a peer signs it."),
			"SkewBoundary":  note("EDGE_CASE", "The timestamp is exactly 60 000 ms from now: accepted."),
			"SkewExceeded":  note("REPLAY", "The timestamp is 60 001 ms from now: refused (replay window)."),
			"FieldChanged":  note("AUTH_BYPASS", "A signed field was changed after signing."),
			"WrongKey":      note("AUTH_BYPASS", "The pubkey is another member's key."),
			"NonCanonicalS": note("SIGNATURE_MALLEABILITY", "S + L: refused by libsodium and crypto/ed25519 alike."),
			"SmallOrderKey": note("AUTH_BYPASS", "The pubkey is the identity point with a forged signature valid for any message under crypto/ed25519; libsodium refuses small-order keys."),
			"SmallOrderR":   note("SIGNATURE_MALLEABILITY", "R is the identity (S = k·a): crypto/ed25519 accepts, libsodium refuses small-order R."),
			"BadEncoding":   note("MALFORMED", "The signature or pubkey is not the right number of hex characters."),
			"MixedOrderKey": {BugType: "EDGE_CASE", Description: "The pubkey has an order-8 component; the signature satisfies the cofactorless equation.",
				Policy: &Policy{Default: Valid, Reason: "libsodium 1.0.20's verify does not check the subgroup of A and accepts; meshfmt gives the broker's verdict. Such a key can only be registered by its own holder."}},
		})
	gr := b.group("HelloSignature", nil)
	sign := func(h meshfmt.Hello, sk ed25519.PrivateKey) string { s, _ := meshfmt.SignHello(h, sk); return s }
	addH := func(comment string, res Result, fl []string, h meshfmt.Hello, sig string) {
		b.add(gr, comment, res, fl, map[string]any{"meshId": h.MeshID, "memberId": h.MemberID, "pubkey": h.PubkeyHex,
			"timestampMs": h.TimestampMs, "nowMs": genNowMs, "sig": sig})
	}
	sk, other := g.edKey(), g.edKey()
	base := meshfmt.Hello{MeshID: g.id(), MemberID: g.id(), PubkeyHex: hx(sk[32:]), TimestampMs: genNowMs - 1234}
	addH("hello", Valid, flags("Valid"), base, sign(base, sk))
	for i := 0; i < 2; i++ {
		k := g.edKey()
		h := meshfmt.Hello{MeshID: g.id(), MemberID: g.id(), PubkeyHex: hx(k[32:]), TimestampMs: genNowMs + int64(i)}
		addH("hello", Valid, flags("Valid"), h, sign(h, k))
	}
	for _, d := range []int64{60_000, -60_000} {
		h := base
		h.TimestampMs = genNowMs + d
		addH(fmt.Sprintf("timestamp now%+d ms", d), Valid, flags("SkewBoundary"), h, sign(h, sk))
	}
	for _, d := range []int64{60_001, -60_001} {
		h := base
		h.TimestampMs = genNowMs + d
		addH(fmt.Sprintf("timestamp now%+d ms", d), Invalid, flags("SkewExceeded"), h, sign(h, sk))
	}
	sig := sign(base, sk)
	for _, c := range []struct {
		comment string
		mod     func(*meshfmt.Hello)
	}{
		{"meshId changed", func(h *meshfmt.Hello) { h.MeshID = g.id() }},
		{"memberId changed", func(h *meshfmt.Hello) { h.MemberID = g.id() }},
		{"timestamp + 1 ms", func(h *meshfmt.Hello) { h.TimestampMs++ }},
		{"pubkey hex in upper case (the signed string changes)", func(h *meshfmt.Hello) { h.PubkeyHex = strings.ToUpper(h.PubkeyHex) }},
	} {
		h := base
		c.mod(&h)
		addH(c.comment, Invalid, flags("FieldChanged"), h, sig)
	}
	h := base
	h.PubkeyHex = hx(other[32:])
	addH("pubkey is another member's key", Invalid, flags("WrongKey"), h, sig)
	raw, _ := hex.DecodeString(sig)
	addH("S + L", Invalid, flags("NonCanonicalS"), base, hx(plusL(raw)))
	ipk, isig := g.identityKeySig()
	h = base
	h.PubkeyHex = hx(ipk)
	addH("identity pubkey, forged signature", Invalid, flags("SmallOrderKey"), h, hx(isig))
	addH("R = identity, S = k·a", Invalid, flags("SmallOrderR"), base, hx(identityRSig(sk, base.Canonical())))
	addH("signature of 127 hex characters", Invalid, flags("BadEncoding"), base, sig[:127])
	addH("signature with non-hex characters", Invalid, flags("BadEncoding"), base, "zz"+sig[2:])
	h = base
	h.PubkeyHex = hx(sk[32:63])
	addH("pubkey of 31 bytes", Invalid, flags("BadEncoding"), h, sig)
	// The mixed-order key signs its own hello: the pubkey is part of the message.
	h = base
	mpk, msig := g.mixedOrderSig(func(pk []byte) []byte { h.PubkeyHex = hx(pk); return h.Canonical() })
	h.PubkeyHex = hx(mpk)
	addH("pubkey with an order-8 component, cofactorless-valid signature", Acceptable, flags("MixedOrderKey"), h, hx(msig))
	return b
}

func (g *gen) invites() *builder {
	b := newBuilder("mesh_invite_test.json", "MESH-INVITE", "meshctl_mesh_invite_v1",
		[]string{"Invites (SPEC §4). v1: token = base64url-no-pad of the JSON payload {v, mesh_id, mesh_slug, broker_url, expires_at,",
			"mesh_root_key, role, owner_pubkey, signature} (that key order, JSON.stringify spelling), signed by the owner over",
			"\"1|mesh_id|mesh_slug|broker_url|expires_at|mesh_root_key|role|owner_pubkey\". v2: stored {\"canonical\":…,\"signature\":…},",
			"signed over \"v=2|mesh_id|invite_id|expires_at|role|owner_pubkey\". Verified strictly, valid while nowSec <= expires_at.",
			"Payloads are read strictly (as JSON.parse reads them, and refusing what it could read otherwise): exact-case keys, no",
			"repeated or extra keys, v and expires_at JSON numbers (never strings), role admin or member.",
			"With ownerSeed, signing the expected fields must reproduce the token byte for byte."},
		map[string]Note{
			"Valid":          note("BASIC", "An invite as the owner issues it."),
			"JsEscaping":     note("EDGE_CASE", "Fields with quotes, <, >, &, non-ASCII and U+2028, which JSON.stringify leaves raw (encoding/json would escape them)."),
			"ExpiryBoundary": note("EDGE_CASE", "nowSec equals expires_at: still valid."),
			"Expired":        note("REPLAY", "nowSec is past expires_at."),
			"FieldChanged":   note("AUTH_BYPASS", "A signed field was changed after signing."),
			"WrongKey":       note("AUTH_BYPASS", "owner_pubkey replaced by another key; the signature is the original owner's."),
			"SmallOrderKey":  note("AUTH_BYPASS", "owner_pubkey is the identity with a signature crypto/ed25519 accepts for any message; libsodium refuses."),
			"NotBase64url":   note("MALFORMED", "The token is not base64url without padding."),
			"BadPayload":     note("MALFORMED", "The payload is not the v1 JSON object (not JSON, wrong v, a key missing)."),
			"BadCanonical":   note("MALFORMED", "The v2 canonical string does not have the v=2 shape."),
			"ParserDifferential": note("AUTH_BYPASS", "A payload JSON.parse and a lenient decoder read differently (a key in other case or repeated, "+
				"also through a \\u escape, a number written as a string, an extra key): signed by the owner, and still refused."),
			"RoleOutsideSet": note("AUTH_BYPASS", "A role other than admin or member, signed by the owner: upstream refuses it."),
			"EscapedKey":     note("EDGE_CASE", "A key spelled with a \\u escape (\\u0072ole), once: JSON.parse reads it as that key, so the token reads the same everywhere."),
			"KeyOrder": {BugType: "EDGE_CASE", Description: "The v1 payload's keys in another order, same values and signature.",
				Policy: &Policy{Default: Valid, Reason: "the signature covers the canonical string, not the JSON text; the broker JSON-parses the token, so key order does not change the verdict (meshctl always writes the fixed order, see the ownerSeed vectors)"}},
		})
	owner, other := g.edKey(), g.edKey()
	identity := g.invitesV1(b, owner, other)
	g.invitesV2(b, owner, other, identity)
	return b
}

// inviteV1Group adds v1 invite tests; with want, the expected fields and
// the owner's seed, so signing them must reproduce the token.
type inviteV1Group struct {
	b    *builder
	grp  *group
	seed string
}

func (v inviteV1Group) add(comment string, res Result, fl []string, token string, now int64, want *meshfmt.InviteV1) {
	f := map[string]any{"token": token, "nowSec": now}
	if want != nil {
		f["ownerSeed"] = v.seed
		for k, x := range map[string]any{"meshId": want.MeshID, "meshSlug": want.MeshSlug, "brokerUrl": want.BrokerURL,
			"expiresAt": want.ExpiresAt, "rootKey": want.RootKey, "role": want.Role, "ownerPubkey": want.OwnerPubkey, "signature": want.Signature} {
			f[k] = x
		}
	}
	v.b.add(v.grp, comment, res, fl, f)
}

// invitesV1 adds the v1 group and returns the identity public key its
// small-order test used (the v2 group uses it too).
func (g *gen) invitesV1(b *builder, owner, other ed25519.PrivateKey) (identity []byte) {
	v1 := inviteV1Group{b: b, grp: b.group("InviteV1", nil), seed: hx(owner[:32])}
	inv := meshfmt.InviteV1{MeshID: g.id(), MeshSlug: "team-alpha", BrokerURL: "wss://broker.example.com/ws",
		ExpiresAt: genNowSec + 86_400, RootKey: b6u(g.bytes(32)), Role: "member"}
	tok, signed, _ := meshfmt.SignInviteV1(inv, owner)
	v1.add("v1 invite", Valid, flags("Valid"), tok, genNowSec, &signed)
	esc := inv
	esc.MeshSlug, esc.Role = "a \"quoted\" <b>&amp; ünï \u2028 slug\\", "admin"
	etok, esigned, _ := meshfmt.SignInviteV1(esc, owner)
	v1.add("v1 invite with JSON.stringify-sensitive characters", Valid, flags("JsEscaping"), etok, genNowSec, &esigned)
	v1.add("nowSec = expires_at", Valid, flags("ExpiryBoundary"), tok, signed.ExpiresAt, &signed)
	payload, _ := base64.RawURLEncoding.DecodeString(tok)
	reordered := `{"signature":"` + signed.Signature + `",` + strings.Replace(strings.TrimPrefix(string(payload), "{"), `,"signature":"`+signed.Signature+`"`, "", 1)
	b.add(v1.grp, "keys in reverse-ish order (signature first)", Acceptable, flags("KeyOrder"), map[string]any{"token": b6u([]byte(reordered)), "nowSec": genNowSec})
	v1.add("nowSec = expires_at + 1", Invalid, flags("Expired"), tok, signed.ExpiresAt+1, nil)
	for _, c := range []struct {
		comment string
		mod     func(*meshfmt.InviteV1)
	}{
		{"role changed to admin", func(i *meshfmt.InviteV1) { i.Role = "admin" }},
		{"root_key changed", func(i *meshfmt.InviteV1) { i.RootKey = b6u(g.bytes(32)) }},
		{"expires_at extended", func(i *meshfmt.InviteV1) { i.ExpiresAt += 86_400 }},
		{"broker_url changed", func(i *meshfmt.InviteV1) { i.BrokerURL = "wss://evil.example.com/ws" }},
		{"mesh_id changed", func(i *meshfmt.InviteV1) { i.MeshID = g.id() }},
		{"mesh_slug changed", func(i *meshfmt.InviteV1) { i.MeshSlug = "team-beta" }},
	} {
		m := signed
		c.mod(&m)
		v1.add(c.comment, Invalid, flags("FieldChanged"), m.Token(), genNowSec, nil)
	}
	m := signed
	m.OwnerPubkey = hx(other[32:])
	v1.add("owner_pubkey of another key", Invalid, flags("WrongKey"), m.Token(), genNowSec, nil)
	m = signed
	identity, _ = g.identityKeySig()
	_, forged := g.identityKeySig()
	m.OwnerPubkey, m.Signature = hx(identity), hx(forged)
	v1.add("identity owner_pubkey, forged signature", Invalid, flags("SmallOrderKey"), m.Token(), genNowSec, nil)
	v1.add("'=' padding appended", Invalid, flags("NotBase64url"), tok+"=", genNowSec, nil)
	v1.add("standard base64 alphabet", Invalid, flags("NotBase64url"), stdAlphabet(payload), genNowSec, nil)
	v1.add("payload is not JSON", Invalid, flags("BadPayload"), b6u([]byte("not json")), genNowSec, nil)
	v1.add("v is 2", Invalid, flags("BadPayload"), b6u([]byte(strings.Replace(string(payload), `{"v":1,`, `{"v":2,`, 1))), genNowSec, nil)
	noRoot := strings.Replace(string(payload), `,"mesh_root_key":"`+signed.RootKey+`"`, "", 1)
	v1.add("mesh_root_key missing", Invalid, flags("BadPayload"), b6u([]byte(noRoot)), genNowSec, nil)
	v1.add("the key root_key in place of mesh_root_key (an earlier, wrong layout)", Invalid, flags("BadPayload"),
		b6u([]byte(strings.Replace(string(payload), `"mesh_root_key"`, `"root_key"`, 1))), genNowSec, nil)
	inviteV1Differentials(v1, owner, signed)
	return identity
}

// inviteV1Differentials adds payloads that JSON.parse and a lenient
// decoder read differently; each carries a signature valid for the
// canonical string a lenient reader would build.
func inviteV1Differentials(v1 inviteV1Group, owner ed25519.PrivateKey, signed meshfmt.InviteV1) {
	resign := func(i meshfmt.InviteV1) meshfmt.InviteV1 {
		i.Signature = hx(ed25519.Sign(owner, i.Canonical()))
		return i
	}
	payload, _ := base64.RawURLEncoding.DecodeString(signed.Token())
	admin := signed
	admin.Role = "admin"
	admin = resign(admin)
	adminJSON, _ := base64.RawURLEncoding.DecodeString(admin.Token())
	ownerRole := signed
	ownerRole.Role = "owner"
	ownerRole = resign(ownerRole)
	v1.add("role owner, signed by the owner", Invalid, flags("RoleOutsideSet"), ownerRole.Token(), genNowSec, nil)
	for _, c := range []struct{ comment, old, new string }{
		{"role member, then ROLE admin (admin signed): case-insensitive keys would read admin", `"role":"admin"`, `"role":"member","ROLE":"admin"`},
		{"role member, then role admin (admin signed): a repeated key", `"role":"admin"`, `"role":"member","role":"admin"`},
		{"role member, then \\u0072ole admin (admin signed): a repeated key through an escape", `"role":"admin"`, `"role":"member","\u0072ole":"admin"`},
		{"ROLE in place of role (admin signed)", `"role":"admin"`, `"ROLE":"admin"`},
		{"v as the string \"1\"", `"v":1,`, `"v":"1",`},
		{"v as 1.0", `"v":1,`, `"v":1.0,`},
		{"expires_at as a string", fmt.Sprintf(`"expires_at":%d`, admin.ExpiresAt), fmt.Sprintf(`"expires_at":"%d"`, admin.ExpiresAt)},
		{"an extra key", `"v":1,`, `"v":1,"note":"hi",`},
	} {
		v1.add(c.comment, Invalid, flags("ParserDifferential"), b6u([]byte(strings.Replace(string(adminJSON), c.old, c.new, 1))), genNowSec, nil)
	}
	v1.add("role spelled \\u0072ole, once", Valid, flags("EscapedKey"),
		b6u([]byte(strings.Replace(string(payload), `"role"`, `"\u0072ole"`, 1))), genNowSec, nil)
}

// invitesV2 adds the v2 group: {"canonical":…,"signature":…} as stored.
func (g *gen) invitesV2(b *builder, owner, other ed25519.PrivateKey, identity []byte) {
	v2 := b.group("InviteV2", nil)
	meshID, inviteID, exp := g.id(), g.id(), genNowSec+3600
	stored, _ := meshfmt.SignInviteV2(meshID, inviteID, exp, "member", owner)
	b.add(v2, "v2 invite", Valid, flags("Valid"), map[string]any{"stored": stored, "nowSec": genNowSec, "ownerSeed": hx(owner[:32]),
		"meshId": meshID, "inviteId": inviteID, "expiresAt": exp, "role": "member", "ownerPubkey": hx(owner[32:])})
	b.add(v2, "nowSec = expires_at", Valid, flags("ExpiryBoundary"), map[string]any{"stored": stored, "nowSec": exp})
	b.add(v2, "nowSec = expires_at + 1", Invalid, flags("Expired"), map[string]any{"stored": stored, "nowSec": exp + 1})
	bad2 := func(comment string, fl []string, st string) {
		b.add(v2, comment, Invalid, fl, map[string]any{"stored": st, "nowSec": genNowSec})
	}
	canonical := "v=2|" + meshID + "|" + inviteID + "|" + fmt.Sprint(exp) + "|member|" + hx(owner[32:])
	sig := stored[strings.LastIndex(stored, `"signature":"`)+13 : len(stored)-2]
	bad2("role changed to admin", flags("FieldChanged"), meshfmt.InviteV2Stored(strings.Replace(canonical, "|member|", "|admin|", 1), sig))
	bad2("expires_at extended", flags("FieldChanged"), meshfmt.InviteV2Stored(strings.Replace(canonical, fmt.Sprint(exp), fmt.Sprint(exp+86_400), 1), sig))
	bad2("owner_pubkey of another key", flags("WrongKey"), meshfmt.InviteV2Stored(strings.Replace(canonical, hx(owner[32:]), hx(other[32:]), 1), sig))
	icanon := strings.Replace(canonical, hx(owner[32:]), hx(identity), 1)
	_, forged := g.identityKeySig()
	bad2("identity owner_pubkey, forged signature", flags("SmallOrderKey"), meshfmt.InviteV2Stored(icanon, hx(forged)))
	bad2("v=1 prefix", flags("BadCanonical"), meshfmt.InviteV2Stored(strings.Replace(canonical, "v=2|", "v=1|", 1), sig))
	bad2("five fields (invite_id missing)", flags("BadCanonical"), meshfmt.InviteV2Stored(strings.Replace(canonical, inviteID+"|", "", 1), sig))
	bad2("not JSON", flags("BadCanonical"), canonical)
	ocanon := strings.Replace(canonical, "|member|", "|owner|", 1)
	bad2("role owner, signed by the owner", flags("RoleOutsideSet"), meshfmt.InviteV2Stored(ocanon, hx(ed25519.Sign(owner, []byte(ocanon)))))
	bad2("the key Canonical", flags("ParserDifferential"), strings.Replace(stored, `"canonical"`, `"Canonical"`, 1))
	bad2("canonical repeated (first a member invite, then an admin one)", flags("ParserDifferential"),
		strings.Replace(stored, `{"canonical":`, `{"canonical":"`+strings.Replace(canonical, "|member|", "|admin|", 1)+`","canonical":`, 1))
	bad2("an extra key", flags("ParserDifferential"), strings.Replace(stored, `{"canonical":`, `{"v":2,"canonical":`, 1))
}

func (g *gen) rootKeys() *builder {
	b := newBuilder("mesh_root_key_test.json", "MESH-ROOT-KEY-SEAL", "meshctl_mesh_rootkey_v1",
		[]string{"Root-key seal (SPEC §4): crypto_box_seal of the 32 bytes decoded from the root key (rootKey: 43 characters of",
			"base64url without padding, as in mesh.root_key) to the recipient's x25519 key: 80 bytes, stored base64url without",
			"padding (107 characters). It must open with recipientSecret to exactly those 32 bytes; with ephemeralSecret,",
			"sealing must reproduce it. Every byte flip of a valid sealed box is generated at run time."},
		map[string]Note{
			"Valid":             note("BASIC", "A sealed root key."),
			"WrongRecipient":    note("AUTH_BYPASS", "Opened with another member's key."),
			"Truncated":         note("MALFORMED", "A byte removed."),
			"Extended":          note("MALFORMED", "A byte appended."),
			"NotBase64url":      note("MALFORMED", "Not base64url without padding."),
			"LowOrderEphemeral": note("CONFIDENTIALITY", "The ephemeral key is a small-order point and the box is forged with HSalsa20(0); libsodium refuses it (x/crypto's box.OpenAnonymous would open it)."),
			"NotARootKey":       note("MALFORMED", "An authentic sealed box whose content is not 32 bytes (for example the 43-character text, an earlier wrong layout)."),
		})
	member, other := g.edKey(), g.edKey()
	rsk, _ := meshfmt.Ed25519SecretKeyToX25519(member)
	osk, _ := meshfmt.Ed25519SecretKeyToX25519(other)
	rpk := meshfmt.X25519PublicKey(rsk)
	gr := b.group("RootKeySeal", map[string]any{"recipientSecret": hx(rsk[:])})
	var first, firstKey string
	for i := 0; i < 3; i++ {
		rkb, esk := g.bytes(32), g.key32()
		rk := b6u(rkb)
		s, _ := meshfmt.SealAnonymous(rkb, rpk, esk)
		b.add(gr, "sealed root key", Valid, flags("Valid"), map[string]any{"ephemeralSecret": hx(esk[:]), "sealed": b6u(s), "rootKey": rk})
		if i == 0 {
			first, firstKey = b6u(s), rk
		}
	}
	raw, _ := base64.RawURLEncoding.DecodeString(first)
	bad := func(comment string, fl []string, sealed string, extra map[string]any) {
		f := map[string]any{"sealed": sealed, "rootKey": firstKey}
		for k, v := range extra {
			f[k] = v
		}
		b.add(gr, comment, Invalid, fl, f)
	}
	bad("opened with another member's key", flags("WrongRecipient"), first, map[string]any{"recipientSecret": hx(osk[:])})
	bad("last byte removed", flags("Truncated"), b6u(raw[:len(raw)-1]), nil)
	bad("only the ephemeral key and MAC", flags("Truncated"), b6u(raw[:48]), nil)
	bad("one byte appended", flags("Extended"), b6u(append(append([]byte(nil), raw...), 0)), nil)
	bad("with '=' padding", flags("NotBase64url"), base64.URLEncoding.EncodeToString(raw), nil)
	bad("standard alphabet", flags("NotBase64url"), stdAlphabet(raw), nil)
	for i, u := range smallOrderX {
		epk := mustHex(u)
		h, _ := blake2b.New(24, nil)
		h.Write(epk)
		h.Write(rpk[:])
		var n [24]byte
		copy(n[:], h.Sum(nil))
		fk, _ := base64.RawURLEncoding.DecodeString(firstKey)
		forged := secretbox.Seal(append([]byte(nil), epk...), fk, &n, zeroBoxKey())
		bad(fmt.Sprintf("small-order ephemeral key %d, box forged with HSalsa20(0)", i), flags("LowOrderEphemeral"), b6u(forged), nil)
	}
	s, _ := meshfmt.SealAnonymous([]byte(firstKey), rpk, g.key32())
	b.add(gr, "authentic sealed box of the 43-character text instead of its 32 bytes (91 bytes)", Invalid, flags("NotARootKey"),
		map[string]any{"sealed": b6u(s), "rootKey": firstKey})
	fk, _ := base64.RawURLEncoding.DecodeString(firstKey)
	s, _ = meshfmt.SealAnonymous(fk[:31], rpk, g.key32())
	b.add(gr, "authentic sealed box of 31 bytes", Invalid, flags("NotARootKey"), map[string]any{"sealed": b6u(s), "rootKey": firstKey})
	s, _ = meshfmt.SealAnonymous(append(append([]byte(nil), fk...), 0), rpk, g.key32())
	b.add(gr, "authentic sealed box of 33 bytes", Invalid, flags("NotARootKey"), map[string]any{"sealed": b6u(s), "rootKey": firstKey})
	return b
}

func (g *gen) lockKeys() *builder {
	b := newBuilder("mesh_lock_key_test.json", "MESH-LOCK-KEY", "meshctl_mesh_lockkey_v1",
		[]string{"PostgreSQL advisory-lock keys (SPEC §2, §3): the migration runner's session lock key, and the per-mesh audit",
			"writer key = first 8 bytes of sha256(\"audit:\" + mesh_id), big-endian, masked to 63 bits. Computed by",
			"meshfmt.MigrationLockKey / meshfmt.AuditLockKey, the code the runner and the audit writer use. Keys are decimal",
			"strings, as Wycheproof writes big integers: most exceed 2^53, which JSON.parse would not read exactly."},
		map[string]Note{
			"SpecPin":  note("BASIC", "A SPEC pin."),
			"Random":   note("BASIC", "The key of a random mesh id."),
			"Edge":     note("EDGE_CASE", "The empty mesh id or a non-ASCII one."),
			"WrongKey": note("CONCURRENCY", "Another key: two writers with different keys do not exclude each other."),
			"Unmasked": note("CONCURRENCY", "The key without the 63-bit mask (negative as a bigint)."),
		})
	mig := b.group("MigrationLockKey", nil)
	b.add(mig, "SPEC §2: pg_try_advisory_lock(7473773831)", Valid, flags("SpecPin"), map[string]any{"key": dec(meshfmt.MigrationLockKey)})
	b.add(mig, "off by one", Invalid, flags("WrongKey"), map[string]any{"key": dec(meshfmt.MigrationLockKey + 1)})
	au := b.group("AuditLockKey", nil)
	b.add(au, "SPEC §3 pin: mesh1", Valid, flags("SpecPin"), map[string]any{"meshId": "mesh1", "key": dec(int64(870734828183836005))})
	for i := 0; i < 5; i++ {
		id := g.id()
		b.add(au, "random mesh id", Valid, flags("Random"), map[string]any{"meshId": id, "key": dec(meshfmt.AuditLockKey(id))})
	}
	b.add(au, "empty mesh id", Valid, flags("Edge"), map[string]any{"meshId": "", "key": dec(meshfmt.AuditLockKey(""))})
	b.add(au, "non-ASCII mesh id", Valid, flags("Edge"), map[string]any{"meshId": "méš-🔒", "key": dec(meshfmt.AuditLockKey("méš-🔒"))})
	b.add(au, "mesh1 with mesh2's key", Invalid, flags("WrongKey"), map[string]any{"meshId": "mesh1", "key": dec(meshfmt.AuditLockKey("mesh2"))})
	sum := sha256.Sum256([]byte("audit:mesh1"))
	var unmasked int64
	for _, c := range sum[:8] {
		unmasked = unmasked<<8 | int64(c)
	}
	if unmasked >= 0 { // mesh1's top bit is clear: set it to show the mask matters
		unmasked |= -1 << 63
	}
	b.add(au, "mesh1 without the 63-bit mask", Invalid, flags("Unmasked"), map[string]any{"meshId": "mesh1", "key": dec(unmasked)})
	return b
}

// dec spells a 64-bit key as a decimal string.
func dec(n int64) string { return strconv.FormatInt(n, 10) }
