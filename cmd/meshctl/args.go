package main

// How meshctl reads its command line beyond what urfave/cli/v2 does, in
// one place: global switches written after the command, flags written
// after a command's arguments, and unknown subcommands (urfave would
// answer "No help topic" and exit 1). Tested in termsafe_test.go and
// main_test.go.

import (
	"strings"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/urfave/cli/v2"
)

// globalSwitches are the global boolean flags an operator may also write
// after the command (meshctl migrate status --json); they are moved in
// front of it before parsing.
var globalSwitches = map[string]bool{"--json": true, "-json": true, "--no-color": true, "-no-color": true, "--verbose": true, "-verbose": true,
	"--no-progress": true, "-no-progress": true}

// hoistGlobalSwitches moves global boolean flags written after the command
// name to before it. Arguments after "--" are left alone.
func hoistGlobalSwitches(args []string) []string {
	if len(args) < 2 {
		return args
	}
	var front, rest []string
	for i, a := range args[1:] {
		if a == "--" {
			rest = append(rest, args[1+i:]...)
			break
		}
		if name, _, _ := strings.Cut(a, "="); globalSwitches[name] {
			front = append(front, a) // also --json=true, as urfave/cli accepts it in front
			continue
		}
		rest = append(rest, a)
	}
	out := append([]string{args[0]}, front...)
	return append(out, rest...)
}

// flagsFirst moves the flags a leaf command is given after its arguments
// (meshctl backfill run notifications --restart) in front of them:
// urfave/cli stops reading flags at the first argument, and would take
// "--restart" for a name. Everything after "--" stays where it is.
func flagsFirst(app *cli.App, args []string) []string {
	i := firstCommandAt(args[1:])
	if i < 0 {
		return args
	}
	i++ // index in args
	cmds := app.Commands
	var leaf *cli.Command
	for ; i < len(args); i++ {
		var cmd *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				cmd = c
				break
			}
		}
		if cmd == nil {
			return args // help, an unknown word: left to the parser
		}
		if len(cmd.Subcommands) == 0 {
			leaf = cmd
			break
		}
		cmds = cmd.Subcommands
	}
	if leaf == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range leaf.Flags {
		if _, isBool := f.(*cli.BoolFlag); !isBool {
			for _, n := range f.Names() {
				takesValue[n] = true
			}
		}
	}
	rest := args[i+1:]
	var flags, positional []string
	for k := 0; k < len(rest); k++ {
		a := rest[k]
		if a == "--" {
			positional = append(positional, rest[k:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if takesValue[name] && k+1 < len(rest) {
				flags = append(flags, rest[k+1])
				k++
			}
			continue
		}
		positional = append(positional, a)
	}
	out := append(append([]string{}, args[:i+1]...), flags...)
	return append(out, positional...)
}

// wantsJSON reports whether --json is among the (hoisted) global switches,
// so that errors from flag parsing, before any verb runs, are JSON too.
func wantsJSON(args []string) bool {
	for _, a := range args[1:] {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true", "--json=1", "-json=1":
			return true
		}
	}
	return false
}

// unknownCommand returns the first command word that names no command
// (and the command whose --help lists the right ones), or "" when every
// word is known. urfave/cli would answer an unknown subcommand
// (meshctl migrate bogus) with "No help topic" and exit 1.
func unknownCommand(app *cli.App, args []string) (name, help string) {
	i := firstCommandAt(args)
	if i < 0 {
		return "", ""
	}
	cmds, path := app.Commands, "meshctl"
	for {
		word := args[i]
		if word == "help" || word == "h" {
			return "", ""
		}
		var cmd *cli.Command
		for _, c := range cmds {
			if c.HasName(word) {
				cmd = c
				break
			}
		}
		if cmd == nil {
			return word, path
		}
		if len(cmd.Subcommands) == 0 {
			return "", ""
		}
		// A command with subcommands takes no flags of its own here, so
		// its next non-flag word must be a subcommand.
		cmds, path = cmd.Subcommands, path+" "+cmd.Name
		for i++; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
			if args[i] == "--" {
				return "", ""
			}
		}
		if i >= len(args) {
			return "", ""
		}
	}
}

// unknownGlobalFlag returns the first flag before the command word that
// is not one of meshctl's global flags (as written), or "". Without it a
// mistyped --databse-url would make its value, often a DSN with a
// password, the "unknown command".
func unknownGlobalFlag(app *cli.App, args []string) string {
	known := map[string]bool{}
	for _, f := range append(append([]cli.Flag{}, app.Flags...), cli.HelpFlag) {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	end := firstCommandAt(args)
	if end < 0 {
		end = len(args)
	}
	for _, a := range args[:end] {
		if a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "" && !known[name] {
			return "--" + name
		}
	}
	return ""
}

// shownArg is an argument as an error may show it: a DSN's password (a
// connection string given in the wrong place) is never echoed.
func shownArg(s string) string {
	if strings.Contains(s, "://") || strings.Contains(s, "=") {
		return dbconn.Redact(s)
	}
	return s
}

// firstCommandAt returns the index of the first argument that is not a
// global flag, or -1.
func firstCommandAt(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return -1
		case a == "--database-url" || a == "-database-url":
			i++ // the flag's value
		case len(a) > 0 && a[0] == '-':
		default:
			return i
		}
	}
	return -1
}
