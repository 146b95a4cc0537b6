// Package pgquote quotes values into SQL text, for the statements that
// take no parameters (COPY, multi-statement simple-protocol batches).
package pgquote

import "strings"

// Literal quotes s as an E” string constant, read the same whatever
// standard_conforming_strings says: backslashes and quotes are doubled.
// s must not contain a NUL byte (PostgreSQL text cannot hold one);
// callers check.
func Literal(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `''`)
	return "E'" + s + "'"
}
