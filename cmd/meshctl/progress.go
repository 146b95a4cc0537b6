package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/term"
)

// progressTerminal reports whether progress belongs on e.stderr: it is a
// terminal (not a file, pipe or CI log, which would fill with redraws),
// TERM is not "dumb", and --no-progress was not given. It also returns the
// terminal's width (0 if unknown).
func (e *env) progressTerminal() (bool, int) {
	if e.noProgress || os.Getenv("TERM") == "dumb" {
		return false, 0
	}
	f, ok := raw(e.stderr).(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		w = 0
	}
	return true, w
}

// rowBar draws one status line of rows read, redrawn in place:
//
//	verifying: 1,234,567 / ~2,000,000 rows  61%  312,004 rows/s  ETA 2s
//
// A dozen lines do what a progress-bar library would here: the caller
// already throttles (audit.ProgressInterval), the total is an estimate
// the count may pass (a library bar then stops, or claims 100%), and
// nothing but this line is on the terminal while it runs.
type rowBar struct {
	w     io.Writer
	label string
	total int64 // estimated rows; < 1 when unknown
	width int   // terminal columns; 0 when unknown
	now   func() time.Time
	drawn bool
	// The rate is measured from the first rows seen, not from the start:
	// the query's own start-up would otherwise show as a slow rate and a
	// wild ETA for the first seconds.
	firstAt   time.Time
	firstRows int64
	// extra is shown after the rate (a batch size, why a run waits).
	extra string
}

// rateAfter is how long the bar measures before it shows a rate and ETA.
const rateAfter = time.Second / 2

func newRowBar(w io.Writer, label string, total int64, width int) *rowBar {
	return &rowBar{w: raw(w), label: termSafe(label), total: total, width: width, now: time.Now}
}

// update redraws the line for rows read so far.
func (b *rowBar) update(rows int64) {
	// Past a stale estimate, the total, percentage and ETA would lie.
	known := b.total > 0 && rows <= b.total
	line := b.label + ": " + thousands(rows)
	if known {
		line += " / ~" + thousands(b.total)
	}
	line += " rows"
	now := b.now()
	if rows > 0 && b.firstAt.IsZero() {
		b.firstAt, b.firstRows = now, rows
	}
	rate := 0.0
	if d := now.Sub(b.firstAt); !b.firstAt.IsZero() && d >= rateAfter {
		rate = float64(rows-b.firstRows) / d.Seconds()
	}
	if known {
		line += fmt.Sprintf("  %d%%", rows*100/b.total)
	}
	if rate > 0 {
		line += "  " + thousands(int64(rate)) + " rows/s"
		if known && rows < b.total {
			eta := time.Duration(float64(b.total-rows) / rate * float64(time.Second))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	if b.extra != "" {
		line += "  " + termSafe(b.extra)
	}
	// Stay on one line: a wrapped line cannot be redrawn with \r.
	if b.width > 1 && len(line) > b.width-1 {
		line = line[:b.width-1]
	}
	fmt.Fprint(b.w, "\r"+line+"\x1b[K")
	b.drawn = true
}

// clear erases the line, leaving the cursor where the bar began, so what
// is printed next (the table, an error) starts on a clean line.
func (b *rowBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// thousands formats n with comma separators: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
