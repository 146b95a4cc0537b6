package migrate

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// unreadableFS fails to open one file, as a permission problem would.
type unreadableFS struct {
	fstest.MapFS
	bad string
}

func (u unreadableFS) Open(name string) (fs.File, error) {
	if name == u.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return u.MapFS.Open(name)
}

func (u unreadableFS) ReadDir(name string) ([]fs.DirEntry, error) { return u.MapFS.ReadDir(name) }

func (u unreadableFS) ReadFile(name string) ([]byte, error) {
	if name == u.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return u.MapFS.ReadFile(name)
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestLoadSource(t *testing.T) {
	good := fstest.MapFS{
		"0002_b.sql":     file("SELECT 2;"),
		"0001_a.sql":     file("SELECT 1;"),
		"0010_c.sql":     file("SELECT 10;"),
		"README.md":      file("not sql"),
		"sub/0003.sql":   file("SELECT 3;"), // not recursive
		"0001_a.sql.bak": file("x"),
	}
	src, err := LoadSource(good)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range src.Files {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"0001_a.sql", "0002_b.sql", "0010_c.sql"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0001_a.sql.bak", "README.md", "sub"}, src.Ignored); diff != "" {
		t.Errorf("ignored (-want +got):\n%s", diff)
	}
	// sha256 of the raw bytes, lowercase hex (upstream-compatible).
	if got := src.Lookup("0001_a.sql").SHA256; got != "17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a" {
		t.Errorf("sha256 %q", got)
	}
}

func TestLoadSourceBadInput(t *testing.T) {
	tests := []struct {
		name string
		fsys fs.FS
		want string
	}{
		{"missing folder", fstest.MapFS{"x/0001.sql": file("")}, "no *.sql migration files"},
		{"empty folder", fstest.MapFS{}, "no *.sql migration files"},
		{"only other files", fstest.MapFS{"notes.txt": file("x")}, "no *.sql migration files"},
		{"not utf-8", fstest.MapFS{"0001_a.sql": file("SELECT 1;\n-- caf\xe9\n")}, "0001_a.sql: not valid UTF-8 at line 2:7"},
		{"nul byte", fstest.MapFS{"0001_a.sql": file("SELECT\x001;")}, "0001_a.sql: contains a NUL byte at line 1:7"},
		{"space in name", fstest.MapFS{"0001 add x.sql": file("SELECT 1;")}, "0001 add x.sql: file name contains whitespace"},
		{"unreadable", unreadableFS{MapFS: fstest.MapFS{"0001_a.sql": file("SELECT 1;")}, bad: "0001_a.sql"}, "0001_a.sql: cannot read the file: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSource(tt.fsys)
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("want *SourceError, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	src, err := LoadSource(fstest.MapFS{
		"0001_a.sql": file("SELECT 1;"),
		"0002_b.sql": file("SELECT 2;"),                         // applied with another hash, cosmetic
		"0003_c.sql": file("SELECT 3;"),                         // out of order
		"0004_d.sql": file("SELECT 4;"),                         // applied
		"0005_e.sql": file("SELECT 5;"),                         // pending
		"0006_f.sql": file("SELECT 6;\n"),                       // upstream row, only trailing newline differs
		"0007_g.sql": file("SELECT 7 + 1;"),                     // semantic change
		"0008_h.sql": file(NoTransactionMarker + "\nSELECT 8;"), // failed
		"0010_j.sql": file("SELECT 10;"),                        // renamed from 0009_old-j.sql
		"0011_k.sql": file("SELECT  11;"),                       // row with a hash of the older algorithm
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	row := func(f, body string) trackRow {
		return trackRow{sha256: mustFile(t, "x", body).SHA256, appliedAt: at, normalized: f}
	}
	rows := map[string]trackRow{
		"0001_a.sql":     row(src.Lookup("0001_a.sql").Normalized(), "SELECT 1;"),
		"0002_b.sql":     row(src.Lookup("0002_b.sql").Normalized(), "SELECT   2; -- reformatted"),
		"0004_d.sql":     row("", "SELECT 4;"),
		"0006_f.sql":     row("", "SELECT 6;"),
		"0007_g.sql":     row(NormalizedSHA256("SELECT 7;"), "SELECT 7;"),
		"0009_gone.sql":  row("", "SELECT 9;"),
		"0009_old-j.sql": row("", "SELECT 10;"),
		"0011_k.sql":     row(strings.Repeat("ab", 32), "SELECT 11;"),
	}
	partial := map[string]*Failure{"0008_h.sql": {StatementsDone: 0, Statement: 1, Error: "boom"}}
	st := &Status{Counts: map[State]int{}}
	if err := classify(st, src, rows, partial); err != nil {
		t.Fatal(err)
	}
	type got struct {
		Name   string
		State  State
		Change string
	}
	var out []got
	for _, f := range st.Files {
		out = append(out, got{f.Filename, f.State, f.Change})
	}
	want := []got{
		{"0001_a.sql", StateApplied, ""},
		{"0002_b.sql", StateChanged, ChangeCosmetic},
		{"0003_c.sql", StateOutOfOrder, ""},
		{"0004_d.sql", StateApplied, ""},
		{"0005_e.sql", StateOutOfOrder, ""},
		// Without a token hash nothing text-level is safe to call cosmetic
		// (a trailing newline or CR may sit inside a string).
		{"0006_f.sql", StateChanged, ChangeUnclassified},
		{"0007_g.sql", StateChanged, ChangeSemantic},
		{"0008_h.sql", StateFailed, ""},
		{"0009_gone.sql", StateMissingFile, ""},
		{"0010_j.sql", StateRenamed, ""},
		{"0011_k.sql", StateChanged, ChangeUnclassified},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	for _, f := range st.Files {
		if f.State == StateRenamed && f.RenamedFrom != "0009_old-j.sql" {
			t.Errorf("%s renamed from %q, want 0009_old-j.sql", f.Filename, f.RenamedFrom)
		}
	}
	if st.Counts[StateRenamed] != 1 || st.Counts[StateMissingFile] != 1 {
		t.Errorf("counts %v: the renamed file's row must not also count as missing", st.Counts)
	}
	if !st.Drift() || !st.Pending() {
		t.Errorf("Drift() = %v, Pending() = %v; want both true", st.Drift(), st.Pending())
	}
}
