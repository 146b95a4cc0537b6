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
