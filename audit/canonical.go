package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
// jsonb itself refuses documents nested deeper than PostgreSQL's stack
// allows, which is far below this.
const maxDepth = 10000

// SyntaxError reports input that is not a JSON document.
type SyntaxError struct {
	Offset int    // byte offset in the input
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Canonical returns the canonical JSON (SPEC §3) of a JSON document as read
// back from jsonb: the bytes JavaScript's JSON.stringify gives after
// JSON.parse and a recursive sort of object keys by UTF-16 code units
// (RFC 8785, JCS). Numbers are read as IEEE 754 doubles, as JSON.parse does:
// -0 becomes 0, numbers beyond the double range become null, and a repeated
// object key keeps its last value.
func Canonical(payload []byte) ([]byte, error) {
	var c Canonicalizer
	return c.Append(nil, payload)
}

// Canonicalizer produces canonical JSON with reusable scratch space, so a
// verifier can canonicalise millions of payloads without allocating per
// row. The zero value is ready to use; it is not safe for concurrent use.
type Canonicalizer struct {
	members []member // stack of object members being sorted
	keys    []byte   // decoded (WTF-8) names, of the members on the stack, that hold escapes
	tmp     []byte   // scratch for reordering an object's members
	in      []byte
	pos     int
	depth   int
	// notText is the offset of the first \u0000 or lone surrogate escape
	// in the last document, or -1: JSON allows them, PostgreSQL's text
	// and jsonb do not.
	notText int
}

// member is one object member: its decoded name and its canonical
// `"name":value` bytes in the output. A name without escapes is its own
// decoded form and is read from the output (keyOff has inOut set);
// others are decoded into keys. 16 bytes, as a large object holds
// millions of members.
type member struct {
	keyOff, keyEnd uint32
	outOff, outEnd uint32
}

// inOut marks a member whose decoded name is in the output.
const inOut = 1 << 31

// errTooLarge reports a document whose canonical form exceeds what the
// member offsets can address (2 GiB; jsonb holds at most 255 MB).
const errTooLarge = "document too large to canonicalise"

// key returns m's decoded name; out is the output holding its bytes.
func (c *Canonicalizer) key(m member, out []byte) []byte {
	if m.keyOff&inOut != 0 {
		return out[m.keyOff&^inOut : m.keyEnd]
	}
	return c.keys[m.keyOff:m.keyEnd]
}

// Append appends the canonical form of the JSON document in src to dst.
// On error dst is returned unchanged in length.
func (c *Canonicalizer) Append(dst, src []byte) ([]byte, error) {
	c.in, c.pos, c.depth, c.notText = src, 0, 0, -1
	c.members = c.members[:0]
	c.keys = c.keys[:0]
	start := len(dst)
	c.skipSpace()
	out, err := c.value(dst)
	if err == nil {
		c.skipSpace()
		if c.pos != len(c.in) {
			err = c.errorf("unexpected data after the JSON value")
		}
	}
	c.in = nil
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func (c *Canonicalizer) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: c.pos, Msg: fmt.Sprintf(format, args...)}
}

func (c *Canonicalizer) skipSpace() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *Canonicalizer) value(dst []byte) ([]byte, error) {
	if c.pos >= len(c.in) {
		return dst, c.errorf("unexpected end of input")
	}
	switch ch := c.in[c.pos]; {
	case ch == '{':
		return c.object(dst)
	case ch == '[':
		return c.array(dst)
	case ch == '"':
		return c.str(dst, false)
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.number(dst)
	case ch == 't':
		return c.literal(dst, "true")
	case ch == 'f':
		return c.literal(dst, "false")
	case ch == 'n':
		return c.literal(dst, "null")
	default:
		return dst, c.errorf("unexpected character %q", ch)
	}
}

func (c *Canonicalizer) literal(dst []byte, lit string) ([]byte, error) {
	if len(c.in)-c.pos < len(lit) || string(c.in[c.pos:c.pos+len(lit)]) != lit {
		return dst, c.errorf("invalid literal")
	}
	c.pos += len(lit)
	return append(dst, lit...), nil
}

func (c *Canonicalizer) enter() error {
	c.depth++
	if c.depth > maxDepth {
		return c.errorf("nested deeper than %d levels", maxDepth)
	}
	return nil
}

