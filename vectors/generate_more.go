package vectors

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/claudemesh/meshctl/meshfmt"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// The formats SPEC §4 added: session attestation and session hello, direct
// messages, file keys and env secrets. Valid objects are made with
// golang.org/x/crypto and crypto/ed25519 directly where the format allows,
// and every verdict is checked again by libsodium (sodium tests) and by the
// Node oracle.

func (g *gen) sessions() *builder {
	b := newBuilder("mesh_session_test.json", "MESH-SESSION", "meshctl_mesh_session_v1",
		[]string{"Session keys (SPEC §4). Attestation: ed25519 by the parent member over",
			"\"claudemesh-session-attest|<parentPubkey>|<sessionPubkey>|<expiresAtMs>\", accepted while nowMs < expiresAtMs <= nowMs + 86 400 000.",
			"Session hello: ed25519 by the session key over \"claudemesh-session-hello|<meshId>|<parentPubkey>|<sessionPubkey>|<timestampMs>\",",
			"accepted within ±60 000 ms of nowMs (inclusive). Verified with libsodium's rules."},
		map[string]Note{
			"Valid":         note("BASIC", "As the CLI signs it."),
			"TtlBoundary":   note("EDGE_CASE", "expiresAtMs is exactly nowMs + 24 h, or nowMs + 1: accepted."),
			"TtlTooLong":    note("REPLAY", "expiresAtMs is more than 24 h ahead: refused (bounds the damage of a leaked attestation)."),
			"Expired":       note("REPLAY", "expiresAtMs is nowMs or earlier: refused."),
			"SkewBoundary":  note("EDGE_CASE", "The timestamp is exactly 60 000 ms from now: accepted."),
			"SkewExceeded":  note("REPLAY", "The timestamp is 60 001 ms from now: refused."),
			"WrongKey":      note("AUTH_BYPASS", "Signed by the other key of the pair (session instead of parent, or the converse)."),
			"FieldChanged":  note("AUTH_BYPASS", "A signed field was changed after signing."),
			"SmallOrderKey": note("AUTH_BYPASS", "The verifying key is the identity point with a signature crypto/ed25519 accepts for any message; libsodium refuses."),
			"BadEncoding":   note("MALFORMED", "A key or the signature is not the right number of hex characters."),
		})
	parent, session, other := g.edKey(), g.edKey(), g.edKey()
	ppk, spk := hx(parent[32:]), hx(session[32:])
	ga := b.group("SessionAttestation", nil)
	att := func(comment string, res Result, fl []string, p, s string, exp int64, sig string) {
		b.add(ga, comment, res, fl, map[string]any{"parentPubkey": p, "sessionPubkey": s, "expiresAtMs": exp, "nowMs": genNowMs, "sig": sig})
	}
	signA := func(p, s string, exp int64, sk ed25519.PrivateKey) string {
		return hx(ed25519.Sign(sk, []byte(fmt.Sprintf("claudemesh-session-attest|%s|%s|%d", p, s, exp))))
	}
	for _, c := range []struct {
		ttl int64
		res Result
		fl  []string
	}{{12 * 3600_000, Valid, flags("Valid")}, {24 * 3600_000, Valid, flags("TtlBoundary")}, {1, Valid, flags("TtlBoundary")},
		{24*3600_000 + 1, Invalid, flags("TtlTooLong")}, {0, Invalid, flags("Expired")}, {-1000, Invalid, flags("Expired")}} {
		exp := genNowMs + c.ttl
		att(fmt.Sprintf("ttl %d ms", c.ttl), c.res, c.fl, ppk, spk, exp, signA(ppk, spk, exp, parent))
	}
	exp := genNowMs + 3600_000
	sig := signA(ppk, spk, exp, parent)
	att("signed by the session key", Invalid, flags("WrongKey"), ppk, spk, exp, signA(ppk, spk, exp, session))
	att("another session key", Invalid, flags("FieldChanged"), ppk, hx(other[32:]), exp, sig)
	att("expiresAtMs + 1", Invalid, flags("FieldChanged"), ppk, spk, exp+1, sig)
	ipk, isig := g.identityKeySig()
	att("identity parent key, forged signature", Invalid, flags("SmallOrderKey"), hx(ipk), spk, exp, hx(isig))
	att("session pubkey of 31 bytes", Invalid, flags("BadEncoding"), ppk, spk[:62], exp, signA(ppk, spk[:62], exp, parent))
	att("signature of 127 hex characters", Invalid, flags("BadEncoding"), ppk, spk, exp, sig[:127])

	gh := b.group("SessionHello", nil)
	hello := func(comment string, res Result, fl []string, mesh, p, s string, ts int64, sig string) {
		b.add(gh, comment, res, fl, map[string]any{"meshId": mesh, "parentPubkey": p, "sessionPubkey": s, "timestampMs": ts, "nowMs": genNowMs, "sig": sig})
	}
	signH := func(mesh, p, s string, ts int64, sk ed25519.PrivateKey) string {
		return hx(ed25519.Sign(sk, []byte(fmt.Sprintf("claudemesh-session-hello|%s|%s|%s|%d", mesh, p, s, ts))))
	}
	mesh := g.id()
	for _, c := range []struct {
		d   int64
		res Result
		fl  []string
	}{{-250, Valid, flags("Valid")}, {60_000, Valid, flags("SkewBoundary")}, {-60_000, Valid, flags("SkewBoundary")},
		{60_001, Invalid, flags("SkewExceeded")}, {-60_001, Invalid, flags("SkewExceeded")}} {
		ts := genNowMs + c.d
		hello(fmt.Sprintf("timestamp now%+d ms", c.d), c.res, c.fl, mesh, ppk, spk, ts, signH(mesh, ppk, spk, ts, session))
	}
	hsig := signH(mesh, ppk, spk, genNowMs, session)
	hello("signed by the parent key", Invalid, flags("WrongKey"), mesh, ppk, spk, genNowMs, signH(mesh, ppk, spk, genNowMs, parent))
	hello("meshId changed", Invalid, flags("FieldChanged"), g.id(), ppk, spk, genNowMs, hsig)
	hello("parent pubkey changed", Invalid, flags("FieldChanged"), mesh, hx(other[32:]), spk, genNowMs, hsig)
	hello("identity session key, forged signature", Invalid, flags("SmallOrderKey"), mesh, ppk, hx(ipk), genNowMs, hx(isig))
	hello("parent pubkey not hex", Invalid, flags("BadEncoding"), mesh, "zz"+ppk[2:], spk, genNowMs, signH(mesh, "zz"+ppk[2:], spk, genNowMs, session))
	return b
}

