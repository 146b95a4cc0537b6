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
		if e.IsDir() {
			out[e.Name()+"/"] = ""
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// TestWriteDirNeverHalfReplaced: a failure at any step (the fifth file's
// write, the first rename, a rename midway after others succeeded) leaves
// DIR exactly as it was, with no temporary file in it; success replaces
// the generated files and leaves the others, their modes included.
func TestWriteDirNeverHalfReplaced(t *testing.T) {
	files, err := Generate([]byte(DefaultSeed))
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("injected failure")
	failRename := func(at int) func() func() {
		return func() func() {
			orig, n := rename, 0
			rename = func(a, b string) error {
				if n++; n == at {
					return fail
				}
				return orig(a, b)
			}
			return func() { rename = orig }
		}
	}
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
		{"first rename fails", failRename(1)},
		{"a rename midway fails, the earlier ones undone", failRename(len(files) / 2)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			i := 0
			for name := range files {
				if i++; i%2 == 0 { // half the files exist, half are new
					os.WriteFile(filepath.Join(dir, name), []byte("old "+name), 0o644)
				}
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
		})
	}
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("keep me"), 0o644)
	os.WriteFile(filepath.Join(dir, "private.txt"), []byte("secret"), 0o600)
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	if err := WriteDir(dir, files); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	if got["README.md"] != "keep me" || len(got) != len(files)+3 {
		t.Errorf("after success: %d entries, README %q", len(got), got["README.md"])
	}
	for name, data := range files {
		if got[name] != string(data) {
			t.Errorf("%s not replaced", name)
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v", name, st.Mode(), err)
		}
	}
	for name, mode := range map[string]os.FileMode{".": 0o700, "private.txt": 0o600, "sub": 0o700} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", name, st.Mode().Perm(), mode, err)
		}
	}
}

// WriteDir into the current directory ("--out ."), and into one that does
// not exist yet.
func TestWriteDirHereAndNew(t *testing.T) {
	files := map[string][]byte{"a.json": []byte("{}"), "b.json": []byte("[]")}
	t.Chdir(t.TempDir())
	if err := WriteDir(".", files); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, "."); len(got) != 2 || got["a.json"] != "{}" {
		t.Errorf("WriteDir(\".\"): %v", got)
	}
	if err := WriteDir("new/deeper", files); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, "new/deeper"); len(got) != 2 {
		t.Errorf("new directory: %v", got)
	}
}