func (c *Canonicalizer) array(dst []byte) ([]byte, error) {
	if err := c.enter(); err != nil {
		return dst, err
	}
	c.pos++ // [
	dst = append(dst, '[')
	c.skipSpace()
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		c.depth--
		return append(dst, ']'), nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			dst = append(dst, ',')
		}
		c.skipSpace()
		var err error
		if dst, err = c.value(dst); err != nil {
			return dst, err
		}
		c.skipSpace()
		if c.pos >= len(c.in) {
			return dst, c.errorf("unexpected end of input in array")
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
		case ']':
			c.pos++
			c.depth--
			return append(dst, ']'), nil
		default:
			return dst, c.errorf("expected ',' or ']' in array")
		}
	}
}

func (c *Canonicalizer) object(dst []byte) ([]byte, error) {
	if err := c.enter(); err != nil {
		return dst, err
	}
	c.pos++ // {
	dst = append(dst, '{')
	c.skipSpace()
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.depth--
		return append(dst, '}'), nil
	}
	base := len(c.members)
	keysBase := len(c.keys)
	body := len(dst)
	sorted := true
	for {
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return dst, c.errorf("expected a string as object key")
		}
		if len(dst) >= inOut-1 || len(c.keys) >= inOut {
			return dst, c.errorf("%s", errTooLarge)
		}
		m := member{keyOff: uint32(len(c.keys)), outOff: uint32(len(dst))}
		var err error
		if dst, err = c.str(dst, true); err != nil {
			return dst, err
		}
		if len(dst)-int(m.outOff)-2 == len(c.keys)-int(m.keyOff) {
			// No escapes: the output between the quotes is the name.
			c.keys = c.keys[:m.keyOff]
			m.keyOff, m.keyEnd = (m.outOff+1)|inOut, uint32(len(dst)-1)
		} else {
			m.keyEnd = uint32(len(c.keys))
		}
		c.skipSpace()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return dst, c.errorf("expected ':' after object key")
		}
		c.pos++
		dst = append(dst, ':')
		c.skipSpace()
		if dst, err = c.value(dst); err != nil {
			return dst, err
		}
		if len(dst) >= inOut {
			return dst, c.errorf("%s", errTooLarge)
		}
		m.outEnd = uint32(len(dst))
		if len(c.members) > base && sorted {
			prev := c.members[len(c.members)-1]
			if compareUTF16(c.key(prev, dst), c.key(m, dst)) >= 0 {
				sorted = false // out of order, or a repeated key
			}
		}
		c.members = append(c.members, m)
		c.skipSpace()
		if c.pos >= len(c.in) {
			return dst, c.errorf("unexpected end of input in object")
		}
		if c.in[c.pos] == ',' {
			c.pos++
			dst = append(dst, ',')
			continue
		}
		if c.in[c.pos] != '}' {
			return dst, c.errorf("expected ',' or '}' in object")
		}
		c.pos++
		break
	}
	if !sorted {
		dst = c.reorder(dst, base, body)
	}
	dst = append(dst, '}')
	c.members = c.members[:base]
	c.keys = c.keys[:keysBase]
	c.depth--
	return dst, nil
}

// sortMembers sorts the members from base in UTF-16 key order and empties
// (outEnd = outOff) all but the last of repeated keys (JSON.parse keeps
// the last). Distinct names never compare equal.
func (c *Canonicalizer) sortMembers(out []byte, base int) []member {
	ms := c.members[base:]
	slices.SortStableFunc(ms, func(a, b member) int {
		return compareUTF16(c.key(a, out), c.key(b, out))
	})
	for i := 0; i+1 < len(ms); i++ {
		if bytes.Equal(c.key(ms[i], out), c.key(ms[i+1], out)) {
			ms[i].outEnd = ms[i].outOff // a later member repeats this very key and wins
		}
	}
	return ms
}

// reorder rewrites the members written since body in UTF-16 key order,
// keeping only the last of repeated keys.
func (c *Canonicalizer) reorder(dst []byte, base, body int) []byte {
	ms := c.sortMembers(dst, base)
	c.tmp = append(c.tmp[:0], dst[body:]...)
	dst = dst[:body]
	first := true
	for _, m := range ms {
		if m.outEnd == m.outOff {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, c.tmp[int(m.outOff)-body:int(m.outEnd)-body]...)
	}
	return dst
}

