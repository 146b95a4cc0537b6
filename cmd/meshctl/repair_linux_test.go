package main

import (
	"bytes"
	"strings"
	"testing"
)

// On a terminal, a repair asks; only y or yes proceeds.
func TestRepairConfirmOnTerminal(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "maybe\n": false} {
		master, tty := openPTY(t)
		if _, err := master.WriteString(answer); err != nil {
			t.Fatal(err)
		}
		var prompt bytes.Buffer
		ok, err := confirm(tty, &prompt, "forget the row of 0007_old.sql")
		tty.Close()
		master.Close()
		if err != nil || ok != want {
			t.Errorf("answer %q: %v %v, want %v", answer, ok, err, want)
		}
		if !strings.Contains(prompt.String(), "This will forget the row of 0007_old.sql.\nProceed? [y/N] ") {
			t.Errorf("prompt %q", prompt.String())
		}
	}
	// Not a terminal: refused, naming --yes.
	if _, err := confirm(strings.NewReader("y\n"), &bytes.Buffer{}, "x"); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("not a terminal: %v", err)
	}
}
