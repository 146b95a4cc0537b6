package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPaintStatesOnlyWholeStateCells(t *testing.T) {
	in := [][]string{{"0001_init.sql", "applied", "abc"}, {"m1", "TAMPERED", "not applied"}}
	got := paintStates(in)
	want := [][]string{
		{"0001_init.sql", ansiGreen + "applied" + ansiReset, "abc"},
		{"m1", ansiRed + "TAMPERED" + ansiReset, "not applied"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paintStates (-want +got):\n%s", diff)
	}
	if in[0][1] != "applied" {
		t.Error("paintStates changed its input")
	}
}

// Output that is not a terminal (files, pipes, CI logs, tests) never gets
// escape codes, and neither does --no-color.
func TestNoColourOffTerminal(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out}
	if e.colorOut() {
		t.Fatal("a buffer is not a terminal")
	}
	if err := e.table([]string{"file", "state"}, [][]string{{"a.sql", "applied"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("escape codes in non-terminal output: %q", out.String())
	}
}