// writeTo writes the canonical form of src to w, using scratch (returned,
// possibly grown) as working space. A top-level object is read twice
// rather than held in canonical form: the first pass validates it and
// notes each member's name and where it lies in src, the second writes
// the members to w in order, canonicalising one value at a time. A large
// object then costs 16 bytes a member (plus its escaped names) and its
// largest member's canonical form, not a copy of itself; an object nested
// inside it is still built and sorted in scratch.
func (c *Canonicalizer) writeTo(w io.Writer, scratch, src []byte) ([]byte, error) {
	c.in, c.pos, c.depth, c.notText = src, 0, 0, -1
	c.members = c.members[:0]
	c.keys = c.keys[:0]
	c.skipSpace()
	var err error
	if c.pos < len(src) && src[c.pos] == '{' {
		scratch, err = c.streamObject(w, scratch)
	} else {
		scratch, err = c.value(scratch[:0])
		if err == nil {
			w.Write(scratch)
		}
	}
	if err == nil {
		c.skipSpace()
		if c.pos != len(c.in) {
			err = c.errorf("unexpected data after the JSON value")
		}
	}
	c.in = nil
	return scratch, err
}

// streamObject is writeTo for a top-level object. Its members' offsets
// are into the input: outOff where the name starts, outEnd where the
// value ends; a name without escapes is read from the input.
func (c *Canonicalizer) streamObject(w io.Writer, scratch []byte) ([]byte, error) {
	in := c.in
	if len(in) >= inOut {
		return scratch, c.errorf("%s", errTooLarge)
	}
	// Sized once rather than grown: at most one member per ':', and a
	// member takes at least 5 bytes.
	if n := min(bytes.Count(in, []byte{':'}), len(in)/5) + 1; cap(c.members) < n {
		c.members = make([]member, 0, n)
	}
	c.depth = 1
	c.pos++ // {
	c.skipSpace()
	empty := c.pos < len(in) && in[c.pos] == '}'
	sorted := true
	for !empty {
		c.skipSpace()
		if c.pos >= len(in) || in[c.pos] != '"' {
			return scratch, c.errorf("expected a string as object key")
		}
		m := member{keyOff: uint32(len(c.keys)), outOff: uint32(c.pos)}
		var err error
		if scratch, err = c.str(scratch[:0], true); err != nil {
			return scratch, err
		}
		if c.pos-int(m.outOff)-2 == len(c.keys)-int(m.keyOff) {
			// No escapes: the input between the quotes is the name.
			c.keys = c.keys[:m.keyOff]
			m.keyOff, m.keyEnd = (m.outOff+1)|inOut, uint32(c.pos-1)
		} else {
			m.keyEnd = uint32(len(c.keys))
		}
		c.skipSpace()
		if c.pos >= len(in) || in[c.pos] != ':' {
			return scratch, c.errorf("expected ':' after object key")
		}
		c.pos++
		c.skipSpace()
		if scratch, err = c.value(scratch[:0]); err != nil {
			return scratch, err
		}
		m.outEnd = uint32(c.pos)
		if n := len(c.members); n > 0 && sorted && compareUTF16(c.key(c.members[n-1], in), c.key(m, in)) >= 0 {
			sorted = false
		}
		c.members = append(c.members, m)
		c.skipSpace()
		if c.pos >= len(in) {
			return scratch, c.errorf("unexpected end of input in object")
		}
		if in[c.pos] == ',' {
			c.pos++
			continue
		}
		if in[c.pos] != '}' {
			return scratch, c.errorf("expected ',' or '}' in object")
		}
		break
	}
	end := c.pos + 1
	ms := c.members
	if !sorted {
		ms = c.sortMembers(in, 0)
	}
	sep := byte('{')
	for _, m := range ms {
		if m.outEnd == m.outOff {
			continue // a repeated name
		}
		c.pos = int(m.outOff)
		out := append(scratch[:0], sep)
		sep = ','
		out, _ = c.str(out, false)
		c.skipSpace()
		c.pos++ // :
		c.skipSpace()
		out = append(out, ':')
		var err error
		if scratch, err = c.value(out); err != nil {
			return scratch, err // cannot happen: the first pass read it
		}
		w.Write(scratch)
	}
	if sep == '{' {
		w.Write([]byte{'{'})
	}
	w.Write([]byte{'}'})
	c.pos, c.depth = end, 0
	return scratch, nil
}

