package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Created is the file CreateFile made.
type Created struct {
	Path          string `json:"path"`
	Filename      string `json:"filename"`
	Version       string `json:"version"`
	NoTransaction bool   `json:"no_transaction"`
}

// CreateFile creates the next migration file in dir: the highest version
// of the folder's *.sql files plus one, zero-padded to their width (4
// digits in an empty folder), then _name.sql. A name that starts with its
// own version (0007_add_x) keeps it. It refuses a version another file
// already has and an existing file, and creates the file atomically
// (O_EXCL): a file made meanwhile by someone else is never overwritten,
// and one with the same version made at the same moment is detected
// afterwards (ours is then removed). With noTx the file starts with
// NoTransactionMarker. Errors are *SourceError.
func CreateFile(dir, name string, noTx bool) (*Created, error) {
	name = strings.TrimSuffix(name, ".sql")
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, &SourceError{File: name, Msg: "the name must be a plain file name part such as add_topic_index (no / or \\)"}
	}
	if msg := badName(name); msg != "" {
		return nil, &SourceError{File: name, Msg: msg}
	}
	versions, width, err := folderVersions(dir)
	if err != nil {
		return nil, err
	}
	version, rest := versionPrefix(name), name
	if version != "" && len(name) > len(version) && name[len(version)] == '_' {
		rest = name[len(version)+1:]
		if other, dup := versions[version]; dup {
			return nil, &SourceError{File: name + ".sql", Msg: "version " + version + " is already used by " + other + "; leave the number out to get the next one"}
		}
	} else {
		next := 1
		for v := range versions {
			if n, err := strconv.Atoi(v); err == nil && n+1 > next {
				next = n + 1
			}
		}
		version = fmt.Sprintf("%0*d", width, next)
	}
	if rest == "" {
		return nil, &SourceError{File: name, Msg: "the name needs a description after the version, e.g. 0007_add_topic_index"}
	}
	c := &Created{Filename: version + "_" + rest + ".sql", Version: version, NoTransaction: noTx}
	c.Path = filepath.Join(dir, c.Filename)
	body := ""
	if noTx {
		body = NoTransactionMarker + "\n"
	}
	fh, err := os.OpenFile(c.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, &SourceError{File: c.Filename, Msg: "the file already exists; it is left as it is"}
		}
		return nil, &SourceError{File: c.Filename, Msg: "cannot create the file: " + pathErr(err)}
	}
	_, werr := fh.WriteString(body)
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(c.Path)
		return nil, &SourceError{File: c.Filename, Msg: "cannot write the file: " + pathErr(werr)}
	}
	// Another `new` at the same moment may have taken the same version
	// under another name: keep neither ambiguous, remove ours.
	after, _, err := folderVersionsExcept(dir, c.Filename)
	if err == nil {
		if other, dup := after[version]; dup {
			_ = os.Remove(c.Path)
			return nil, &SourceError{File: c.Filename, Msg: "version " + version + " was just taken by " + other + "; run the command again"}
		}
	}
	return c, nil
}

// folderVersions maps the versions of dir's *.sql files to a file using
// each, and returns the width new versions are padded to: the most common
// width among them, 4 in a folder without numbered files.
func folderVersions(dir string) (map[string]string, int, error) {
	return folderVersionsExcept(dir, "")
}

func folderVersionsExcept(dir, except string) (map[string]string, int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, &SourceError{Msg: "migration folder " + dir + " does not exist"}
		}
		return nil, 0, &SourceError{Msg: "cannot read the migration folder: " + pathErr(err)}
	}
	versions := map[string]string{}
	widths := map[int]int{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".sql") || n == except {
			continue
		}
		if v := versionPrefix(n); v != "" {
			if _, seen := versions[v]; !seen {
				versions[v] = n
			}
			widths[len(v)]++
		}
	}
	width, most := 4, 0
	for w, n := range widths {
		if n > most || n == most && w > width {
			width, most = w, n
		}
	}
	return versions, width, nil
}
