package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// NoTransactionMarker, as a line comment before the first statement of a
// file, makes the runner execute the file statement by statement outside a
// transaction (needed for CREATE INDEX CONCURRENTLY and friends).
const NoTransactionMarker = "-- meshctl:no-transaction"

// File is one migration file read from the source folder.
type File struct {
	Name          string // base name, e.g. 0001_init.sql
	SHA256        string // lowercase hex of the raw bytes (upstream-compatible)
	Body          string
	NoTransaction bool

	// Lexing is deferred until needed (pending or changed files): a warm
	// run over thousands of applied files only hashes them.
	lexOnce    sync.Once
	statements []Statement
	syntaxErr  *SyntaxError
	normalized string

	lintOnce sync.Once
	findings []Finding
}

func (f *File) lex() {
	f.lexOnce.Do(func() {
		// A marked file goes to the server statement by statement, so a
		// SET standard_conforming_strings changes how the rest is read;
		// any other file is one query string, parsed whole.
		f.statements, f.syntaxErr = split(f.Body, false, f.NoTransaction)
		f.normalized = normalizedHash(f.Body, f.statements, f.NoTransaction)
	})
}

// Statements returns the file split into statements.
func (f *File) Statements() []Statement { f.lex(); return f.statements }

// SyntaxErr is set when the file cannot be split safely.
func (f *File) SyntaxErr() *SyntaxError { f.lex(); return f.syntaxErr }

// Normalized is NormalizedSHA256 of the body.
func (f *File) Normalized() string { f.lex(); return f.normalized }

// SourceError says why the migration folder cannot be used. Nothing is
// read from or written to the database when one is returned.
type SourceError struct {
	File string // empty when the problem is the folder itself
	Msg  string
}

// Remedies: a problem of the folder itself means the wrong folder was
// given; a file's problem is fixed in the file (its message says how).
func (e *SourceError) Remedies() []Remedy {
	if e.File == "" {
		return []Remedy{RemedyCheckFolder}
	}
	return nil
}

func (e *SourceError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return e.File + ": " + e.Msg
}

// Source is the ordered set of migration files of one folder.
type Source struct {
	Files   []*File
	Ignored []string // entries that are not *.sql files (directories, other names)
	byName  map[string]*File
}

// Lookup returns the file named name, or nil.
func (s *Source) Lookup(name string) *File {
	return s.byName[name]
}

// LoadSource reads every *.sql file directly in the root of fsys (not
// recursively), ordered as upstream orders them (JavaScript's sort: UTF-16
// code units). It refuses an empty folder, names with whitespace or control
// characters, files that are not UTF-8 or contain NUL bytes, and files that
// cannot work whatever the database: a byte order mark, psql
// meta-commands, COPY FROM STDIN. Each would otherwise fail half-way
// through a run, or hang holding the lock.
func LoadSource(fsys fs.FS) (*Source, error) {
	src, err := ReadSource(fsys)
	if err != nil {
		return nil, err
	}
	for _, f := range src.Files {
		if p := contentFindings(f, true); len(p) > 0 {
			return nil, &SourceError{File: f.Name, Msg: fmt.Sprintf("line %d: %s: %s; %s", p[0].Line, p[0].Message, p[0].Why, p[0].Fix)}
		}
	}
	return src, nil
}

// ReadSource is LoadSource without the checks of the files' SQL, for lint,
// which reports those problems as findings.
func ReadSource(fsys fs.FS) (*Source, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &SourceError{Msg: "migration folder does not exist"}
		}
		return nil, &SourceError{Msg: "cannot read the migration folder: " + pathErr(err)}
	}
	src := &Source{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			src.Ignored = append(src.Ignored, name)
			continue
		}
		if msg := badName(name); msg != "" {
			return nil, &SourceError{File: name, Msg: msg}
		}
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, &SourceError{File: name, Msg: "cannot read the file: " + pathErr(err) + "; check its permissions"}
		}
		f, err := newFile(name, raw)
		if err != nil {
			return nil, err
		}
		src.Files = append(src.Files, f)
	}
	if len(src.Files) == 0 {
		return nil, &SourceError{Msg: "no *.sql migration files in the folder"}
	}
	sort.Slice(src.Files, func(i, j int) bool { return compareNames(src.Files[i].Name, src.Files[j].Name) < 0 })
	src.byName = make(map[string]*File, len(src.Files))
	for _, f := range src.Files {
		src.byName[f.Name] = f
	}
	return src, nil
}

func newFile(name string, raw []byte) (*File, error) {
	if !utf8.Valid(raw) {
		off := 0
		for off < len(raw) {
			r, n := utf8.DecodeRune(raw[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		l, c := lineCol(string(raw), off)
		return nil, &SourceError{File: name, Msg: fmt.Sprintf("not valid UTF-8 at line %d:%d; save the file as UTF-8", l, c)}
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		l, c := lineCol(string(raw), i)
		return nil, &SourceError{File: name, Msg: fmt.Sprintf("contains a NUL byte at line %d:%d; PostgreSQL cannot accept it", l, c)}
	}
	sum := sha256.Sum256(raw)
	body := string(raw)
	f := &File{Name: name, SHA256: hex.EncodeToString(sum[:]), Body: body}
	f.NoTransaction = hasNoTxMarker(body)
	return f, nil
}

// hasNoTxMarker reports whether the marker comment appears on its own line
// before the first statement.
func hasNoTxMarker(body string) bool {
	for rest := body; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case strings.EqualFold(t, NoTransactionMarker):
			return true
		case strings.HasPrefix(t, "--"):
			continue
		default:
			return false
		}
	}
	return false
}

func badName(name string) string {
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "file name contains whitespace or a control character; rename it (e.g. use _ instead of spaces)"
		}
	}
	if !utf8.ValidString(name) {
		return "file name is not valid UTF-8; rename it"
	}
	return ""
}

// pathErr returns the cause of a *fs.PathError without repeating the path.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
