package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestTermSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain":             "plain",
		"mesh\x1b[2Jid":     `mesh\x1b[2Jid`,
		"two\nlines":        `two\nlines`,
		"tab\there":         `tab\there`,
		"cr\rover":          `cr\rover`,
		"del\x7f":           `del\x7f`,
		"c1\u009bcsi":       `c1\u009bcsi`,
		"ünïcödé 😀":         "ünïcödé 😀",
		"\x00nul":           `\x00nul`,
		"bell\a and \x1b]0": `bell\x07 and \x1b]0`,
	} {
		if got := termSafe(in); got != want {
			t.Errorf("termSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// Outside text printed through env's writers cannot reach the terminal
// raw, while meshctl's own newlines and tabs pass.
func TestTermWriter(t *testing.T) {
	var buf bytes.Buffer
	w := termWriter{&buf}
	n, err := w.Write([]byte("applied 0001_\x1b[2J.sql\tok\nnext line\n"))
	if err != nil || n != len("applied 0001_\x1b[2J.sql\tok\nnext line\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got, want := buf.String(), "applied 0001_\\x1b[2J.sql\tok\nnext line\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A table cell holding a newline or ESC stays in its cell: no forged row,
// no escape sequence.
func TestTableEscapesCells(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: termWriter{&out}, noColor: true}
	if err := e.table([]string{"MESH", "STATE"}, [][]string{{"m1\nm2          | clean", "tamper"}, {"\x1b[2J", "clean"}}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, "\x1b") || strings.Contains(s, "\nm2") {
		t.Errorf("table leaks control characters: %q", s)
	}
	if !strings.Contains(s, `m1\nm2`) || !strings.Contains(s, `\x1b[2J`) {
		t.Errorf("table does not show the escaped values: %q", s)
	}
}

// What a flag parser lets through is refused the same way on every
// command, before anything connects or writes.
func TestCheckInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"migrate", "up", "--dir", ""},
		{"migrate", "up", "--to", ""},
		{"migrate", "up", "--dir", dir, "0001_s.sql"},
		{"migrate", "up", "--lock-wait", "-5s"},
		{"migrate", "up", "--lock-timeout", "0s"},
		{"migrate", "up", "--lock-retries", "-1"},
		{"migrate", "status", "--table", " "},
		{"audit", "keygen", "--out", ""},
		{"audit", "verify", "--mesh", ""},
		{"version", "extra"},
		{"db", "ping", "extra"},
		{"completion", "bash", "zsh"},
	} {
		code, stdout, stderr := runCLI(t, append([]string{"--database-url", "postgres://u:s3cret@127.0.0.1:1/x"}, args...)...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, stderr)
		}
		assertOneLine(t, stderr, "s3cret")
		if stdout != "" {
			t.Errorf("%v: wrote to stdout: %q", args, stdout)
		}
	}
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".key") || strings.HasPrefix(e.Name(), ".pub") {
			t.Errorf("a key file was written: %s", e.Name())
		}
	}
}

// Under --json every failure, flag parsing included, is one errorJSON on
// stdout whose message is the stderr line.
func TestJSONErrorEnvelopeEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "migrate", "up", "--lock-wait"},
		{"--json", "migrate", "status", "--bogus"},
		{"migrate", "status", "--bogus", "--json"},
		{"--json", "bogus"},
		{"--json", "--database-url", "postgres://u:s3cret@127.0.0.1:1/x", "audit", "verify", "--all"},
		{"--json", "--database-url", "postgres://u:s3cret@127.0.0.1:1/x", "db", "ping"},
		{"--json", "--database-url", "postgres://u:s3cret@[::1/x", "db", "ping"},
		{"--json", "db", "ping"},
		{"--json", "audit", "keygen", "--out", ""},
		{"--json", "vectors", "verify", "/nonexistent/file.json"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		assertOneLine(t, stderr, "s3cret")
		var got struct {
			Error *errorJSON `json:"error"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Error == nil {
			t.Errorf("%v: stdout is not the error envelope (%v): %q", args, err, stdout)
			continue
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(stderr, "meshctl: "), "\n"); got.Error.Message != want {
			t.Errorf("%v: message %q, want the stderr line %q", args, got.Error.Message, want)
		}
		if got.Error.Exit != code || code == 0 || got.Error.Code == "" {
			t.Errorf("%v: envelope %+v, exit %d", args, got.Error, code)
		}
		if strings.Contains(stdout, "s3cret") {
			t.Errorf("%v: stdout leaks the password", args)
		}
	}
}

// Flags after a command's arguments are read as flags, as operators type
// them; after "--" nothing is a flag.
func TestFlagsFirst(t *testing.T) {
	app := newApp(nil, nil)
	for _, tt := range []struct{ in, want string }{
		{"meshctl migrate new NAME --dir d --no-transaction", "meshctl migrate new --dir d --no-transaction NAME"},
		{"meshctl --json vectors verify a.json --strict b.json", "meshctl --json vectors verify --strict a.json b.json"},
		{"meshctl migrate new NAME -- --dir", "meshctl migrate new NAME -- --dir"},
		{"meshctl --database-url x migrate status --table=a.b", "meshctl --database-url x migrate status --table=a.b"},
		{"meshctl help migrate", "meshctl help migrate"},
		{"meshctl migrate", "meshctl migrate"},
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A global switch with a value after the command (--json=true) is read
// as the global switch.
func TestGlobalSwitchWithValueAfterTheCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "migrate", "lint", "--json=true", "--dir", "../../migrations")
	if code != 0 || !strings.HasPrefix(stdout, "{") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
