package migrate

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// compareNames orders file names as upstream does, with JavaScript's
// default Array.prototype.sort: by UTF-16 code units. It equals byte order
// except for characters above U+FFFF (surrogate pairs, 0xD800-0xDFFF)
// against U+E000-U+FFFF: 0001_😀.sql sorts before 0001_Ａ.sql.
func compareNames(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return compareUnits(utf16.AppendRune(nil, ra), utf16.AppendRune(nil, rb))
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func compareUnits(a, b []uint16) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// Rename is a pending file with the content (sha256) of a tracking row
// whose file is gone: the applied file was renamed.
type Rename struct {
	From string `json:"from"` // the name in the tracking row
	To   string `json:"to"`   // the file on disk now
	// Repair is the repair verb that records the rename, so the file is
	// not run a second time: "repair rename FROM TO".
	Repair string `json:"repair"`
}

// RenameError means pending files are applied files under a new name. Up
// refuses to run them again; nothing was written.
type RenameError struct {
	Renames []Rename
}

func (e *RenameError) Error() string {
	var parts []string
	for _, r := range e.Renames {
		parts = append(parts, r.To+" (was "+r.From+")")
	}
	return "applied files were renamed; they are not run again: " + strings.Join(parts, ", ")
}

// minForeignRows is the fewest tracking rows that can be called a history
// from another folder: a single row that names no file is reported as a
// missing file (a hand-made row, a deleted file), not as a foreign folder.
const minForeignRows = 2

// ForeignHistoryError means the tracking table records a history that is
// not this folder's: rows exist, none of them names a file of the folder,
// and most of them match no file's content either. Applying the folder
// would run its first file against a database migrated from elsewhere.
// Nothing was written.
type ForeignHistoryError struct {
	Table    string
	Rows     int      // tracking rows
	Unknown  int      // rows that match no file by name or content
	Files    int      // files in the folder
	Examples []string // a few of the rows' file names
}

func (e *ForeignHistoryError) Error() string {
	return fmt.Sprintf("the tracking table %s records a history from another migration folder: none of its %d rows names one of the folder's %d files, %d match no file's content (e.g. %s)",
		e.Table, e.Rows, e.Files, e.Unknown, strings.Join(e.Examples, ", "))
}
