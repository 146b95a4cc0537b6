package vectors

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// cctvNotes are the notes of the converted C2SP CCTV ed25519 file: the
// flags' meanings (from CCTV's README) and meshctl's policy for each.
// Default mode is Go's crypto/ed25519 (ref10 rules, cofactorless, no
// small-order checks); strict mode is libsodium 1.0.20's
// crypto_sign_verify_detached, which the broker uses.
var cctvNotes = map[string]Note{
	"low_order_A": {BugType: "EDGE_CASE", Description: "A is one of the small-order points (or an alternative encoding of one).",
		Policy: &Policy{Default: Valid, Strict: Invalid, Reason: "libsodium refuses small-order public keys (block list, sign bit ignored); crypto/ed25519 does not check"}},
	"low_order_R": {BugType: "EDGE_CASE", Description: "R is one of the small-order points (or an alternative encoding of one).",
		Policy: &Policy{Default: Valid, Strict: Invalid, Reason: "libsodium refuses a small-order R (same block list); crypto/ed25519 does not check"}},
	"non_canonical_A": {BugType: "SIGNATURE_MALLEABILITY", Description: "A is a non-canonical encoding (y >= p or x = -0) of a low-order point.",
		Policy: &Policy{Default: Valid, Strict: Invalid, Reason: "libsodium refuses non-canonical and blocked A; crypto/ed25519 reduces y and accepts"}},
	"non_canonical_R": {BugType: "SIGNATURE_MALLEABILITY", Description: "R is a non-canonical encoding of a low-order point.",
		Policy: &Policy{Default: Invalid, Reason: "both compare the canonical encoding of the recomputed R with the bytes of R, so a non-canonical R never matches"}},
	"low_order_component_A": {BugType: "EDGE_CASE", Description: "A has a low-order component (maybe also a prime-order one); not blockable by a list unless also low_order_A.",
		Policy: &Policy{Default: Valid, Reason: "neither libsodium 1.0.20 nor crypto/ed25519 checks the subgroup of A; the other flags decide"}},
	"low_order_component_R": {BugType: "EDGE_CASE", Description: "R has a low-order component.",
		Policy: &Policy{Default: Valid, Reason: "neither checks the subgroup of R; the other flags decide"}},
	"low_order_residue": {BugType: "EDGE_CASE", Description: "The low-order components of R and [k]A do not cancel: only cofactored verification accepts.",
		Policy: &Policy{Default: Invalid, Reason: "both verify the cofactorless equation [S]B = R + [k]A, which fails"}},
	"reencoded_k": {BugType: "EDGE_CASE", Description: "k was computed over the canonical re-encoding of a non-canonical A or R.",
		Policy: &Policy{Default: Either, Strict: Invalid, Reason: "both hash the bytes as given, so k differs; with a low-order A only k mod the order of A matters, so crypto/ed25519 accepts some of these by chance; libsodium refuses them all (the non-canonical point is blocked)"}},
}

type cctvVector struct {
	Number int      `json:"number"`
	Key    string   `json:"key"`
	Sig    string   `json:"sig"`
	Msg    string   `json:"msg"`
	Flags  []string `json:"flags"`
}

// ConvertCCTV turns C2SP CCTV's ed25519vectors.json (a JSON array) into a
// Wycheproof-style file: tcId = number + 1, msg hex-encoded, result
// acceptable (decided by the flag policies) or valid when unflagged. The
// output is deterministic; the embedded cctv_ed25519_test.json is exactly
// ConvertCCTV of the vendored file (TestCCTVConversion).
func ConvertCCTV(raw []byte) ([]byte, error) {
	var in []cctvVector
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("cctv: %v", err)
	}
	tests := make([]map[string]any, 0, len(in))
	for _, v := range in {
		res := Valid
		if len(v.Flags) > 0 {
			res = Acceptable
		}
		flags := v.Flags
		if flags == nil {
			flags = []string{}
		}
		for _, f := range flags {
			if _, ok := cctvNotes[f]; !ok {
				return nil, fmt.Errorf("cctv: vector %d: unknown flag %q", v.Number, f)
			}
		}
		tests = append(tests, map[string]any{"tcId": v.Number + 1, "comment": fmt.Sprintf("CCTV vector %d", v.Number),
			"flags": flags, "publicKey": v.Key, "msg": hex.EncodeToString([]byte(v.Msg)), "sig": v.Sig, "result": res})
	}
	f := map[string]any{
		"algorithm":     "EDDSA",
		"schema":        "meshctl_ed25519_verify_v1",
		"numberOfTests": len(tests),
		"header": []string{
			"C2SP CCTV ed25519 edge-case vectors (github.com/C2SP/CCTV, ed25519/ed25519vectors.json,",
			"commit 1e3d2860d46e94e777e1b17c7a6f2436387e3ecc), converted by vectors.ConvertCCTV. Each acceptable",
			"vector is decided by its flags' policies: default = Go crypto/ed25519, --strict = libsodium 1.0.20.",
			"A policy verdict \"either\" (reencoded_k by default) pins nothing: both outcomes pass in that mode, so such a vector",
			"cannot fail there (its outcome is still reported); it can fail only in a mode whose verdict is valid or invalid",
			"(--strict: invalid, libsodium's verdict). Invalid wins over either, either over valid, when a vector has several flags.",
		},
		"notes":      cctvNotes,
		"testGroups": []any{map[string]any{"type": "Ed25519Verify", "tests": tests}},
	}
	return marshalFile(f)
}

// marshalFile is the one JSON spelling of every file meshctl writes:
// two-space indent, sorted keys, no HTML escaping, trailing newline.
func marshalFile(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
