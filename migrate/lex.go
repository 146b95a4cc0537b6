package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TokenKind classifies a significant token of a migration file.
type TokenKind int

const (
	TokWord   TokenKind = iota // unquoted identifier or keyword
	TokQIdent                  // "quoted identifier"
	TokString                  // '...', E'...', U&'...', $tag$...$tag$
	TokNumber                  // numeric literal
	TokPunct                   // operator or punctuation (one byte)
	TokSemi                    // the ';' that ends a statement
)

// Token is a significant piece of SQL: comments and whitespace are not
// tokens. Off is the byte offset in the file.
type Token struct {
	Kind TokenKind
	Text string
	Off  int
}

// Upper returns the token's text upper-cased when it is a plain word, so
// keywords compare without regard to case.
func (t Token) Upper() string {
	if t.Kind == TokWord {
		return strings.ToUpper(t.Text)
	}
	return t.Text
}

// Statement is one top-level SQL statement of a file, exactly as written:
// Text runs from the end of the previous statement (so it carries the
// leading comments and whitespace) through its terminating ';'. Joining the
// Text of every statement of a file gives back the file byte for byte.
type Statement struct {
	Text   string
	Offset int     // byte offset of Text in the file
	Tokens []Token // significant tokens; Off is relative to the file
	Line   int     // 1-based line of the first token (of Text when empty)
	Col    int     // 1-based column, in characters
}

// Empty reports whether the statement holds only comments and whitespace
// (or a lone ';'), so sending it to the server would do nothing.
func (s Statement) Empty() bool {
	for _, t := range s.Tokens {
		if t.Kind != TokSemi {
			return false
		}
	}
	return true
}

