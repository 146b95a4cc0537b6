package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// runCLIOnTerminal runs meshctl with stderr on a pseudo-terminal (stdout
// stays a buffer, as when an operator pipes it) and returns what the
// terminal received.
func runCLIOnTerminal(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("TERM", "xterm")
	master, tty := openPTY(t)
	defer master.Close()
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 200}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the terminal side is closed
		got <- string(b)
	}()
	var out bytes.Buffer
	code = run(context.Background(), append([]string{"meshctl"}, args...), &out, tty)
	tty.Close()
	// The terminal turns "\n" into "\r\n"; undo it so tests see what was written.
	return code, out.String(), strings.ReplaceAll(<-got, "\r\n", "\n")
}

// openPTY opens a pseudo-terminal: the master side, which the test reads
// and writes as a user would, and the terminal side for the program.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	mfd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	return master, tty
}

func TestProgressOnTerminal(t *testing.T) {
	db := auditDB(t)
	// One line, redrawn in place and cleared before the table or JSON.
	anyTotal := regexp.MustCompile(`^\rverifying: 6 (/ ~[0-9,]+ )?rows.*\x1b\[K\r\x1b\[K$`)
	for _, tt := range []struct {
		args []string
		bar  *regexp.Regexp
	}{
		{[]string{"--json", "audit", "verify", "--all"}, anyTotal},
		{[]string{"audit", "verify"}, anyTotal},
		// One mesh: the count is exact.
		{[]string{"audit", "verify", "--mesh", "one"}, regexp.MustCompile(`^\rverifying: 3 / ~3 rows  100%.*\x1b\[K\r\x1b\[K$`)},
	} {
		code, stdout, stderr := runCLIOnTerminal(t, append([]string{"--database-url", db.URL}, tt.args...)...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d\n%s%s", tt.args, code, stdout, stderr)
		}
		if tt.args[0] == "--json" {
			var v map[string]any
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Errorf("%v: stdout is not JSON (%v):\n%s", tt.args, err, stdout)
			}
		}
		if !tt.bar.MatchString(stderr) {
			t.Errorf("%v: the terminal got %q, want one bar line, cleared", tt.args, stderr)
		}
	}
	// Before or after the command, as the other global switches.
	for _, args := range [][]string{{"--no-progress", "audit", "verify"}, {"audit", "verify", "--no-progress"}} {
		code, _, stderr := runCLIOnTerminal(t, append([]string{"--database-url", db.URL}, args...)...)
		if code != ExitOK || stderr != "" {
			t.Errorf("%v: exit %d, the terminal got %q", args, code, stderr)
		}
	}

	empty := pgtest.NewEmptyDB(t)
	code, _, stderr := runCLIOnTerminal(t, "--database-url", empty.URL, "migrate", "up")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	total := len(lines)
	if code != ExitOK || total < 2 {
		t.Fatalf("migrate up: exit %d, the terminal got %q", code, stderr)
	}
	for i, line := range lines {
		prefix := fmt.Sprintf("[%*d/%d] applied ", len(fmt.Sprint(total)), i+1, total)
		if !strings.HasPrefix(line, prefix) {
			t.Errorf("migrate up line %d: %q, want it to start %q", i+1, line, prefix)
		}
	}
}

// backfill run on a terminal draws one progress line per job (rows of the
// estimate, batch size and duration) and clears it before the summary.
func TestBackfillProgressOnTerminal(t *testing.T) {
	db := pgtest.NewDB(t)
	seedBackfill(t, db, 3000)
	code, stdout, stderr := runCLIOnTerminal(t, "--database-url", db.URL, "backfill", "run", "notifications", "--batch-size", "200")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "\rnotifications: ") || !strings.Contains(stderr, "batch 200 (") || !strings.Contains(stderr, " rows") {
		t.Errorf("no progress line on the terminal: %q", stderr)
	}
	if !strings.HasSuffix(stderr, "\r\x1b[K") {
		t.Errorf("the progress line is not cleared at the end: %q", stderr[max(0, len(stderr)-60):])
	}
	if !strings.Contains(stdout, "notifications: done") {
		t.Errorf("summary: %q", stdout)
	}
}
