package vectors

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// reader reads a test's input fields; a field missing from the test is
// looked up in its group (Wycheproof's shared group parameters).
type reader struct {
	group, test map[string]json.RawMessage
}

type fieldError struct{ field, reason string }

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func (r *reader) raw(key string) (json.RawMessage, bool) {
	if v, ok := r.test[key]; ok {
		return v, true
	}
	v, ok := r.group[key]
	return v, ok
}

// nullableStr reads a string that may be JSON null (nil).
func (r *reader) nullableStr(key string) (*string, error) {
	v, ok := r.raw(key)
	if !ok {
		return nil, &fieldError{key, "missing (use null for none)"}
	}
	if string(v) == "null" {
		return nil, nil
	}
	s, err := r.str(key)
	return &s, err
}

func (r *reader) has(key string) bool { _, ok := r.raw(key); return ok }

func (r *reader) str(key string) (string, error) {
	v, ok := r.raw(key)
	if !ok {
		return "", &fieldError{key, "missing"}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", &fieldError{key, "not a string"}
	}
	return s, nil
}

// hexN reads a lowercase hex field; n < 0 accepts any length.
func (r *reader) hexN(key string, n int) ([]byte, error) {
	s, err := r.str(key)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, &fieldError{key, "bad hex"}
	}
	if n >= 0 && len(b) != n {
		return nil, &fieldError{key, fmt.Sprintf("want %d bytes of hex, got %d", n, len(b))}
	}
	return b, nil
}

func (r *reader) int(key string) (int64, error) {
	v, ok := r.raw(key)
	if !ok {
		return 0, &fieldError{key, "missing"}
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, &fieldError{key, "not a number"}
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, &fieldError{key, "not a 64-bit integer"}
	}
	return i, nil
}

func (r *reader) bool(key string) (bool, error) {
	v, ok := r.raw(key)
	if !ok {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, &fieldError{key, "not a boolean"}
	}
	return b, nil
}

// obj reads a nested object's string field (Wycheproof's publicKey.pk).
func (r *reader) nestedHex(obj, key string, n int) ([]byte, error) {
	v, ok := r.raw(obj)
	if !ok {
		return nil, &fieldError{obj + "." + key, "missing"}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, &fieldError{obj, "not an object"}
	}
	sub := &reader{test: m}
	b, err := sub.hexN(key, n)
	if fe, ok := err.(*fieldError); ok {
		fe.field = obj + "." + fe.field
	}
	return b, err
}
