package vectors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

func (g *gen) backups() *builder {
	b := newBuilder("mesh_backup_test.json", "MESH-CLI-BACKUP", "meshctl_mesh_backup_v1",
		[]string{"CLI backup files (SPEC §4): \"CMB1\" ‖ salt(16) ‖ nonce(24) ‖ XChaCha20-Poly1305(config, no AAD), key =",
			"Argon2id13(passphrase UTF-8, salt, opslimit 2, memlimit 64 MiB: libsodium's INTERACTIVE limits). file is base64 std of",
			"the whole file, plaintext hex. It must open with passphrase to plaintext. Upstream's restore refuses files under 61",
			"bytes (an empty config). Flips cover the magic, nonce and ciphertext; salt changes are a vector of their own (each costs 64 MiB).",
			"Tests with long: true need an Argon2id derivation of their own and run with --long (meshctl vectors verify --long)."},
		map[string]Note{
			"Valid":           note("BASIC", "A backup as `claudemesh backup` writes it."),
			"WrongPassphrase": note("AUTH_BYPASS", "Opened with another passphrase."),
			"SaltChanged":     note("AUTH_BYPASS", "A salt byte changed: another key, so the tag fails."),
			"BadMagic":        note("MALFORMED", "The file does not start with CMB1."),
			"TooShort":        note("MALFORMED", "Shorter than 61 bytes (upstream's restore refuses an empty config)."),
		})
	gr := b.group("CliBackup", nil)
	seal := func(pass string, pt []byte) []byte {
		salt, nonce := g.bytes(16), g.bytes(24)
		key := argon2.IDKey([]byte(pass), salt, 2, 64*1024, 1, 32)
		aead, _ := chacha20poly1305.NewX(key)
		return aead.Seal(append(append([]byte("CMB1"), salt...), nonce...), nonce, pt, nil)
	}
	add := func(comment string, res Result, fl []string, pass string, file, pt []byte) {
		f := map[string]any{"passphrase": pass, "file": b64(file), "plaintext": hx(pt)}
		if res == Invalid && (fl[0] == "WrongPassphrase" || fl[0] == "SaltChanged") {
			f["long"] = true // a derivation of its own: --long
		}
		b.add(gr, comment, res, fl, f)
	}
	pass := "correct horse battery staple"
	pt := []byte(`{"version":1,"meshes":[{"slug":"team","secretKey":"…"}]}`)
	f := seal(pass, pt)
	add("backup of a config", Valid, flags("Valid"), pass, f, pt)
	add("another passphrase", Invalid, flags("WrongPassphrase"), "correct horse battery stapler", f, pt)
	sc := append([]byte(nil), f...)
	sc[4] ^= 1
	add("salt byte 0 flipped", Invalid, flags("SaltChanged"), pass, sc, pt)
	add("magic CMB2", Invalid, flags("BadMagic"), pass, append([]byte("CMB2"), f[4:]...), pt)
	empty := seal(pass, nil)
	add("an authentic backup of an empty config (60 bytes)", Invalid, flags("TooShort"), pass, empty, nil)
	return b
}