// compareUTF16 orders two WTF-8 strings by their UTF-16 code units, as
// JavaScript's default sort and RFC 8785 do. UTF-8 byte order equals code
// point order, which differs from UTF-16 order only between a supplementary
// character (a surrogate pair) and U+E000..U+FFFF; and two supplementary
// characters with the same lead surrogate are ordered by their trail
// surrogates, so the comparison walks code units until they differ.
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if a[i] < 0x80 && b[i] < 0x80 {
		return int(a[i]) - int(b[i])
	}
	// Back up to the start of the differing character: the bytes before it
	// are equal, so it starts at the same offset in both.
	for i > 0 && a[i]&0xC0 == 0x80 {
		i--
	}
	ua, ub := units{s: a[i:]}, units{s: b[i:]}
	for {
		x, okA := ua.next()
		y, okB := ub.next()
		switch {
		case !okA || !okB:
			return cmpBool(okA, okB)
		case x != y:
			return int(x) - int(y)
		}
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// units yields the UTF-16 code units of a WTF-8 string.
type units struct {
	s     []byte
	trail uint16 // pending trail surrogate of the last character; 0 = none
}

func (u *units) next() (uint16, bool) {
	if u.trail != 0 {
		t := u.trail
		u.trail = 0
		return t, true
	}
	if len(u.s) == 0 {
		return 0, false
	}
	r, size := decodeWTF8(u.s)
	u.s = u.s[size:]
	if r >= 0x10000 {
		lead, trail := utf16.EncodeRune(r)
		u.trail = uint16(trail)
		return uint16(lead), true
	}
	return uint16(r), true
}

// decodeWTF8 decodes one character, accepting encoded lone surrogates
// (which JSON.parse can produce from \ud800 escapes).
func decodeWTF8(b []byte) (rune, int) {
	if len(b) >= 3 && b[0] == 0xED && b[1] >= 0xA0 && b[1] <= 0xBF && b[2]&0xC0 == 0x80 {
		return rune(b[0]&0x0F)<<12 | rune(b[1]&0x3F)<<6 | rune(b[2]&0x3F), 3
	}
	return utf8.DecodeRune(b)
}

const hexDigits = "0123456789abcdef"

// str transcodes one JSON string to its JSON.stringify form. With key set,
// it also appends the decoded WTF-8 value to c.keys for sorting.
func (c *Canonicalizer) str(dst []byte, key bool) ([]byte, error) {
	c.pos++ // opening quote
	dst = append(dst, '"')
	in := c.in
	for {
		// Copy the run of bytes that need no escaping.
		start := c.pos
		for c.pos < len(in) {
			b := in[c.pos]
			if b == '"' || b == '\\' || b < 0x20 {
				break
			}
			if b < 0x80 {
				c.pos++
				continue
			}
			r, size := utf8.DecodeRune(in[c.pos:])
			if r == utf8.RuneError && size == 1 {
				return dst, c.errorf("invalid UTF-8 in string")
			}
			c.pos += size
		}
		dst = append(dst, in[start:c.pos]...)
		if key {
			c.keys = append(c.keys, in[start:c.pos]...)
		}
		if c.pos >= len(in) {
			return dst, c.errorf("unterminated string")
		}
		b := in[c.pos]
		switch {
		case b == '"':
			c.pos++
			return append(dst, '"'), nil
		case b < 0x20:
			return dst, c.errorf("unescaped control character in string")
		}
		// An escape sequence.
		if c.pos+1 >= len(in) {
			return dst, c.errorf("unterminated escape")
		}
		e := in[c.pos+1]
		c.pos += 2
		var r rune
		switch e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			var ok bool
			if r, ok = c.hex4(); !ok {
				return dst, c.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) && r < 0xDC00 && c.pos+6 <= len(in) && in[c.pos] == '\\' && in[c.pos+1] == 'u' {
				save := c.pos
				c.pos += 2
				if lo, ok := c.hex4(); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					r = utf16.DecodeRune(r, lo)
				} else {
					c.pos = save // a lone high surrogate; the next escape stands alone
				}
			}
		default:
			return dst, c.errorf("invalid escape \\%c", e)
		}
		if (r == 0 || utf16.IsSurrogate(r)) && c.notText < 0 {
			c.notText = c.pos
		}
		dst = appendEscaped(dst, r)
		if key {
			c.keys = appendWTF8(c.keys, r)
		}
	}
}

