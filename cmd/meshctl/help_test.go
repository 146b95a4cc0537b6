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
			// One convention: USAGE holds example invocations only;
			// prose and exit codes are the DESCRIPTION.
			for _, line := range strings.Split(c.UsageText, "\n") {
				if line != "" && !strings.HasPrefix(line, "meshctl ") && !strings.HasPrefix(line, "DATABASE_URL=") && !strings.HasPrefix(line, "source <(meshctl ") {
					t.Errorf("%s: UsageText line is not an example (prose belongs in Description): %q", name, line)
				}
			}
			code, stdout, stderr := runCLI(t, append(path, "--help")...)
			if code != 0 || !strings.Contains(stdout, c.Usage) {
				t.Errorf("%s --help: exit %d, stdout %q, stderr %q", name, code, stdout, stderr)
			}
			// A flag's placeholder names what it takes (urfave/cli's
			// default, "value", says nothing).
			for _, line := range strings.Split(stdout, "\n") {
				if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[0], "--") && f[1] == "value" {
					t.Errorf("%s --help: placeholder \"value\": %s", name, strings.TrimSpace(line))
				}
			}
		}
	}
	walk(nil, commands())
	code, stdout, _ := runCLI(t, "--help")
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); code != 0 || len(f) > 1 && strings.HasPrefix(f[0], "--") && f[1] == "value" {
			t.Errorf("meshctl --help: exit %d, %s", code, strings.TrimSpace(line))
		}
	}
}

// meshctl --help lists migrate first: the command operators come for.
func TestHelpListsMigrateFirst(t *testing.T) {
	code, stdout, _ := runCLI(t, "--help")
	_, list, ok := strings.Cut(stdout, "COMMANDS:\n")
	if code != 0 || !ok {
		t.Fatalf("meshctl --help: exit %d, no COMMANDS section:\n%s", code, stdout)
	}
	if names := strings.Fields(list); len(names) == 0 || names[0] != "migrate" {
		t.Errorf("migrate is not the first command listed:\n%s", list)
	}
}

// Flag mistakes name the flag as it is written (--name), in one line, exit 2.
func TestFlagMistakesNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "lint", "--table", "x"}, "meshctl: unknown flag --table (see meshctl migrate lint --help)\n"},
		{[]string{"--bogus", "migrate", "status"}, "meshctl: unknown flag --bogus (see meshctl --help)\n"},
		{[]string{"migrate", "up", "--lock-wait"}, "meshctl: flag --lock-wait needs a value (see meshctl migrate up --help)\n"},
		{[]string{"migrate", "up", "--lock-wait=soon"}, "meshctl: invalid value \"soon\" for --lock-wait (see meshctl migrate up --help)\n"},
		{[]string{"gate", "ready", "--successes", "three"}, "meshctl: invalid value \"three\" for --successes (see meshctl gate ready --help)\n"},
		// A connection string in the wrong place is never echoed with
		// its password.
		{[]string{"--databse-url", "postgres://ops:S3cretPW@db/x", "db", "ping"}, "meshctl: unknown flag --databse-url (see meshctl --help)\n"},
		{[]string{"db", "ping", "postgres://ops:S3cretPW@db/x"}, "meshctl: unexpected argument \"postgres://ops:xxxxx@db/x\": meshctl db ping takes none (see meshctl db ping --help)\n"},
		{[]string{"migrate", "status", "host=db password=S3cretPW"}, "meshctl: unexpected argument \"host=db password=xxxxx\": meshctl migrate status takes none (see meshctl migrate status --help)\n"},
		{[]string{"postgres://ops:S3cretPW@db/x", "db", "ping"}, "meshctl: unknown command \"postgres://ops:xxxxx@db/x\" (see meshctl --help)\n"},
		{[]string{"migrate", "status", "--database-url", "postgres://ops:S3cretPW@db/x"}, "meshctl: --database-url is a global flag: give it before the command (meshctl --database-url URL migrate status) (see meshctl migrate status --help)\n"},
	} {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != ExitUsage || stdout != "" || stderr != c.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2, stderr %q", c.args, code, stdout, stderr, c.want)
		}
	}
}
