package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// apiError is the body of every error response.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal","message":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, apiError{Error: errCode, Message: msg})
}

// Body limits for requests other than messages.
const maxBodyBytes = 64 << 10

// decode reads a JSON request body strictly: at most limit bytes, valid
// UTF-8, one JSON object, names matched case-sensitively, no duplicate and
// no unknown members. On failure it writes the error and returns false.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		writeErr(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeErr(w, http.StatusRequestEntityTooLarge, "too_large", "request body is larger than the limit")
		return false
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, "malformed_json", "cannot read the request body")
		return false
	}
	if !utf8.Valid(body) {
		writeErr(w, http.StatusBadRequest, "invalid_utf8", "request body is not valid UTF-8")
		return false
	}
	err = json.Unmarshal(body, v, json.RejectUnknownMembers(true))
	if err == nil {
		return true
	}
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &se) && errors.Is(se.Err, json.ErrUnknownName):
		writeErr(w, http.StatusBadRequest, "unknown_field", "unknown field "+string(se.JSONPointer))
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		writeErr(w, http.StatusBadRequest, "malformed_json", "duplicate field "+string(syn.JSONPointer))
	case errors.As(err, &se):
		writeErr(w, http.StatusBadRequest, "invalid_field", "wrong type for field "+string(se.JSONPointer))
	default:
		writeErr(w, http.StatusBadRequest, "malformed_json", "request body is not one JSON object")
	}
	return false
}

// newID returns a fresh 32-character opaque id.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// cleanText checks a short human-readable field: 1..max runes, no control
// characters.
func cleanText(s string, max int) bool {
	if s == "" || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// isLowerHex reports whether s is exactly n lowercase hex characters.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
