package meshfmt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// CLI session token (SPEC §4): an HS256 JWT signed with the broker's
// CLI_SYNC_SECRET (its UTF-8 bytes), header {"alg":"HS256","typ":"JWT"},
// payload {sub,email,name,type:"cli-session",jti,iat,exp = iat + 30 days},
// segments base64url without padding. The database stores only
// cli_session.token_hash = sha256 hex of the whole token string.
//
// Upstream builds the segments with btoa(JSON.stringify(…)), so the payload
// bytes are the string's Latin-1 code units, not UTF-8 (a name with a
// character above U+00FF cannot be signed at all): SignCLISession and
// VerifyCLISession use the same Latin-1 bytes. Upstream authenticates a
// bearer token by its hash alone and never checks the signature or exp;
// VerifyCLISession checks the signature and shape and returns the claims,
// leaving exp to the caller.

// CLISessionTTL is exp - iat.
const CLISessionTTL = 30 * 24 * time.Hour

// cliSessionHeader is base64url of {"alg":"HS256","typ":"JWT"}: the only
// header accepted (no alg "none", no other key order).
const cliSessionHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// CLISessionClaims is the payload of a CLI session token.
type CLISessionClaims struct {
	Sub, Email, Name, JTI string
	IssuedAt, ExpiresAt   int64 // Unix seconds
}

// CLISessionTokenHash is the stored cli_session.token_hash.
func CLISessionTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func latin1(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

// SignCLISession returns the token for c (ExpiresAt is set to IssuedAt +
// 30 days).
func SignCLISession(c CLISessionClaims, secret string) (string, error) {
	c.ExpiresAt = c.IssuedAt + int64(CLISessionTTL/time.Second)
	js := `{"sub":` + jsString(c.Sub) + `,"email":` + jsString(c.Email) + `,"name":` + jsString(c.Name) +
		`,"type":"cli-session","jti":` + jsString(c.JTI) + `,"iat":` + strconv.FormatInt(c.IssuedAt, 10) +
		`,"exp":` + strconv.FormatInt(c.ExpiresAt, 10) + `}`
	payload, ok := latin1(js)
	if !ok {
		return "", formatErr("cli session", "a claim has a character above U+00FF (upstream's btoa cannot encode it)")
	}
	signing := cliSessionHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signing + "." + base64.RawURLEncoding.EncodeToString(hs256([]byte(secret), signing)), nil
}

func hs256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// VerifyCLISession checks a token's header, HS256 signature (ErrSignature)
// and payload shape (strict, as token payloads are read everywhere here)
// and returns its claims.
func VerifyCLISession(token, secret string) (CLISessionClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return CLISessionClaims{}, formatErr("cli session", "want three '.'-separated segments")
	}
	if parts[0] != cliSessionHeader {
		return CLISessionClaims{}, formatErr("cli session", `the header is not {"alg":"HS256","typ":"JWT"}`)
	}
	payload, err := decodeB64(base64.RawURLEncoding, parts[1])
	if err != nil {
		return CLISessionClaims{}, formatErr("cli session", "payload is not base64url without padding")
	}
	sig, err := decodeB64(base64.RawURLEncoding, parts[2])
	if err != nil || len(sig) != sha256.Size {
		return CLISessionClaims{}, formatErr("cli session", "signature is not base64url of 32 bytes")
	}
	if !hmac.Equal(sig, hs256([]byte(secret), parts[0]+"."+parts[1])) {
		return CLISessionClaims{}, ErrSignature
	}
	runes := make([]rune, len(payload)) // Latin-1, as atob reads it
	for i, b := range payload {
		runes[i] = rune(b)
	}
	obj, err := flatObject([]byte(string(runes)), "sub", "email", "name", "type", "jti", "iat", "exp")
	if err != nil {
		return CLISessionClaims{}, formatErr("cli session", "%v", err)
	}
	var c CLISessionClaims
	for _, f := range []struct {
		key string
		dst *string
	}{{"sub", &c.Sub}, {"email", &c.Email}, {"name", &c.Name}, {"jti", &c.JTI}} {
		v, ok := obj[f.key]
		if !ok && (f.key == "email" || f.key == "name") {
			continue // JSON.stringify leaves out an undefined email or name
		}
		if !ok || !v.isStr {
			return CLISessionClaims{}, formatErr("cli session", "%s must be a JSON string", f.key)
		}
		*f.dst = v.str
	}
	if t, err := stringField(obj, "type", "cli session"); err != nil || t != "cli-session" {
		return CLISessionClaims{}, formatErr("cli session", `type is not "cli-session"`)
	}
	if c.IssuedAt, err = intField(obj, "iat", "cli session"); err != nil {
		return CLISessionClaims{}, err
	}
	if c.ExpiresAt, err = intField(obj, "exp", "cli session"); err != nil {
		return CLISessionClaims{}, err
	}
	if c.ExpiresAt-c.IssuedAt != int64(CLISessionTTL/time.Second) {
		return CLISessionClaims{}, formatErr("cli session", "exp is not iat + 30 days")
	}
	for _, k := range []string{"sub", "jti"} {
		if obj[k].str == "" {
			return CLISessionClaims{}, formatErr("cli session", "%s is empty", k)
		}
	}
	return c, nil
}
