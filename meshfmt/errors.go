package meshfmt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every failure returned by this package wraps one of them,
// so callers branch with errors.Is and never on message text. Messages never
// contain key material.
var (
	// ErrEncoding: an input is not in the stored format (bad base64 or hex,
	// wrong length, not UTF-8, wrong JSON shape).
	ErrEncoding = errors.New("malformed encoding")
	// ErrLowOrderKey: an x25519 or ed25519 public key is of small order (or
	// not a usable point) and is refused, as libsodium refuses it.
	ErrLowOrderKey = errors.New("public key refused (small order or not on the curve)")
	// ErrOpen: a box, sealed box or secretbox failed authentication.
	ErrOpen = errors.New("authentication failed")
	// ErrSignature: an ed25519 signature did not verify under the strict rules.
	ErrSignature = errors.New("signature does not verify")
	// ErrExpired: a timestamp is outside the accepted window.
	ErrExpired = errors.New("timestamp outside the accepted window")
)

// FormatError names the field that is malformed. It wraps ErrEncoding.
type FormatError struct {
	Field  string // e.g. "blob", "nonce", "signature"
	Reason string // what is wrong; never the value itself
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: %s: %s", ErrEncoding, e.Field, e.Reason)
}

func (e *FormatError) Unwrap() error { return ErrEncoding }

func formatErr(field, format string, args ...any) error {
	return &FormatError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// decodeB64 decodes canonical base64 only: encoding/base64 silently skips
// '\r' and '\n', which libsodium's sodium_base642bin (no ignore set) and a
// strict reader refuse; two spellings of one value must not both pass.
func decodeB64(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line breaks in base64")
	}
	return enc.Strict().DecodeString(s)
}
