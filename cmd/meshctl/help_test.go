package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every command an operator can reach has a usage line and an example, and
// its --help exits 0.
func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			path := append(append([]string{}, prefix...), c.Name)
			name := strings.Join(path, " ")
			if c.Usage == "" {
				t.Errorf("%s: no Usage", name)
			}
			if len(c.Subcommands) > 0 {
				walk(path, c.Subcommands)
				continue
			}
			if !strings.Contains(c.UsageText, "meshctl ") {
				t.Errorf("%s: UsageText has no example invocation: %q", name, c.UsageText)
			}
			code, stdout, stderr := runCLI(t, append(path, "--help")...)
			if code != 0 || !strings.Contains(stdout, c.Usage) {
				t.Errorf("%s --help: exit %d, stdout %q, stderr %q", name, code, stdout, stderr)
			}
		}
	}
	walk(nil, commands())
}
