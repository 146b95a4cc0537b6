package meshfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"unicode/utf8"
)

// Token payloads are read as upstream reads them (JavaScript's JSON.parse),
// but strictly: any text the broker could read differently from a Go
// decoder is refused, never guessed at. encoding/json alone is not enough:
// it matches keys case-insensitively ("ROLE" fills Role), lets a repeated
// key overwrite the first, and with UseNumber or ",string" blurs numbers
// and strings — each a parser differential (a token one side reads as
// member and the other as admin).
//
// flatObject therefore reads one JSON object whose values are strings or
// numbers only, and refuses: text that is not UTF-8, a key that is not in
// the expected set (exact case, after JSON unescaping, as JSON.parse
// compares them: "\u0072ole" is "role"), a key given twice, a value of
// another JSON type than the key needs, nested values, and anything after
// the object.

// jsonValue is one top-level value of a flat object: a string or the exact
// text of a number.
type jsonValue struct {
	str    string
	num    string // the number's text as written, when isNum
	isNum  bool
	isStr  bool
	isNull bool
}

// canonicalInt is the spelling JSON.stringify gives a safe integer: no sign
// (for the non-negative fields we read), no leading zeros, no fraction, no
// exponent.
var canonicalInt = regexp.MustCompile(`^(0|[1-9][0-9]{0,15})$`)

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER (2^53 - 1): larger
// integers are not read exactly by JSON.parse.
const maxSafeInteger = 1<<53 - 1

var errNotFlat = errors.New("not one flat JSON object")

// flatObject reads raw as one JSON object with keys from allowed. It
// returns the values by key; which keys are required is the caller's call.
func flatObject(raw []byte, allowed ...string) (map[string]jsonValue, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("payload is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errNotFlat
	}
	ok := map[string]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	out := map[string]jsonValue{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, errNotFlat
		}
		key, isKey := kt.(string)
		if !isKey {
			return nil, errNotFlat
		}
		if !ok[key] {
			return nil, errors.New("unexpected key (keys are case-sensitive; extra keys are refused)")
		}
		if _, dup := out[key]; dup {
			return nil, errors.New("a key is repeated")
		}
		vt, err := dec.Token()
		if err != nil {
			return nil, errNotFlat
		}
		switch v := vt.(type) {
		case string:
			out[key] = jsonValue{str: v, isStr: true}
		case json.Number:
			out[key] = jsonValue{num: v.String(), isNum: true}
		case nil:
			out[key] = jsonValue{isNull: true}
		default: // bool, nested object or array
			return nil, errors.New("a value is not a string or a number")
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errNotFlat
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// stringField returns a required, non-empty string value.
func stringField(obj map[string]jsonValue, key, field string) (string, error) {
	v, ok := obj[key]
	if !ok {
		return "", formatErr(field, "%s required", key)
	}
	if !v.isStr {
		return "", formatErr(field, "%s must be a JSON string", key)
	}
	if v.str == "" {
		return "", formatErr(field, "%s is empty", key)
	}
	return v.str, nil
}

// intField returns a required non-negative integer written as a JSON number
// in its canonical spelling, within JavaScript's safe integer range.
func intField(obj map[string]jsonValue, key, field string) (int64, error) {
	v, ok := obj[key]
	if !ok {
		return 0, formatErr(field, "%s required", key)
	}
	if !v.isNum {
		return 0, formatErr(field, "%s must be a JSON number (not a string)", key)
	}
	if !canonicalInt.MatchString(v.num) {
		return 0, formatErr(field, "%s must be a non-negative integer without fraction, exponent or leading zeros", key)
	}
	var n int64
	for _, c := range v.num {
		n = n*10 + int64(c-'0')
	}
	if n > maxSafeInteger {
		return 0, formatErr(field, "%s is above 2^53-1", key)
	}
	return n, nil
}
