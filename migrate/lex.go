package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TokenKind classifies a significant token of a migration file.
type lexKind int

const (
	tokWord   lexKind = iota // unquoted identifier or keyword
	tokQIdent                // "quoted identifier"
	tokString                // '...', E'...', U&'...', $tag$...$tag$
	tokNumber                // numeric literal
	tokPunct                 // operator (as PostgreSQL's scanner cuts it: <=, ::, ->>) or punctuation
	tokSemi                  // the ';' that ends a statement
)

// Token is a significant piece of SQL: comments and whitespace are not
// tokens. Off is the byte offset in the file.
type lexToken struct {
	Kind lexKind
	Text string
	Off  int
}

// Upper returns the token's text upper-cased when it is a plain word, so
// keywords compare without regard to case.
func (t lexToken) Upper() string {
	if t.Kind == tokWord {
		return upperASCII(t.Text)
	}
	return t.Text
}

// Statement is one top-level SQL statement of a file, exactly as written:
// Text runs from the end of the previous statement (so it carries the
// leading comments and whitespace) through its terminating ';'. Joining the
// Text of every statement of a file gives back the file byte for byte.
type Statement struct {
	Text   string
	Offset int        // byte offset of Text in the file
	tokens []lexToken // significant tokens; Off is relative to the file
	Line   int        // 1-based line of the first token (of Text when empty)
	Col    int        // 1-based column, in characters
}

// Empty reports whether the statement holds only comments and whitespace
// (or a lone ';'), so sending it to the server would do nothing.
func (s Statement) Empty() bool {
	for _, t := range s.tokens {
		if t.Kind != tokSemi {
			return false
		}
	}
	return true
}

// Words returns the first n significant tokens upper-cased, for matching
// statement shapes such as CREATE INDEX CONCURRENTLY.
func (s Statement) Words(n int) []string {
	var w []string
	for _, t := range s.tokens {
		if len(w) == n {
			break
		}
		w = append(w, t.Upper())
	}
	return w
}

// SyntaxError is a lexical error that makes a file impossible to split
// safely: a quote, quoted identifier, dollar quote or block comment that
// never ends.
type SyntaxError struct {
	Line, Col int
	What      string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.What)
}

// Split cuts src into top-level statements with a lexer that knows
// PostgreSQL's quoting: standard and E'...' strings, quoted identifiers,
// dollar quotes, nested block comments, line comments, parentheses (CREATE
// RULE ... DO ALSO (INSERT ...; INSERT ...) is one statement) and BEGIN
// ATOMIC bodies of SQL-standard functions. Strings are read as with
// standard_conforming_strings on. It never loses a byte: the statements'
// Text joined equal src even when it also returns a *SyntaxError.
func splitStatements(src string) ([]Statement, *SyntaxError) {
	return split(src, false, false)
}

