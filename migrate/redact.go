package migrate

import (
	"regexp"
	"strings"
)

// PostgreSQL's DETAIL of a failing statement can quote rows of the
// database (Failing row contains (…); Key (col)=(value) …): API-key hashes,
// tokens, personal data. A migration's error is printed, logged and kept
// in CI output, so by default the values are replaced with "…"; column
// names, constraints and tables stay. WithShowRowValues keeps them.

// WithShowRowValues keeps row values in the DETAIL of a failing file's
// error (default: replaced with "…", as they may be secrets).
func WithShowRowValues(b bool) Option {
	return func(c *config) error { c.showRowValues = b; return nil }
}

const hidden = "…"

var (
	failingRow = regexp.MustCompile(`(?s)^Failing row contains \(.*\)\.$`)
	// Key (cols)=(values) <what>. The columns end at the first ")=(";
	// values may hold anything, so they end at the last ") " before a
	// phrase PostgreSQL writes after them.
	keyDetail = regexp.MustCompile(`(?s)^Key \((.*?)\)=\((.*)\) (already exists|is duplicated|is not present in table .*|is still referenced from table .*|conflicts with existing key \((.*?)\)=\((.*)\))\.$`)
)

// redactDetail replaces the row values in a DETAIL with "…".
func redactDetail(d string) string {
	if failingRow.MatchString(d) {
		return "Failing row contains (" + hidden + ")."
	}
	if m := keyDetail.FindStringSubmatch(d); m != nil {
		what := m[3]
		if strings.HasPrefix(what, "conflicts with existing key") {
			what = "conflicts with existing key (" + m[4] + ")=(" + hidden + ")"
		}
		return "Key (" + m[1] + ")=(" + hidden + ") " + what + "."
	}
	if strings.Contains(d, ")=(") || strings.Contains(d, "row contains") {
		// A shape not known here: withhold it whole rather than guess.
		return "(withheld: it may quote row values; WithShowRowValues shows it)"
	}
	return d
}

// inputValue: messages that quote a value, which may come from a row
// (ALTER COLUMN ... TYPE int USING token::int on a row holding a token).
var inputValue = regexp.MustCompile(`(?s)^(invalid input (?:syntax|value) for (?:type|enum) [^:]+: )".*"$`)

func redactMessage(m string) string {
	if sm := inputValue.FindStringSubmatch(m); sm != nil {
		return sm[1] + `"` + hidden + `"`
	}
	return m
}

func (r *Runner) message(m string) string {
	if r.cfg.showRowValues {
		return m
	}
	return redactMessage(m)
}

func (r *Runner) detail(d string) string {
	if r.cfg.showRowValues {
		return d
	}
	return redactDetail(d)
}
