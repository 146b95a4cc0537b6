package vectors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// TestWriteDirNeverHalfReplaced: a failure at any step (the fifth file's
// write, the final exchange, the fallback's second rename) leaves DIR
// exactly as it was and no temporary directory beside it; success
// replaces the generated files and keeps the others.
func TestWriteDirNeverHalfReplaced(t *testing.T) {
	files, err := Generate([]byte(DefaultSeed))
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("injected failure")
	for _, tt := range []struct {
		name   string
		inject func() func()
	}{
		{"fifth write fails", func() func() {
			orig, n := writeFileSync, 0
			writeFileSync = func(p string, d []byte) error {
				if n++; n == 5 {
					return fail
				}
				return orig(p, d)
			}
			return func() { writeFileSync = orig }
		}},
		{"exchange fails", func() func() {
			orig := exchange
			exchange = func(string, string) error { return fail }
			return func() { exchange = orig }
		}},
		{"fallback: rename in fails, old restored", func() func() {
			origX, origR, n := exchange, rename, 0
			exchange = renameSwap
			rename = func(a, b string) error {
				if n++; n == 2 {
					return fail
				}
				return origR(a, b)
			}
			return func() { exchange, rename = origX, origR }
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name := range files {
				os.WriteFile(filepath.Join(dir, name), []byte("old "+name), 0o644)
			}
			os.WriteFile(filepath.Join(dir, "README.md"), []byte("keep me"), 0o644)
			before := snapshot(t, dir)
			restore := tt.inject()
			err := WriteDir(dir, files)
			restore()
			if !errors.Is(err, fail) {
				t.Fatalf("err = %v, want the injected failure", err)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("DIR changed (-before +after):\n%s", diff)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 1 {
				t.Errorf("left beside DIR: %d entries", len(entries))
			}
		})
	}
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("keep me"), 0o644)
	if err := WriteDir(dir, files); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	if got["README.md"] != "keep me" || len(got) != len(files)+1 {
		t.Errorf("after success: %d files, README %q", len(got), got["README.md"])
	}
	for name, data := range files {
		if got[name] != string(data) {
			t.Errorf("%s not replaced", name)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("temporary directory left behind: %d entries", len(entries))
	}
}