// split is Split starting with standard_conforming_strings off when scsOff.
// With track, a SET or RESET of standard_conforming_strings changes how the
// statements after it are read, as happens when they are sent to the server
// one by one; a multi-statement query string is parsed whole in the mode it
// started with, so a file sent in one piece is read without track.
func split(src string, scsOff, track bool) ([]Statement, *SyntaxError) {
	lx := lexer{src: src, scsOff: scsOff}
	var (
		stmts []Statement
		// The tokens go into large chunks (a token for every 4 to 8 bytes
		// of SQL is usual); each statement's tokens is a window of one. A
		// slice per statement, grown token by token, cost more than the
		// lexing, and one array grown by copying kept every old copy alive.
		chunk  = len(src)/16 + 64
		all    = make([]lexToken, 0, 2*chunk)
		first  int // index in all of the current statement's first token
		start  int
		depth  int // BEGIN ... END nesting inside CREATE FUNCTION/PROCEDURE
		parens int // ( nesting: a ';' inside parentheses ends nothing
		synErr *SyntaxError
		pos    = lineCursor{src: src, line: 1, col: 1}
	)
	flush := func(end int) {
		cur := all[first:len(all):len(all)]
		if len(cur) == 0 {
			cur = nil
		}
		s := Statement{Text: src[start:end], Offset: start, tokens: cur}
		at := start
		if len(cur) > 0 {
			at = cur[0].Off
		}
		s.Line, s.Col = pos.at(at)
		stmts = append(stmts, s)
		if track {
			if off, ok := scsSetting(cur); ok {
				lx.scsOff = off
			}
		}
		first, start, depth, parens = len(all), end, 0, 0
	}
	for {
		tok, ok, err := lx.next()
		if err != nil {
			synErr = err
			break
		}
		if !ok {
			break
		}
		if len(all) == cap(all) {
			// A new chunk, carrying the current statement's tokens over.
			next := make([]lexToken, 0, max(chunk, 2*(len(all)-first)+64))
			all, first = append(next, all[first:]...), 0
		}
		all = append(all, tok)
		switch {
		case tok.Kind == tokPunct && tok.Text == "(":
			parens++
		case tok.Kind == tokPunct && tok.Text == ")":
			if parens > 0 {
				parens--
			}
		case tok.Kind == tokWord && isRoutine(all[first:]) && !isLabel(all[first:]):
			switch upperASCII(tok.Text) {
			case "ATOMIC":
				// Only BEGIN ATOMIC opens a body; a bare BEGIN may be a
				// parameter or column name.
				if len(all)-first > 1 && all[len(all)-2].Kind == tokWord && strings.EqualFold(all[len(all)-2].Text, "BEGIN") {
					depth++
				}
			case "CASE":
				if depth > 0 {
					depth++
				}
			case "END":
				if depth > 0 {
					depth--
				}
			}
		}
		if tok.Kind == tokSemi && depth == 0 && parens == 0 {
			flush(tok.Off + 1)
		}
	}
	if synErr != nil {
		// Keep the rest of the file as one statement so no byte is lost.
		all = append(all, lx.rest...)
		flush(len(src))
		return stmts, synErr
	}
	if start < len(src) || len(stmts) == 0 {
		flush(len(src))
	}
	return stmts, nil
}

// lineCursor turns increasing byte offsets into line and column in time
// linear in the size of the file (LineCol from the start each time made
// a file of many statements quadratic).
type lineCursor struct {
	src       string
	off       int
	line, col int
}

func (c *lineCursor) at(off int) (line, col int) {
	if off < c.off {
		c.off, c.line, c.col = 0, 1, 1
	}
	seg := c.src[c.off:off]
	if nl := strings.Count(seg, "\n"); nl > 0 {
		c.line += nl
		seg = seg[strings.LastIndexByte(seg, '\n')+1:]
		c.col = 1
	}
	c.col += utf8.RuneCountInString(seg)
	c.off = off
	return c.line, c.col
}

// scsSetting reports the standard_conforming_strings value a SET or RESET
// statement, or a set_config('standard_conforming_strings', 'v', false)
// call, gives the session (off = true for off). SET LOCAL lasts only to
// the end of a transaction and is not followed.
func scsSetting(toks []lexToken) (off, ok bool) {
	for i := 0; i+7 < len(toks); i++ {
		if toks[i].Kind == tokWord && strings.EqualFold(toks[i].Text, "set_config") && toks[i+1].Text == "(" &&
			strings.EqualFold(toks[i+2].Text, "'standard_conforming_strings'") && toks[i+3].Text == "," &&
			toks[i+4].Kind == tokString && toks[i+5].Text == "," && toks[i+7].Text == ")" {
			if local, valid := parseBool(strings.Trim(toks[i+6].Text, "'")); !valid || local {
				return false, false
			}
			if b, valid := parseBool(strings.Trim(toks[i+4].Text, "'")); valid {
				return !b, true
			}
		}
	}
	w := func(i int) string {
		if i < len(toks) && toks[i].Kind != tokSemi {
			return upperASCII(toks[i].Text)
		}
		return ""
	}
	switch w(0) {
	case "RESET":
		if w(1) == "ALL" || w(1) == "STANDARD_CONFORMING_STRINGS" {
			return false, true
		}
	case "SET":
		i := 1
		if w(i) == "SESSION" {
			i++
		}
		if w(i) != "STANDARD_CONFORMING_STRINGS" || (w(i+1) != "TO" && w(i+1) != "=") {
			return false, false
		}
		v := toks[i+2:]
		if len(v) == 0 || v[0].Kind == tokSemi {
			return false, false
		}
		val := v[0].Text
		if v[0].Kind == tokString || v[0].Kind == tokQIdent {
			val = strings.Trim(val, `'"`)
		}
		if strings.EqualFold(val, "DEFAULT") && v[0].Kind == tokWord {
			return false, true
		}
		if b, valid := parseBool(val); valid {
			return !b, true
		}
	}
	return false, false
}

