package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/claudemesh/meshctl/migrate"
)

func TestReportErrorAndExitCodeOnInterrupt(t *testing.T) {
	ie := &migrate.InterruptedError{File: "0002_b.sql", Err: context.Canceled}
	cases := []struct {
		name string
		err  error
		line string
		code int
	}{
		{"bare cancel", context.Canceled, "meshctl: interrupted\n", ExitError},
		{"wrapped cancel", fmt.Errorf("reading: %w", context.Canceled), "meshctl: interrupted\n", ExitError},
		{"migrate says what stayed applied", ie, "meshctl: " + ie.Error() + "\n", ExitError},
		{"joined with a cleanup failure", errors.Join(ie, errors.New("flush failed")), "meshctl: " + ie.Error() + "\n", ExitError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			reportError(&b, migrateError(tc.err))
			if b.String() != tc.line {
				t.Errorf("printed %q, want %q", b.String(), tc.line)
			}
			if got := exitCode(migrateError(tc.err)); got != tc.code {
				t.Errorf("exit %d, want %d", got, tc.code)
			}
		})
	}
}

// Ctrl-C before or during any verb: whatever the verb's error says (a
// server's 57014, a failed connect), meshctl reports the interruption and
// exits 1.
func TestInterruptedRunSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"--database-url", "postgres://u:s3cret@127.0.0.1:1/x", "audit", "verify"},
		{"--database-url", "postgres://u:s3cret@127.0.0.1:1/x", "db", "ping"},
		{"--database-url", "postgres://u:s3cret@127.0.0.1:1/x", "migrate", "status"},
	} {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"meshctl"}, args...), &out, &errb)
		if code != ExitError || errb.String() != "meshctl: interrupted\n" {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", args[2:], code, errb.String(), "meshctl: interrupted\n")
		}
	}
}
