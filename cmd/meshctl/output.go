package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/urfave/cli/v2"
)

// env is what every verb gets: where to write, and the global switches.
//
// stdout and stderr escape control characters (termWriter): file names,
// mesh ids and server messages come from outside, and an ESC in one must
// not reach the terminal. Under --json stdout is raw: JSON escapes them.
// meshctl's own escape sequences (table colours, the progress line) go to
// raw(w), their text escaped with termSafe first.
type env struct {
	stdout, stderr io.Writer
	json           bool
	noColor        bool
	noProgress     bool
	verbose        bool
	databaseURL    string
}

func envFrom(c *cli.Context) *env {
	out := c.App.Writer
	if !c.Bool("json") {
		out = termWriter{out}
	}
	return &env{
		stdout:      out,
		stderr:      termWriter{c.App.ErrWriter},
		json:        c.Bool("json"),
		noColor:     c.Bool("no-color") || os.Getenv("NO_COLOR") != "",
		noProgress:  c.Bool("no-progress"),
		verbose:     c.Bool("verbose"),
		databaseURL: c.String("database-url"),
	}
}

// printJSON writes v as indented JSON on stdout: the machine-readable form
// of every verb's result under --json.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table renders rows under header on stdout.
func (e *env) table(header []string, rows [][]string) error {
	t := tablewriter.NewWriter(raw(e.stdout))
	header = termSafeAll(header)
	rows = termSafeRows(rows)
	t.Header(header)
	if e.colorOut() {
		rows = paintStates(rows)
	}
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

// count says "1 row" or "2 rows".
func count[N ~int | ~int64](n N, singular, plural string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, singular)
	}
	return fmt.Sprintf("%d %s", n, plural)
}

// termSafe returns s with every control character written as an escape
// (\n, \t, \x1b, \u0085) so that text from outside (a file name, a mesh
// id, a payload value) shows as what it is and cannot move the cursor,
// clear the screen or forge a line of output.
func termSafe(s string) string {
	if !hasControl(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

func termSafeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = termSafe(s)
	}
	return out
}

func termSafeRows(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = termSafeAll(r)
	}
	return out
}

// termWriter escapes control characters in everything written through it,
// except the newline and tab that meshctl's own lines are made of: output
// that embeds outside text cannot send escape sequences to the terminal.
type termWriter struct{ w io.Writer }

func (t termWriter) Write(p []byte) (int, error) {
	s := string(p)
	clean := true
	for _, r := range s {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f) {
			clean = false
			break
		}
	}
	if clean {
		return t.w.Write(p)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		body, nl := strings.CutSuffix(line, "\n")
		b.WriteString(strings.ReplaceAll(termSafe(body), `\t`, "\t"))
		if nl {
			b.WriteByte('\n')
		}
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// raw returns the writer beneath a termWriter (for meshctl's own escape
// sequences), or w itself.
func raw(w io.Writer) io.Writer {
	if t, ok := w.(termWriter); ok {
		return t.w
	}
	return w
}
