package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/olekukonko/tablewriter"
	"github.com/urfave/cli/v2"
)

// env is what every verb gets: where to write, and the global switches.
type env struct {
	stdout, stderr io.Writer
	json           bool
	noColor        bool
	noProgress     bool
	verbose        bool
	databaseURL    string
}

func envFrom(c *cli.Context) *env {
	return &env{
		stdout:      c.App.Writer,
		stderr:      c.App.ErrWriter,
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
	t := tablewriter.NewWriter(e.stdout)
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
