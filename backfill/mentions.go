package backfill

import "strings"

// mentionTokens applies SPEC §5's runtime rule to a decoded body: the
// matches of (^|[^A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})(?=$|[^A-Za-z0-9_-])
// in JavaScript's left-to-right, non-overlapping order, lower-cased, the
// first 16 distinct.
func mentionTokens(s string) []string {
	const maxTokens, maxLen = 16, 64
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(s) && len(out) < maxTokens; {
		start, n := nextMention(s, i, maxLen)
		if start < 0 {
			break
		}
		tok := strings.ToLower(s[start : start+n])
		if !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
		}
		i = start + n
	}
	return out
}

// nextMention finds the first match at or after from; it returns the
// name's start and length, or -1.
func nextMention(s string, from, maxLen int) (int, int) {
	for p := from; p < len(s); p++ {
		// Alternative 1: ^ (only at the very start) followed by '@'.
		if p == 0 && s[0] == '@' {
			if n := nameLen(s, 1); n >= 1 && n <= maxLen {
				return 1, n
			}
		}
		// Alternative 2: one character outside the class, then '@'.
		if !isWordByte(s[p]) && p+1 < len(s) && s[p+1] == '@' {
			if n := nameLen(s, p+2); n >= 1 && n <= maxLen {
				return p + 2, n
			}
		}
	}
	return -1, 0
}

// nameLen is the length of the run of [A-Za-z0-9_-] at i. A run longer
// than the limit cannot match: the lookahead after any prefix sees another
// name character.
func nameLen(s string, i int) int {
	n := 0
	for i+n < len(s) && isWordByte(s[i+n]) {
		n++
	}
	return n
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
