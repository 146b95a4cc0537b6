package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// newApp builds the command tree. Each verb's command is defined in its own
// file; this is the only place they are listed.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "meshctl",
		Usage: "ops and admin toolkit for a claudemesh broker's PostgreSQL database",
		UsageText: `meshctl [global options] command [command options]

Examples:
   meshctl --database-url postgres://ops@db:5432/claudemesh migrate status
   DATABASE_URL=postgres://ops@db/claudemesh meshctl --json migrate status`,
		Description: "Exit codes: 0 ok, 1 operational error, 2 usage error; see the README for the codes each check adds.",
		Writer:      stdout,
		ErrWriter:   stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:    "database-url",
				Usage:   "PostgreSQL URL or key=value DSN (the password is never printed)",
				EnvVars: []string{"DATABASE_URL"},
			},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output on stdout; logs and progress go to stderr"},
			// NO_COLOR is read by envFrom, not as the flag's EnvVars: the
			// convention (no-color.org) is any non-empty value, and urfave/cli
			// would refuse NO_COLOR=yes as "not a bool" and fail every command.
			&cli.BoolFlag{Name: "no-color", Usage: "no colour in human output (also when NO_COLOR is set to any value)"},
			&cli.BoolFlag{Name: "no-progress", Usage: "no progress display on stderr (it is only shown when stderr is a terminal)"},
			&cli.BoolFlag{Name: "verbose", Usage: "more detail on stderr"},
		},
		Commands:             commands(),
		EnableBashCompletion: true,
		HideHelpCommand:      false,
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return usageError("%v (see meshctl --help)", err)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run maps errors to codes; never os.Exit inside the library
	}
	return app
}

// commands lists every verb. Add new verbs here.
func commands() []*cli.Command {
	cmds := []*cli.Command{
		versionCommand(),
		dbCommand(),
		vectorsCommand(),
		completionCommand(),
		migrateCommand(),
		auditCommand(),
		backfillCommand(),
		meshCommand(),
		apikeyCommand(),
		memberCommand(),
		sweepCommand(),
		dashboardsCommand(),
		gateCommand(),
	}
	for _, c := range cmds {
		setUsageErrors(c, "meshctl")
	}
	return cmds
}

// setUsageErrors makes flag-parsing mistakes anywhere in the tree exit 2,
// naming the command whose --help to read, and gives every leaf command
// the same checks of what it was given (checkInput).
func setUsageErrors(c *cli.Command, parent string) {
	path := parent + " " + c.Name
	if c.OnUsageError == nil {
		c.OnUsageError = func(ctx *cli.Context, err error, isSub bool) error {
			return usageError("%v (see %s --help)", err, path)
		}
	}
	if len(c.Subcommands) == 0 {
		// Required flags are checked by checkInput like every other
		// mistake: urfave/cli would print the whole help on stdout (no
		// JSON under --json) and exit 1.
		var required []string
		for _, f := range c.Flags {
			if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
				sf.Required = false
				required = append(required, sf.Name)
			}
		}
		before := c.Before
		c.Before = func(ctx *cli.Context) error {
			for _, name := range required {
				if !ctx.IsSet(name) {
					return usageError("--%s is required (see %s --help)", name, path)
				}
			}
			if err := checkInput(ctx, path); err != nil {
				return err
			}
			if before != nil {
				return before(ctx)
			}
			return nil
		}
	}
	for _, s := range c.Subcommands {
		setUsageErrors(s, path)
	}
}

// zeroAllowed names the numeric flags for which 0 means something
// (statement-timeout 0: the server's default; lock-retries 0: no retry;
// lock-wait 0: try the lock once).
var zeroAllowed = map[string]bool{"statement-timeout": true, "lock-retries": true, "lock-wait": true}

// checkInput refuses, for every command alike, what a flag parser lets
// through: an empty value (--dir ”), a negative or meaningless zero
// duration or count (--lock-wait -5s), and arguments a command does not
// take (migrate up --dir d 0001_x.sql). Each would otherwise run with a
// default the operator did not choose.
func checkInput(ctx *cli.Context, path string) error {
	for _, f := range ctx.Command.Flags {
		name := f.Names()[0]
		if !ctx.IsSet(name) {
			continue
		}
		switch f.(type) {
		case *cli.StringFlag:
			if strings.TrimSpace(ctx.String(name)) == "" {
				return usageError("--%s needs a value (see %s --help)", name, path)
			}
		case *cli.DurationFlag:
			if d := ctx.Duration(name); d < 0 || d == 0 && !zeroAllowed[name] {
				return usageError("--%s must be a positive duration, got %s (see %s --help)", name, d, path)
			}
		case *cli.Float64Flag:
			if v := ctx.Float64(name); v <= 0 {
				return usageError("--%s must be a positive number, got %v (see %s --help)", name, v, path)
			}
		case *cli.IntFlag:
			if n := ctx.Int(name); n < 0 || n == 0 && !zeroAllowed[name] {
				return usageError("--%s must be a positive number, got %d (see %s --help)", name, n, path)
			}
		}
	}
	if ctx.Command.ArgsUsage == "" && ctx.Args().Present() {
		return usageError("unexpected argument %q: %s takes none (see %s --help)", ctx.Args().First(), path, path)
	}
	return nil
}

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

// run executes meshctl with args and returns the process exit code.
//
// Every failure takes this one path: its line on stderr, its exit code
// (exitCode), and under --json its errorJSON on stdout, unless the verb
// already wrote its result there (a report that carries the error, as
// migrate up's does).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	app := newApp(out, stderr)
	args = hoistGlobalSwitches(args)
	err := runApp(ctx, app, args)
	if err != nil {
		reportError(stderr, err)
		if wantsJSON(args) && out.n == 0 {
			if env := envelope(err); env != nil {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				_ = enc.Encode(struct {
					Error *errorJSON `json:"error"`
				}{env})
			}
		}
	}
	return exitCode(err)
}

func runApp(ctx context.Context, app *cli.App, args []string) error {
	if len(args) > 1 {
		if name, help := unknownCommand(app, args[1:]); name != "" {
			return usageError("unknown command %q (see %s --help)", name, help)
		}
	}
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Interrupted: the verb saw it as the server's cancel (57014) or a
		// failed connect; say what really happened.
		err = ctx.Err()
	}
	return err
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

// countingWriter counts what a verb wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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