// parseBool reads a boolean setting as PostgreSQL's parse_bool does
// (unambiguous prefixes of true, false, yes, no; on, off; 1, 0).
func parseBool(v string) (value, ok bool) {
	v = strings.ToLower(v)
	prefix := func(word string, min int) bool { return len(v) >= min && strings.HasPrefix(word, v) }
	switch {
	case prefix("true", 1), prefix("yes", 1), v == "on", v == "1":
		return true, true
	case prefix("false", 1), prefix("no", 1), prefix("off", 2), v == "0":
		return false, true
	}
	return false, false
}

// isRoutine reports whether the statement so far is CREATE [OR REPLACE]
// FUNCTION or PROCEDURE, the only place BEGIN ... END may enclose ';'.
func isRoutine(toks []lexToken) bool {
	i := 0
	word := func(w string) bool {
		if i < len(toks) && toks[i].Kind == tokWord && strings.EqualFold(toks[i].Text, w) {
			i++
			return true
		}
		return false
	}
	if !word("CREATE") {
		return false
	}
	if word("OR") && !word("REPLACE") {
		return false
	}
	return word("FUNCTION") || word("PROCEDURE")
}

// isLabel reports whether the last of toks stands where PostgreSQL reads
// any word, reserved or not, as a name: after a '.' (attr_name: b.end,
// r.case) or after AS (ColLabel: AS end). There END and CASE are a column
// or an alias, not the end of a BEGIN ATOMIC body or a CASE expression.
// The AS of r.as is itself such a name and does not count.
func isLabel(toks []lexToken) bool {
	n := len(toks)
	if n < 2 {
		return false
	}
	prev := toks[n-2]
	if prev.Kind == tokPunct && prev.Text == "." {
		return true
	}
	return prev.Kind == tokWord && strings.EqualFold(prev.Text, "AS") &&
		!(n > 2 && toks[n-3].Kind == tokPunct && toks[n-3].Text == ".")
}

// LineCol converts a byte offset in src to a 1-based line and a 1-based
// column counted in characters.
func lineCol(src string, off int) (line, col int) {
	if off > len(src) {
		off = len(src)
	}
	line = 1 + strings.Count(src[:off], "\n")
	lineStart := strings.LastIndexByte(src[:off], '\n') + 1
	return line, 1 + utf8.RuneCountInString(src[lineStart:off])
}

