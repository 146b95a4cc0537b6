package main

import (
	"os"

	"golang.org/x/term"
)

// ANSI colours for the state words meshctl's tables show. Only whole cells
// that are exactly one of these words are painted, so hashes, names and
// messages are never touched.
const (
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[1;31m"
	ansiReset  = "\x1b[0m"
)

var stateColors = map[string]string{
	// good
	"ok": ansiGreen, "applied": ansiGreen, "clean": ansiGreen, "passed": ansiGreen,
	// needs attention
	"pending": ansiYellow, "empty": ansiYellow, "out-of-order": ansiYellow,
	// bad
	"TAMPERED": ansiRed, "changed": ansiRed, "missing-file": ansiRed, "renamed": ansiRed, "failed": ansiRed, "FAILED": ansiRed,
}

// colorOut reports whether stdout gets colour: a terminal, TERM not
// "dumb", and neither --no-color nor NO_COLOR.
func (e *env) colorOut() bool {
	if e.noColor || e.json || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := e.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// paintStates returns rows with state cells coloured (a copy; rows is not
// changed).
func paintStates(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, cell := range r {
			if c, ok := stateColors[cell]; ok {
				cell = c + cell + ansiReset
			}
			out[i][j] = cell
		}
	}
	return out
}