func (c *Canonicalizer) hex4() (rune, bool) {
	if c.pos+4 > len(c.in) {
		return 0, false
	}
	var r rune
	for _, h := range c.in[c.pos : c.pos+4] {
		switch {
		case h >= '0' && h <= '9':
			r = r<<4 | rune(h-'0')
		case h >= 'a' && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	c.pos += 4
	return r, true
}

// The characters JSON.stringify writes as two-character escapes, and the
// letter it writes after the backslash.
const (
	shortEscFrom = "\"\\\b\f\n\r\t"
	shortEscTo   = "\"\\bfnrt"
)

// appendEscaped appends r as JSON.stringify writes it.
func appendEscaped(dst []byte, r rune) []byte {
	if r < 0x80 {
		if i := strings.IndexByte(shortEscFrom, byte(r)); i >= 0 {
			return append(dst, '\\', shortEscTo[i])
		}
	}
	if r < 0x20 || utf16.IsSurrogate(r) {
		// Control characters, and lone surrogates (well-formed JSON.stringify).
		return append(dst, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}

// appendWTF8 is utf8.AppendRune that keeps lone surrogates distinct.
func appendWTF8(dst []byte, r rune) []byte {
	if utf16.IsSurrogate(r) {
		return append(dst, 0xED, byte(0xA0|(r>>6)&0x1F), byte(0x80|r&0x3F))
	}
	return utf8.AppendRune(dst, r)
}

// number validates one JSON number and appends it as ECMAScript
// Number::toString formats the double JSON.parse would give.
func (c *Canonicalizer) number(dst []byte) ([]byte, error) {
	in := c.in
	start := c.pos
	p := c.pos
	if in[p] == '-' {
		p++
	}
	intStart := p
	switch {
	case p < len(in) && in[p] == '0':
		p++
	case p < len(in) && in[p] >= '1' && in[p] <= '9':
		p = skipDigits(in, p)
	default:
		c.pos = p
		return dst, c.errorf("invalid number")
	}
	simple := true
	if p < len(in) && in[p] == '.' {
		simple = false
		d := skipDigits(in, p+1)
		if d == p+1 {
			c.pos = d
			return dst, c.errorf("invalid number: no digits after '.'")
		}
		p = d
	}
	if p < len(in) && (in[p] == 'e' || in[p] == 'E') {
		simple = false
		p++
		if p < len(in) && (in[p] == '+' || in[p] == '-') {
			p++
		}
		d := skipDigits(in, p)
		if d == p {
			c.pos = d
			return dst, c.errorf("invalid number: no digits in exponent")
		}
		p = d
	}
	c.pos = p
	num := in[start:p]
	// Integers of up to 15 digits are exact doubles and print as written.
	if simple && p-intStart <= 15 {
		if len(num) == 2 && num[0] == '-' && num[1] == '0' {
			return append(dst, '0'), nil
		}
		return append(dst, num...), nil
	}
	// The string is not retained: ParseFloat only reads it.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return dst, c.errorf("invalid number")
	}
	return AppendNumber(dst, f), nil
}

func skipDigits(in []byte, p int) int {
	for p < len(in) && in[p] >= '0' && in[p] <= '9' {
		p++
	}
	return p
}

// AppendNumber appends f as ECMAScript Number::toString and JSON.stringify
// write it: shortest round-trip digits, exponent form below 1e-6 and from
// 1e21, -0 as 0, and null for the non-finite values JSON cannot hold.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// Go writes at least two exponent digits (1e-07); JavaScript one.
	n := len(dst)
	if dst[n-4] == 'e' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst
}