// Words returns the first n significant tokens upper-cased, for matching
// statement shapes such as CREATE INDEX CONCURRENTLY.
func (s Statement) Words(n int) []string {
	var w []string
	for _, t := range s.Tokens {
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
// PostgreSQL's quoting: standard and E” strings, quoted identifiers,
// dollar quotes, nested block comments, line comments, and BEGIN ATOMIC
// bodies of SQL-standard functions. It never loses a byte: the statements'
// Text joined equal src even when it also returns a *SyntaxError.
func Split(src string) ([]Statement, *SyntaxError) {
	lx := lexer{src: src}
	var (
		stmts  []Statement
		cur    []Token
		start  int
		depth  int // BEGIN ... END nesting inside CREATE FUNCTION/PROCEDURE
		synErr *SyntaxError
	)
	flush := func(end int) {
		s := Statement{Text: src[start:end], Offset: start, Tokens: cur}
		pos := start
		if len(cur) > 0 {
			pos = cur[0].Off
		}
		s.Line, s.Col = LineCol(src, pos)
		stmts = append(stmts, s)
		cur, start, depth = nil, end, 0
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
		cur = append(cur, tok)
		if tok.Kind == TokWord && isRoutine(cur) {
			switch strings.ToUpper(tok.Text) {
			case "ATOMIC":
				// Only BEGIN ATOMIC opens a body; a bare BEGIN may be a
				// parameter or column name.
				if prev := cur[len(cur)-2]; prev.Kind == TokWord && strings.EqualFold(prev.Text, "BEGIN") {
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
		if tok.Kind == TokSemi && depth == 0 {
			flush(tok.Off + 1)
		}
	}
	if synErr != nil {
		// Keep the rest of the file as one statement so no byte is lost.
		cur = append(cur, lx.rest...)
		flush(len(src))
		return stmts, synErr
	}
	if start < len(src) || len(stmts) == 0 {
		flush(len(src))
	}
	return stmts, nil
}

// isRoutine reports whether the statement so far is CREATE [OR REPLACE]
// FUNCTION or PROCEDURE, the only place BEGIN ... END may enclose ';'.
func isRoutine(toks []Token) bool {
	i := 0
	word := func(w string) bool {
		if i < len(toks) && toks[i].Kind == TokWord && strings.EqualFold(toks[i].Text, w) {
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

// LineCol converts a byte offset in src to a 1-based line and a 1-based
// column counted in characters.
func LineCol(src string, off int) (line, col int) {
	if off > len(src) {
		off = len(src)
	}
	line = 1 + strings.Count(src[:off], "\n")
	lineStart := strings.LastIndexByte(src[:off], '\n') + 1
	return line, 1 + utf8.RuneCountInString(src[lineStart:off])
}

type lexer struct {
	src  string
	pos  int
	rest []Token // tokens of an unterminated construct, for Split's error path
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

// next returns the next significant token, skipping whitespace and
// comments. ok is false at the end of input.
func (lx *lexer) next() (Token, bool, *SyntaxError) {
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
				return Token{}, false, err
			}
		default:
			return lx.token()
		}
	}
	return Token{}, false, nil
}

func (lx *lexer) peek(n int) byte {
	if lx.pos+n < len(lx.src) {
		return lx.src[lx.pos+n]
	}
	return 0
}

func (lx *lexer) errAt(off int, what string) *SyntaxError {
	l, c := LineCol(lx.src, off)
	lx.rest = append(lx.rest, Token{Kind: TokPunct, Text: lx.src[off:], Off: off})
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

func (lx *lexer) token() (Token, bool, *SyntaxError) {
	s, start := lx.src, lx.pos
	c := s[start]
	emit := func(k TokenKind) (Token, bool, *SyntaxError) {
		return Token{Kind: k, Text: s[start:lx.pos], Off: start}, true, nil
	}
	switch {
	case c == ';':
		lx.pos++
		return emit(TokSemi)
	case c == '\'':
		if err := lx.quoted('\'', false, start); err != nil {
			return Token{}, false, err
		}
		return emit(TokString)
	case c == '"':
		if err := lx.quoted('"', false, start); err != nil {
			return Token{}, false, err
		}
		return emit(TokQIdent)
	case c == '$':
		if tag, ok := lx.dollarTag(); ok {
			lx.pos += len(tag)
			end := strings.Index(s[lx.pos:], tag)
			if end < 0 {
				return Token{}, false, lx.errAt(start, "dollar-quoted string "+tag+" is never closed: add the closing "+tag)
			}
			lx.pos += end + len(tag)
			return emit(TokString)
		}
		lx.pos++ // $1 parameter or a stray '$'
		for lx.pos < len(s) && s[lx.pos] >= '0' && s[lx.pos] <= '9' {
			lx.pos++
		}
		return emit(TokPunct)
	case isIdentStart(c):
		for lx.pos < len(s) && isIdentCont(s[lx.pos]) {
			lx.pos++
		}
		word := s[start:lx.pos]
		switch {
		case (word == "E" || word == "e") && lx.peek(0) == '\'':
			if err := lx.quoted('\'', true, start); err != nil {
				return Token{}, false, err
			}
			return emit(TokString)
		case (word == "U" || word == "u") && lx.peek(0) == '&' && (lx.peek(1) == '\'' || lx.peek(1) == '"'):
			q := lx.peek(1)
			lx.pos++
			if err := lx.quoted(q, false, start); err != nil {
				return Token{}, false, err
			}
			if q == '"' {
				return emit(TokQIdent)
			}
			return emit(TokString)
		}
		return emit(TokWord)
	case c >= '0' && c <= '9':
		for lx.pos < len(s) && (isIdentCont(s[lx.pos]) || s[lx.pos] == '.') {
			lx.pos++
		}
		return emit(TokNumber)
	}
	lx.pos++
	return emit(TokPunct)
}

// quoted consumes a quoted construct starting at lx.pos (the opening quote).
// A doubled quote is an escaped quote; with backslash, \x escapes x (E”).
func (lx *lexer) quoted(q byte, backslash bool, start int) *SyntaxError {
	s := lx.src
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
	if q == '"' {
		return lx.errAt(start, `quoted identifier " is never closed: add the closing "`)
	}
	return lx.errAt(start, "string literal ' is never closed: add the closing ' (write '' for a quote inside)")
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

// NormalizedSHA256 hashes a file's significant tokens, one space apart, so
// two versions that differ only in whitespace, line endings or comments
// hash alike. It classifies changed applied files as cosmetic or semantic.
func NormalizedSHA256(src string) string {
	stmts, _ := Split(src)
	return normalizedHash(stmts)
}

func normalizedHash(stmts []Statement) string {
	h := sha256.New()
	for _, st := range stmts {
		for _, t := range st.Tokens {
			h.Write([]byte(t.Text))
			h.Write([]byte{' '})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
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
		if tok.Kind == TokString {
			b.WriteString(q[last:tok.Off])
			b.WriteString(hidden)
			last = tok.Off + len(tok.Text)
		}
	}
}
