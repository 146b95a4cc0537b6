package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// askFirst is every destructive verb's confirmation: nothing to ask with
// --yes; otherwise the change is named on the terminal and only y or yes
// proceeds. Without a terminal to ask on it refuses (exit 2), pointing to
// --dry-run and --yes.
func askFirst(c *cli.Context, e *env, change string) error {
	if c.Bool("yes") {
		return nil
	}
	ok, err := confirm(c.App.Reader, e.stderr, change)
	if err != nil {
		return err
	}
	if !ok {
		return withCode(ExitError, errors.New("not confirmed; nothing was changed"))
	}
	return nil
}

// confirm asks on a terminal; elsewhere it refuses (--yes is the way).
func confirm(in io.Reader, out io.Writer, change string) (bool, error) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, usageError("stdin is not a terminal to confirm on (%s): check with --dry-run, then pass --yes; nothing was changed", change)
	}
	fmt.Fprintf(out, "This will %s.\nProceed? [y/N] ", termSafe(change))
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
