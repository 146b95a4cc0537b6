package meshfmt

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mentions (SPEC §5, the broker's write path and the notifications
// backfill): the tokens of a message are its explicit mentions list or,
// for body_version 1 only, the matches of
//
//	(^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])
//
// over the decoded body, lower-cased, at most MaxMentionTokens distinct in
// order of first appearance. Recipients are the candidates (the mesh's
// non-revoked members, in the caller's order) whose display name,
// lower-cased as JavaScript's toLowerCase does, is a token, excluding the
// sender, at most MaxMentionRecipients. Display names are compared as
// text, never used as patterns: "a.b" or "(x)" match only themselves.
const (
	MaxMentionTokens     = 16
	MaxMentionRecipients = 32
	MaxMentionLength     = 64
)

// mentionRe is upstream's pattern without the look-ahead (Go's regexp has
// none): the token is taken maximal and checked by hand, which is the same
// language because the look-ahead's class is the token's complement.
var mentionRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]+)`)

// MentionTokens returns the mention tokens of a decoded v1 body, in order
// of first appearance, lower-cased, distinct, at most MaxMentionTokens.
func MentionTokens(body string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRe.FindAllStringSubmatchIndex(body, -1) {
		tok := body[m[2]:m[3]]
		if len(tok) > MaxMentionLength {
			// The pattern allows at most 64 characters followed by a
			// non-token character: a longer run is no mention at all.
			continue
		}
		tok = strings.ToLower(tok) // ASCII only
		if !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
			if len(out) == MaxMentionTokens {
				break
			}
		}
	}
	return out
}

// ExplicitMentionTokens normalises a client-supplied mentions list as the
// broker does: each entry lower-cased (JavaScript's toLowerCase) with one
// leading '@' removed. Duplicates are kept; they do not change the
// recipients.
func ExplicitMentionTokens(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.TrimPrefix(JSLowerCase(s), "@")
	}
	return out
}

// MentionCandidate is a member who may be mentioned.
type MentionCandidate struct {
	ID          string
	DisplayName string
}

// MentionRecipients returns the candidates whose lower-cased display name
// is one of tokens, excluding senderID, in the order given, at most
// MaxMentionRecipients. Callers pass the mesh's non-revoked members in a
// stable order (e.g. by id) so the cap is deterministic.
func MentionRecipients(tokens []string, senderID string, candidates []MentionCandidate) []MentionCandidate {
	if len(tokens) == 0 {
		return nil
	}
	set := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		set[t] = true
	}
	var out []MentionCandidate
	for _, c := range candidates {
		if c.ID != senderID && set[JSLowerCase(c.DisplayName)] {
			out = append(out, c)
			if len(out) == MaxMentionRecipients {
				break
			}
		}
	}
	return out
}

// JSLowerCase is JavaScript's String.prototype.toLowerCase (locale
// independent): Unicode's default lower-casing with the two mappings Go's
// strings.ToLower lacks: U+0130 (İ) becomes "i̇" (two code points), and a
// capital sigma at the end of a word becomes final sigma (ς). Invalid
// UTF-8 bytes are kept as they are. Characters are mapped with Go's Unicode
// tables (unicode.Version), which may lag the JavaScript runtime's for
// characters assigned recently; the only non-ASCII character whose lower
// case is ASCII (U+212A KELVIN SIGN → k) is the same in both, so mention
// matching, whose tokens are ASCII, never depends on the difference.
func JSLowerCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == 'İ':
			b.WriteString("i\u0307")
		case r == 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				b.WriteByte(s[i])
				continue
			}
			b.WriteRune(r)
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is Unicode's Final_Sigma condition for the Σ at byte i: a
// cased letter before it and none after it, skipping case-ignorable
// characters on both sides.
func finalSigma(s string, i int) bool {
	before := false
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	for j := i + len("Σ"); j < len(s); {
		r, n := utf8.DecodeRuneInString(s[j:])
		j += n
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '^', '`', '\u00b7', '\u2018', '\u2019', '\u2024', '\u2027', '\ufe13', '\ufe52', '\ufe55', '\uff07', '\uff0e', '\uff1a', '\u00ad', '\u0387', '\u055f', '\u05f4':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