func (g *gen) cliSessions() *builder {
	b := newBuilder("mesh_cli_session_test.json", "MESH-CLI-SESSION", "meshctl_mesh_clisession_v1",
		[]string{"CLI session tokens (SPEC §4): HS256 JWT with CLI_SYNC_SECRET, header {\"alg\":\"HS256\",\"typ\":\"JWT\"}, payload",
			"{sub,email,name,type:\"cli-session\",jti,iat,exp = iat + 2 592 000}, segments base64url without padding; the payload",
			"bytes are Latin-1 (upstream's btoa), read strictly. tokenHash (cli_session.token_hash) = sha256 hex of the token string."},
		map[string]Note{
			"Valid":              note("BASIC", "A token as the broker signs it."),
			"Latin1":             note("EDGE_CASE", "A name with a Latin-1 character: one byte in the payload (btoa), not UTF-8."),
			"EmailOmitted":       note("EDGE_CASE", "No email key: JSON.stringify leaves out an undefined value."),
			"WrongSecret":        note("AUTH_BYPASS", "Signed with another secret."),
			"AlgNone":            note("AUTH_BYPASS", "Header alg none, no signature."),
			"HeaderSpelling":     note("MALFORMED", "The header in another key order: not the one header the broker writes."),
			"PayloadChanged":     note("AUTH_BYPASS", "The payload was changed after signing."),
			"WrongType":          note("AUTH_BYPASS", "type is not cli-session (signed)."),
			"WrongLifetime":      note("FORMAT", "exp is not iat + 30 days (signed)."),
			"ParserDifferential": note("AUTH_BYPASS", "A repeated, extra or string-typed key (signed): refused, not guessed at."),
			"Padding":            note("MALFORMED", "A segment carries '=' padding."),
			"WrongHash":          note("FORMAT", "tokenHash is upper-case or another token's."),
		})
	secret := "cli-sync-" + hx(g.bytes(16))
	gr := b.group("CliSession", map[string]any{"secret": secret})
	const header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
	token := func(hdr, payload, key string) string {
		s := hdr + "." + b6u([]byte(payload))
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(s))
		return s + "." + b6u(m.Sum(nil))
	}
	hash := func(t string) string { s := sha256.Sum256([]byte(t)); return hx(s[:]) }
	add := func(comment string, res Result, fl []string, tok string, extra map[string]any) {
		f := map[string]any{"token": tok, "tokenHash": hash(tok)}
		for k, v := range extra {
			f[k] = v
		}
		b.add(gr, comment, res, fl, f)
	}
	iat := genNowSec
	claims := func(name, typ string, exp int64) string {
		return fmt.Sprintf(`{"sub":"user-%s","email":"ops@example.com","name":%s,"type":"%s","jti":"%s","iat":%d,"exp":%d}`,
			"1", name, typ, hx(g.bytes(16)), iat, exp)
	}
	good := claims(`"Ops Person"`, "cli-session", iat+2_592_000)
	tok := token(header, good, secret)
	add("session token", Valid, flags("Valid"), tok, map[string]any{"sub": "user-1", "name": "Ops Person"})
	add("name José, é as one Latin-1 byte", Valid, flags("Latin1"), token(header, claims("\"Jos\xe9\"", "cli-session", iat+2_592_000), secret),
		map[string]any{"sub": "user-1", "name": "José"})
	add("no email key", Valid, flags("EmailOmitted"), token(header, strings.Replace(good, `"email":"ops@example.com",`, "", 1), secret), nil)
	add("signed with another secret", Invalid, flags("WrongSecret"), token(header, good, secret+"x"), nil)
	add("alg none", Invalid, flags("AlgNone"), b6u([]byte(`{"alg":"none","typ":"JWT"}`))+"."+b6u([]byte(good))+".", nil)
	add("header {\"typ\":\"JWT\",\"alg\":\"HS256\"}", Invalid, flags("HeaderSpelling"), token(b6u([]byte(`{"typ":"JWT","alg":"HS256"}`)), good, secret), nil)
	parts := strings.Split(tok, ".")
	add("sub changed after signing", Invalid, flags("PayloadChanged"), parts[0]+"."+b6u([]byte(strings.Replace(good, "user-1", "user-2", 1)))+"."+parts[2], nil)
	add("type sync", Invalid, flags("WrongType"), token(header, claims(`"Ops"`, "sync", iat+2_592_000), secret), nil)
	add("exp = iat + 31 days", Invalid, flags("WrongLifetime"), token(header, claims(`"Ops"`, "cli-session", iat+31*86400), secret), nil)
	add("sub repeated", Invalid, flags("ParserDifferential"), token(header, strings.Replace(good, `{"sub":"user-1",`, `{"sub":"user-1","sub":"admin",`, 1), secret), nil)
	add("an extra key", Invalid, flags("ParserDifferential"), token(header, strings.Replace(good, `{"sub"`, `{"admin":"yes","sub"`, 1), secret), nil)
	add("iat as a string", Invalid, flags("ParserDifferential"), token(header, strings.Replace(good, fmt.Sprintf(`"iat":%d`, iat), fmt.Sprintf(`"iat":"%d"`, iat), 1), secret), nil)
	add("signature with '=' padding", Invalid, flags("Padding"), parts[0]+"."+parts[1]+"."+base64.URLEncoding.EncodeToString(mustB6u(parts[2])), nil)
	b.add(gr, "tokenHash in upper case", Invalid, flags("WrongHash"), map[string]any{"token": tok, "tokenHash": strings.ToUpper(hash(tok))})
	b.add(gr, "tokenHash of another token", Invalid, flags("WrongHash"), map[string]any{"token": tok, "tokenHash": hash(tok + "x")})
	return b
}

func mustB6u(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic("vectors: bad base64url constant")
	}
	return b
}