type lexer struct {
	src    string
	pos    int
	scsOff bool       // standard_conforming_strings off: \ escapes in plain strings
	rest   []lexToken // tokens of an unterminated construct, for Split's error path

	// The last token, when it was a '...' string of any kind: where it
	// ended and whether backslash escapes held in it. A '...' after it
	// across a newline continues it in the same mode (scan.l's xqs state
	// returns to xe, xq, xus, xb or xh): E'a'<newline>'it\'s' is one string.
	str    bool
	strEnd int
	strEsc bool
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || isDigit(c) || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isOpChar: the characters PostgreSQL builds operators from.
func isOpChar(c byte) bool { return strings.IndexByte("~!@#^&|`?+-*/%<>=", c) >= 0 }

// next returns the next significant token, skipping whitespace and
// comments. ok is false at the end of input.
func (lx *lexer) next() (lexToken, bool, *SyntaxError) {
	s := lx.src
	for lx.pos < len(s) {
		c := s[lx.pos]
		switch {
		case isSpace(c):
			lx.pos++
		case c == '-' && lx.peek(1) == '-':
			// PostgreSQL ends a line comment at CR as well as LF: a lone
			// CR must not hide the next line (e.g. a COMMIT) from lint.
			nl := strings.IndexAny(s[lx.pos:], "\n\r")
			if nl < 0 {
				lx.pos = len(s)
			} else {
				lx.pos += nl
			}
		case c == '/' && lx.peek(1) == '*':
			if err := lx.blockComment(); err != nil {
				return lexToken{}, false, err
			}
		default:
			return lx.token()
		}
	}
	return lexToken{}, false, nil
}

func (lx *lexer) peek(n int) byte {
	if lx.pos+n < len(lx.src) {
		return lx.src[lx.pos+n]
	}
	return 0
}

func (lx *lexer) errAt(off int, what string) *SyntaxError {
	l, c := lineCol(lx.src, off)
	lx.rest = append(lx.rest, lexToken{Kind: tokPunct, Text: lx.src[off:], Off: off})
	lx.pos = len(lx.src)
	return &SyntaxError{Line: l, Col: c, What: what}
}

// blockComment skips a /* */ comment; PostgreSQL nests them.
func (lx *lexer) blockComment() *SyntaxError {
	s, start, depth := lx.src, lx.pos, 0
	for lx.pos < len(s) {
		switch {
		case s[lx.pos] == '/' && lx.peek(1) == '*':
			depth++
			lx.pos += 2
		case s[lx.pos] == '*' && lx.peek(1) == '/':
			depth--
			lx.pos += 2
			if depth == 0 {
				return nil
			}
		default:
			lx.pos++
		}
	}
	return lx.errAt(start, "block comment /* is never closed: add the matching */")
}

func (lx *lexer) token() (lexToken, bool, *SyntaxError) {
	s, start := lx.src, lx.pos
	c := s[start]
	continues := lx.str && quoteContinues(s[lx.strEnd:start])
	lx.str = false
	emit := func(k lexKind) (lexToken, bool, *SyntaxError) {
		return lexToken{Kind: k, Text: s[start:lx.pos], Off: start}, true, nil
	}
	// quotedStr emits a '...' string read with escapes on or off, and remembers
	// the mode for a continuation.
	quotedStr := func(escapes bool) (lexToken, bool, *SyntaxError) {
		if err := lx.quoted('\'', escapes, start); err != nil {
			return lexToken{}, false, err
		}
		lx.str, lx.strEnd, lx.strEsc = true, lx.pos, escapes
		return emit(tokString)
	}
	switch {
	case c == ';':
		lx.pos++
		return emit(tokSemi)
	case c == '\'':
		if continues {
			return quotedStr(lx.strEsc)
		}
		return quotedStr(lx.scsOff)
	case c == '"':
		if err := lx.quoted('"', false, start); err != nil {
			return lexToken{}, false, err
		}
		return emit(tokQIdent)
	case c == '$':
		if tag, ok := lx.dollarTag(); ok {
			lx.pos += len(tag)
			end := strings.Index(s[lx.pos:], tag)
			if end < 0 {
				return lexToken{}, false, lx.errAt(start, "dollar-quoted string "+tag+" is never closed: add the closing "+tag)
			}
			lx.pos += end + len(tag)
			return emit(tokString)
		}
		lx.pos++ // $1 parameter or a stray '$'
		for lx.pos < len(s) && isDigit(s[lx.pos]) {
			lx.pos++
		}
		return emit(tokPunct)
	case isIdentStart(c):
		for lx.pos < len(s) && isIdentCont(s[lx.pos]) {
			lx.pos++
		}
		if lx.pos == start+1 && lx.peek(0) == '\'' {
			switch c {
			case 'E', 'e':
				return quotedStr(true)
			case 'B', 'b', 'X', 'x', 'N', 'n':
				// Bit strings and national characters are one token:
				// B '1' (a space) would be a type named b.
				return quotedStr((c == 'N' || c == 'n') && lx.scsOff)
			}
		}
		if lx.pos == start+1 && (c == 'U' || c == 'u') && lx.peek(0) == '&' && (lx.peek(1) == '\'' || lx.peek(1) == '"') {
			q := lx.peek(1)
			lx.pos++
			if q == '\'' {
				return quotedStr(false)
			}
			if err := lx.quoted(q, false, start); err != nil {
				return lexToken{}, false, err
			}
			return emit(tokQIdent)
		}
		return emit(tokWord)
	case isDigit(c) || (c == '.' && isDigit(lx.peek(1))):
		lx.number()
		return emit(tokNumber)
	case c == ':' && (lx.peek(1) == ':' || lx.peek(1) == '='):
		lx.pos += 2 // :: (typecast) and := are tokens of their own
		return emit(tokPunct)
	case c == '.' && lx.peek(1) == '.':
		lx.pos += 2
		return emit(tokPunct)
	case isOpChar(c):
		lx.operator()
		return emit(tokPunct)
	}
	_, n := utf8.DecodeRuneInString(s[start:])
	lx.pos += n
	return emit(tokPunct)
}

// number reads a numeric literal as PostgreSQL does: digits, a fraction,
// an exponent with its sign (1e-5 is one token, 1e - 5 is not), and any
// identifier characters glued to it (0x1F, 1_000, or trailing junk the
// server rejects), so that a space added or removed inside changes the
// tokens.
func (lx *lexer) number() {
	s := lx.src
	for lx.pos < len(s) && isDigit(s[lx.pos]) {
		lx.pos++
	}
	if lx.peek(0) == '.' && lx.peek(1) != '.' {
		lx.pos++
		for lx.pos < len(s) && isDigit(s[lx.pos]) {
			lx.pos++
		}
	}
	if c := lx.peek(0); c == 'e' || c == 'E' {
		n := 1
		if lx.peek(1) == '+' || lx.peek(1) == '-' {
			n = 2
		}
		if isDigit(lx.peek(n)) {
			lx.pos += n
		}
	}
	for lx.pos < len(s) && (isIdentCont(s[lx.pos]) || (s[lx.pos] == '.' && lx.peek(1) != '.')) {
		lx.pos++
	}
}

// operator reads an operator with the rules of PostgreSQL's scanner: the
// longest run of operator characters, cut where a comment starts inside it;
// a multi-character operator cannot end in + or - unless it contains one
// of ~ ! @ # ^ & | ` ? % (so =- is = then -, while ^- is one operator).
func (lx *lexer) operator() {
	s, start := lx.src, lx.pos
	end := start
	for end < len(s) && isOpChar(s[end]) {
		if end > start && (s[end-1] == '/' && s[end] == '*' || s[end-1] == '-' && s[end] == '-') {
			end--
			break
		}
		end++
	}
	n := end - start
	if n > 1 && (s[start+n-1] == '+' || s[start+n-1] == '-') {
		if !strings.ContainsAny(s[start:start+n-1], "~!@#^&|`?%") {
			for n > 1 && (s[start+n-1] == '+' || s[start+n-1] == '-') {
				n--
			}
		}
	}
	lx.pos = start + n
}

// quoted consumes a quoted construct starting at lx.pos (the opening quote).
// A doubled quote is an escaped quote; with backslash, \x escapes x (E'...').
func (lx *lexer) quoted(q byte, backslash bool, start int) *SyntaxError {
	s := lx.src
	for lx.pos < len(s) && s[lx.pos] != q {
		lx.pos++ // a prefix: E, U&, B, X, N
	}
	lx.pos++
	for lx.pos < len(s) {
		c := s[lx.pos]
		switch {
		case backslash && c == '\\':
			lx.pos += 2
		case c == q && lx.peek(1) == q:
			lx.pos += 2
		case c == q:
			lx.pos++
			return nil
		default:
			lx.pos++
		}
	}
	lx.pos = len(s)
	if q == '"' {
		return lx.errAt(start, `quoted identifier " is never closed: add the closing "`)
	}
	return lx.errAt(start, "string literal ' is never closed: add the closing ' (write '' for a quote inside)")
}

// quoteContinues reports whether gap, the text between a string's closing
// quote and the next quote, makes the next quote continue the string:
// scan.l's quotecontinue, whitespace and -- comments holding a newline (a
// /* comment or a gap on one line ends the string).
func quoteContinues(gap string) bool {
	newline := false
	for i := 0; i < len(gap); i++ {
		switch c := gap[i]; {
		case c == '\n' || c == '\r':
			newline = true
		case isSpace(c):
		case c == '-' && i+1 < len(gap) && gap[i+1] == '-':
			nl := strings.IndexAny(gap[i:], "\n\r")
			if nl < 0 {
				return false
			}
			i += nl - 1
		default:
			return false
		}
	}
	return newline
}

// dollarTag returns the $tag$ opening at lx.pos, if there is one.
func (lx *lexer) dollarTag() (string, bool) {
	s := lx.src
	i := lx.pos + 1
	if i < len(s) && s[i] == '$' {
		return "$$", true
	}
	if i >= len(s) || !isIdentStart(s[i]) {
		return "", false
	}
	for i < len(s) && isIdentCont(s[i]) && s[i] != '$' {
		i++
	}
	if i < len(s) && s[i] == '$' {
		return s[lx.pos : i+1], true
	}
	return "", false
}

// upperASCII upper-cases ASCII letters only, as PostgreSQL folds unquoted
// identifiers in a multibyte encoding.
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// normalizedVersion prefixes normalised hashes; stored hashes without it
// came from an older algorithm that could not tell `a <= b` from
// `a < = b`, and are not compared.
const normalizedVersion = "v2:"

// NormalizedSHA256 hashes what PostgreSQL sees of a file: its tokens as the
// server's scanner cuts them (operators whole, so `<=` differs from `< =`),
// with keywords and unquoted identifiers case-folded as the server folds
// them, and whether the file is marked no-transaction. Two versions that
// differ only in whitespace, line endings, comments or the case of
// unquoted names hash alike. It classifies changed applied files as
// cosmetic or semantic.
func NormalizedSHA256(src string) string {
	noTx := hasNoTxMarker(src)
	stmts, _ := split(src, false, noTx)
	return normalizedHash(src, stmts, noTx)
}

func normalizedHash(src string, stmts []Statement, noTx bool) string {
	h := sha256.New()
	buf := make([]byte, 0, 64<<10)
	if noTx {
		buf = append(buf, "no-transaction\x00"...)
	}
	var prev *lexToken
	for _, st := range stmts {
		for i := range st.tokens {
			t := &st.tokens[i]
			// 'a'<newline>'b' is one string, 'ab'; 'a' 'b' is an error.
			if prev != nil && prev.Kind == tokString && t.Kind == tokString && prev.Text[len(prev.Text)-1] == '\'' &&
				strings.ContainsAny(src[prev.Off+len(prev.Text):t.Off], "\n\r") {
				buf = append(buf, '\x01')
			}
			buf = append(buf, byte('a'+t.Kind))
			switch t.Kind {
			case tokWord:
				buf = appendLowerASCII(buf, t.Text)
			case tokString, tokQIdent:
				// The prefix of E'x', B'1', X'f', N'x', U&'x' folds too.
				q := strings.IndexAny(t.Text, `'"$`)
				buf = appendLowerASCII(buf, t.Text[:q])
				buf = append(buf, t.Text[q:]...)
			default:
				buf = append(buf, t.Text...)
			}
			buf = append(buf, 0)
			if len(buf) > 60<<10 {
				h.Write(buf)
				buf = buf[:0]
			}
			prev = t
		}
	}
	h.Write(buf)
	return normalizedVersion + hex.EncodeToString(h.Sum(nil))
}

func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// RedactLiterals replaces every string literal of an SQL text (standard,
// E”, U&”, dollar-quoted) with '...', so that another session's query
// can be shown without the secrets it may carry (PASSWORD '...'). An
// unterminated literal (a query cut short) is replaced to the end.
func RedactLiterals(q string) string {
	const hidden = "'...'"
	lx := lexer{src: q}
	var b strings.Builder
	last := 0
	for {
		tok, ok, err := lx.next()
		if err != nil {
			if len(lx.rest) > 0 {
				b.WriteString(q[last:lx.rest[0].Off])
				b.WriteString(hidden)
			}
			return b.String()
		}
		if !ok {
			b.WriteString(q[last:])
			return b.String()
		}
		if tok.Kind == tokString {
			b.WriteString(q[last:tok.Off])
			b.WriteString(hidden)
			last = tok.Off + len(tok.Text)
		}
	}
}