// boxKeys are the x25519 keys of an ed25519 key pair, via meshfmt's
// conversions (checked against libsodium's by the keyconv vectors).
func boxKeys(sk ed25519.PrivateKey) (pk, xsk [32]byte) {
	pk, _ = meshfmt.Ed25519PublicKeyToX25519(sk[32:])
	xsk, _ = meshfmt.Ed25519SecretKeyToX25519(sk)
	return pk, xsk
}

func (g *gen) directs() *builder {
	b := newBuilder("mesh_dm_test.json", "MESH-DM", "meshctl_mesh_dm_v1",
		[]string{"Direct messages (SPEC §4): ciphertext = base64 std of crypto_box_easy(UTF-8 message, nonce,",
			"x25519(recipient ed25519 pk), x25519(sender ed25519 sk)), nonce base64 std of 24 bytes. Keys are given by their",
			"ed25519 seeds. It must open with the sender's public and the recipient's secret key to plaintext; sealing again",
			"must reproduce it."},
		map[string]Note{
			"Valid":          note("BASIC", "An envelope as the CLI writes it."),
			"WrongRecipient": note("AUTH_BYPASS", "Opened by a member it was not sealed for."),
			"WrongSender":    note("AUTH_BYPASS", "Opened as if from another sender: the box authenticates its sender."),
			"WrongNonce":     note("AUTH_BYPASS", "Opened with another nonce."),
			"Truncated":      note("MALFORMED", "Shorter than the 16-byte MAC."),
			"NotBase64":      note("MALFORMED", "Not canonical base64 std."),
			"NonceLength":    note("MALFORMED", "The nonce is not 24 bytes."),
			"NotUtf8":        note("MALFORMED", "An authentic box whose plaintext is not UTF-8: refused, not passed on mangled."),
		})
	alice, bob, carol := g.bytes(32), g.bytes(32), g.bytes(32)
	ask, bsk := ed25519.NewKeyFromSeed(alice), ed25519.NewKeyFromSeed(bob)
	bpk, _ := boxKeys(bsk)
	_, axsk := boxKeys(ask)
	gr := b.group("DirectMessage", nil)
	add := func(comment string, res Result, fl []string, from, to []byte, nonce, ct, pt string) {
		b.add(gr, comment, res, fl, map[string]any{"senderEdSeed": hx(from), "recipientEdSeed": hx(to), "nonce": nonce, "ciphertext": ct, "plaintext": pt})
	}
	seal := func(msg []byte) (string, [24]byte) {
		n := g.nonce()
		return b64(box.Seal(nil, msg, &n, &bpk, &axsk)), n
	}
	var first string
	var fn [24]byte
	for i, msg := range []string{"hi bob", "", "ünïcödé 🔐\u2028 " + strings.Repeat("x", 100)} {
		ct, n := seal([]byte(msg))
		add("envelope", Valid, flags("Valid"), alice, bob, b64(n[:]), ct, msg)
		if i == 0 {
			first, fn = ct, n
		}
	}
	nb := b64(fn[:])
	add("opened by carol", Invalid, flags("WrongRecipient"), alice, carol, nb, first, "hi bob")
	add("opened as if from carol", Invalid, flags("WrongSender"), carol, bob, nb, first, "hi bob")
	on := g.nonce()
	add("another nonce", Invalid, flags("WrongNonce"), alice, bob, b64(on[:]), first, "hi bob")
	raw, _ := base64.StdEncoding.DecodeString(first)
	add("15 bytes", Invalid, flags("Truncated"), alice, bob, nb, b64(raw[:15]), "hi bob")
	add("base64url alphabet", Invalid, flags("NotBase64"), alice, bob, nb, urlAlphabet(raw), "hi bob")
	add("nonce of 23 bytes", Invalid, flags("NonceLength"), alice, bob, b64(fn[:23]), first, "hi bob")
	bad, n := seal([]byte{0xff, 0xfe})
	add("authentic box of bytes ff fe", Invalid, flags("NotUtf8"), alice, bob, b64(n[:]), bad, "\ufffd\ufffd")
	return b
}

