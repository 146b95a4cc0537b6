package vectors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// WriteDir writes files (name → contents) into dir so that dir is never
// seen half-replaced: the new directory is built beside dir (a copy of the
// files dir already holds, then the new ones written over it) and put in
// place in one step — an atomic exchange of the two directories where the
// system has one (Linux renameat2 RENAME_EXCHANGE), else a rename aside and
// a rename in, undone if the second fails. On any error dir is left exactly
// as it was and the temporary directory is removed. dir is created if
// missing.
func WriteDir(dir string, files map[string][]byte) error {
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	info, statErr := os.Stat(dir)
	switch {
	case statErr == nil && !info.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case statErr != nil && !errors.Is(statErr, os.ErrNotExist):
		return statErr
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".new-")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	mode := os.FileMode(0o755)
	if statErr == nil {
		mode = info.Mode().Perm()
		if err := os.CopyFS(tmp, os.DirFS(dir)); err != nil {
			return fmt.Errorf("copy %s: %w", dir, err)
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n != filepath.Base(n) || n == "." || n == ".." {
			return fmt.Errorf("file name %q is not a plain name", n)
		}
		if err := writeFileSync(filepath.Join(tmp, n), files[n]); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if statErr != nil { // dir did not exist
		if err := rename(tmp, dir); err != nil {
			return err
		}
		done = true
		return nil
	}
	if err := exchange(tmp, dir); err != nil {
		return err
	}
	// tmp now holds the old contents.
	return os.RemoveAll(tmp)
}

// Hooks for tests that inject failures.
var (
	writeFileSync = func(path string, data []byte) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if serr := f.Sync(); err == nil {
			err = serr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(path, 0o644) // CopyFS may have left another mode
		}
		return err
	}
	rename   = os.Rename
	exchange = exchangeDirs
)

// renameSwap is the fallback exchange: dir aside, new in, old back on
// failure. new ends up holding the old contents, as with an atomic exchange.
func renameSwap(newDir, dir string) error {
	aside := newDir + ".old"
	if err := rename(dir, aside); err != nil {
		return err
	}
	if err := rename(newDir, dir); err != nil {
		if rerr := rename(aside, dir); rerr != nil {
			return fmt.Errorf("%w (and restoring %s from %s failed: %v)", err, dir, aside, rerr)
		}
		return err
	}
	return rename(aside, newDir)
}
