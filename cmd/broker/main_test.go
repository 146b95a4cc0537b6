package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		out  string
	}{
		{"version", []string{"--version"}, nil, 0, "broker dev (unknown)"},
		{"no database", nil, nil, 2, "broker: DATABASE_URL: required"},
		{"stray argument", []string{"serve"}, nil, 2, "takes no arguments"},
		{"bad port", nil, map[string]string{"DATABASE_URL": "postgres://u:pw-secret@h/db", "BROKER_PORT": "x"}, 2, "BROKER_PORT"},
		{"bad skip value", nil, map[string]string{"DATABASE_URL": "postgres://u:pw-secret@h/db", "BROKER_SKIP_MIGRATE": "yes"}, 2, "BROKER_SKIP_MIGRATE"},
		{"malformed DSN", nil, map[string]string{"DATABASE_URL": "postgres://u:pw-secret@h:notaport/db"}, 2, "invalid database URL"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, env(c.env), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%s: exit %d, output %q; want %d containing %q", c.name, code, out, c.code, c.out)
		}
		if strings.Contains(out, "pw-secret") {
			t.Errorf("%s: the password reached the output: %q", c.name, out)
		}
		if c.code == 2 && strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("%s: want one line, got %q", c.name, out)
		}
	}
}