func (g *gen) fileKeys() *builder {
	b := newBuilder("mesh_file_key_test.json", "MESH-FILE-KEY", "meshctl_mesh_filekey_v1",
		[]string{"Shared files (SPEC §4): ciphertext = crypto_secretbox_easy(body, nonce, key) (base64 std here), nonce base64 std;",
			"sealedKey = base64 std of crypto_box_seal(key, x25519(peer ed25519 pk)) (80 bytes). The recipient is given by its",
			"ed25519 seed; sealedKey must open to key (32 bytes) and the body to plaintext (hex)."},
		map[string]Note{
			"Valid":           note("BASIC", "A file and its key as the CLI writes them."),
			"WrongPeer":       note("AUTH_BYPASS", "The key is opened by a peer it was not sealed for."),
			"NotAFileKey":     note("MALFORMED", "An authentic sealed box whose content is not 32 bytes."),
			"Truncated":       note("MALFORMED", "The sealed key is shorter than 80 bytes."),
			"NotBase64":       note("MALFORMED", "The sealed key is not canonical base64 std."),
			"BodyWrongKey":    note("AUTH_BYPASS", "The body was sealed under another key."),
			"BodyNonceLength": note("MALFORMED", "The body nonce is not 24 bytes."),
		})
	peer, other := g.bytes(32), g.bytes(32)
	ppk, _ := boxKeys(ed25519.NewKeyFromSeed(peer))
	gr := b.group("FileKey", nil)
	sealKey := func(k []byte) string {
		esk := g.key32()
		s, _ := meshfmt.SealAnonymous(k, ppk, esk)
		return b64(s)
	}
	add := func(comment string, res Result, fl []string, seed []byte, sealed string, key [32]byte, nonce string, ct []byte, pt []byte) {
		b.add(gr, comment, res, fl, map[string]any{"recipientEdSeed": hx(seed), "sealedKey": sealed, "key": hx(key[:]), "nonce": nonce,
			"ciphertext": b64(ct), "plaintext": hx(pt)})
	}
	var fk [32]byte
	var fs, fnonce string
	var fct, fpt []byte
	for i, body := range [][]byte{[]byte("file body\n"), {}, []byte(strings.Repeat("\x00\x01binary\xff", 40))} {
		k, n := g.key32(), g.nonce()
		ct := secretbox.Seal(nil, body, &n, &k)
		s := sealKey(k[:])
		add(fmt.Sprintf("%d-byte file", len(body)), Valid, flags("Valid"), peer, s, k, b64(n[:]), ct, body)
		if i == 0 {
			fk, fs, fnonce, fct, fpt = k, s, b64(n[:]), ct, body
		}
	}
	add("opened by another peer", Invalid, flags("WrongPeer"), other, fs, fk, fnonce, fct, fpt)
	add("sealed box of 31 bytes", Invalid, flags("NotAFileKey"), peer, sealKey(fk[:31]), fk, fnonce, fct, fpt)
	raw, _ := base64.StdEncoding.DecodeString(fs)
	add("79-byte sealed key", Invalid, flags("Truncated"), peer, b64(raw[:79]), fk, fnonce, fct, fpt)
	add("sealed key in base64url", Invalid, flags("NotBase64"), peer, urlAlphabet(raw), fk, fnonce, fct, fpt)
	ok, n := g.key32(), g.nonce()
	add("body sealed under another key", Invalid, flags("BodyWrongKey"), peer, fs, fk, b64(n[:]), secretbox.Seal(nil, fpt, &n, &ok), fpt)
	add("body nonce of 16 bytes", Invalid, flags("BodyNonceLength"), peer, fs, fk, b64(n[:16]), fct, fpt)
	return b
}

