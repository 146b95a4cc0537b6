package vectors

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Single-byte flips, written into the generated files so that any
// implementation reading them gets the negatives without meshctl's runner:
// for every valid test of a group type with an authenticated part, one
// invalid test per byte of that part, the byte XORed with 0x01 (the lowest
// bit: bit 255 of an x25519 key is masked, so flipping it would not be a
// negative). Fields that let a valid test be reproduced (sender, ephemeral
// and owner secrets, expected decodings) are left out of the flipped copy.

const byteFlipFlag = "ByteFlip"

var byteFlipNote = note("AUTH_BYPASS", "One byte of the authenticated part of a valid test (named in the comment) XORed with 0x01: must be refused.")

type flipOut struct {
	label  string
	fields map[string]any
}

type flipPart struct {
	field string
	codec *base64.Encoding // nil: hex
	skip  func(i int) bool // bytes left out
}

// flipSpecs: group type → the parts flipped and the fields dropped.
var flipSpecs = map[string]struct {
	parts []flipPart
	drop  []string
	fn    func(t map[string]any) []flipOut // for parts inside a larger text
}{
	"TopicKeySeal":       {parts: []flipPart{{field: "blob", codec: base64.StdEncoding}}, drop: []string{"senderSecret"}},
	"BodyV2":             {parts: []flipPart{{field: "ciphertext", codec: base64.StdEncoding}}},
	"HelloSignature":     {parts: []flipPart{{field: "sig"}}},
	"SessionAttestation": {parts: []flipPart{{field: "sig"}}},
	"SessionHello":       {parts: []flipPart{{field: "sig"}}},
	"RootKeySeal":        {parts: []flipPart{{field: "sealed", codec: base64.RawURLEncoding}}, drop: []string{"ephemeralSecret"}},
	"DirectMessage":      {parts: []flipPart{{field: "ciphertext", codec: base64.StdEncoding}}},
	"EnvSecret":          {parts: []flipPart{{field: "stored", codec: base64.StdEncoding}}},
	"FileKey": {parts: []flipPart{{field: "sealedKey", codec: base64.StdEncoding},
		{field: "ciphertext", codec: base64.StdEncoding, skip: func(i int) bool { return i >= 16 }}}}, // the MAC covers the body
	"CliBackup": {parts: []flipPart{{field: "file", codec: base64.StdEncoding, skip: func(i int) bool { return i >= 4 && i < 20 }}}, // salt: Argon2id each
		drop: []string{"long"}},
	"InviteV1": {drop: []string{"ownerSeed", "meshId", "meshSlug", "brokerUrl", "expiresAt", "rootKey", "role", "ownerPubkey", "signature"},
		fn: func(t map[string]any) []flipOut {
			payload, _ := base64.RawURLEncoding.DecodeString(t["token"].(string))
			return flipSignature(string(payload), func(p string) map[string]any { return map[string]any{"token": b6u([]byte(p))} })
		}},
	"InviteV2": {drop: []string{"ownerSeed", "meshId", "inviteId", "expiresAt", "role", "ownerPubkey"},
		fn: func(t map[string]any) []flipOut {
			return flipSignature(t["stored"].(string), func(s string) map[string]any { return map[string]any{"stored": s} })
		}},
	"CliSession": {drop: []string{"sub", "name"},
		fn: func(t map[string]any) []flipOut {
			tok := t["token"].(string)
			i := strings.LastIndexByte(tok, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
			var out []flipOut
			for j := range sig {
				sig[j] ^= 1
				ft := tok[:i+1] + b6u(sig)
				sig[j] ^= 1
				h := sha256.Sum256([]byte(ft))
				out = append(out, flipOut{fmt.Sprintf("signature byte %d", j), map[string]any{"token": ft, "tokenHash": hx(h[:])}})
			}
			return out
		}},
}

var signatureField = regexp.MustCompile(`"signature":"([0-9a-f]{128})"`)

// flipSignature flips each byte of the "signature" hex inside a JSON text.
func flipSignature(text string, wrap func(string) map[string]any) []flipOut {
	m := signatureField.FindStringSubmatchIndex(text)
	if m == nil {
		return nil
	}
	sig, _ := hex.DecodeString(text[m[2]:m[3]])
	var out []flipOut
	for j := range sig {
		sig[j] ^= 1
		out = append(out, flipOut{fmt.Sprintf("signature byte %d", j), wrap(text[:m[2]] + hx(sig) + text[m[3]:])})
		sig[j] ^= 1
	}
	return out
}

// addFlips appends the flips of every valid test, group by group.
func (b *builder) addFlips() {
	added := false
	for _, g := range b.groups {
		spec, ok := flipSpecs[g.typ]
		if !ok {
			continue
		}
		orig := g.tests
		for _, t := range orig {
			if t["result"] != Valid {
				continue
			}
			var outs []flipOut
			if spec.fn != nil {
				outs = spec.fn(t)
			}
			for _, p := range spec.parts {
				s, _ := t[p.field].(string)
				var raw []byte
				if p.codec == nil {
					raw, _ = hex.DecodeString(s)
				} else {
					raw, _ = p.codec.DecodeString(s)
				}
				for i := range raw {
					if p.skip != nil && p.skip(i) {
						continue
					}
					raw[i] ^= 1
					enc := hx(raw)
					if p.codec != nil {
						enc = p.codec.EncodeToString(raw)
					}
					raw[i] ^= 1
					outs = append(outs, flipOut{fmt.Sprintf("%s byte %d", p.field, i), map[string]any{p.field: enc}})
				}
			}
			for _, o := range outs {
				f := map[string]any{}
				for k, v := range t {
					switch k {
					case "tcId", "comment", "flags", "result":
						continue
					}
					f[k] = v
				}
				for _, d := range spec.drop {
					delete(f, d)
				}
				for k, v := range o.fields {
					f[k] = v
				}
				b.add(g, fmt.Sprintf("tcId %d with %s flipped", t["tcId"], o.label), Invalid, flags(byteFlipFlag), f)
				added = true
			}
		}
	}
	if added {
		b.notes[byteFlipFlag] = byteFlipNote
	}
}