func (g *gen) envSecrets() *builder {
	b := newBuilder("mesh_env_secret_test.json", "MESH-ENV-SECRET", "meshctl_mesh_envsecret_v1",
		[]string{"Env secrets at rest (SPEC §4): stored = base64 std of iv(12) ‖ tag(16) ‖ ciphertext, AES-256-GCM under key =",
			"BROKER_ENCRYPTION_KEY (64 hex; upper case accepted, as upstream accepts it), no additional data. It must open to",
			"plaintext (UTF-8)."},
		map[string]Note{
			"Valid":        note("BASIC", "A value as the broker stores it."),
			"UppercaseKey": note("EDGE_CASE", "The key in upper-case hex: upstream's check is case-insensitive."),
			"WrongKey":     note("AUTH_BYPASS", "Opened with another key."),
			"TagOrder":     note("FORMAT", "iv ‖ ciphertext ‖ tag (Go's and WebCrypto's order) instead of iv ‖ tag ‖ ciphertext."),
			"Truncated":    note("MALFORMED", "Shorter than iv and tag (28 bytes)."),
			"NotBase64":    note("MALFORMED", "Not canonical base64 std."),
			"BadKey":       note("MALFORMED", "The key is not 64 hex characters."),
			"NotUtf8":      note("MALFORMED", "An authentic value whose plaintext is not UTF-8."),
		})
	k := g.key32()
	key := hx(k[:])
	gr := b.group("EnvSecret", map[string]any{"key": key})
	blk, _ := aes.NewCipher(k[:])
	gcm, _ := cipher.NewGCM(blk)
	seal := func(pt []byte) (stored, swapped string) {
		iv := g.bytes(12)
		s := gcm.Seal(nil, iv, pt, nil)
		ct, tag := s[:len(s)-16], s[len(s)-16:]
		return b64(append(append(append([]byte{}, iv...), tag...), ct...)), b64(append(append([]byte{}, iv...), s...))
	}
	add := func(comment string, res Result, fl []string, stored, pt string, extra map[string]any) {
		f := map[string]any{"stored": stored, "plaintext": pt}
		for k, v := range extra {
			f[k] = v
		}
		b.add(gr, comment, res, fl, f)
	}
	var first, firstSwapped string
	for i, pt := range []string{`{"API_TOKEN":"s3cr3t"}`, "", "ünï 🔐"} {
		st, sw := seal([]byte(pt))
		add("env value", Valid, flags("Valid"), st, pt, nil)
		if i == 0 {
			first, firstSwapped = st, sw
		}
	}
	pt := `{"API_TOKEN":"s3cr3t"}`
	add("key in upper case", Valid, flags("UppercaseKey"), first, pt, map[string]any{"key": strings.ToUpper(key)})
	ok := g.key32()
	add("another key", Invalid, flags("WrongKey"), first, pt, map[string]any{"key": hx(ok[:])})
	add("iv ‖ ciphertext ‖ tag", Invalid, flags("TagOrder"), firstSwapped, pt, nil)
	raw, _ := base64.StdEncoding.DecodeString(first)
	add("27 bytes", Invalid, flags("Truncated"), b64(raw[:27]), pt, nil)
	add("base64 without padding", Invalid, flags("NotBase64"), strings.TrimRight(first, "="), pt, nil)
	add("key of 63 hex characters", Invalid, flags("BadKey"), first, pt, map[string]any{"key": key[:63]})
	bad, _ := seal([]byte{0xc3, 0x28})
	add("authentic value of bytes c3 28", Invalid, flags("NotUtf8"), bad, "\ufffd(", nil)
	return b
}
