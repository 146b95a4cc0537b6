package vectors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// WriteDir writes files (name → contents) into dir, created if missing,
// replacing files of those names and leaving every other entry of dir
// alone (its contents and modes are never read or rewritten).
//
// All or nothing on error: every new file is first written and synced as
// a temporary file inside dir; only when all are written are they renamed
// over their targets, each old file kept under a hard link until every
// rename has succeeded. A failure at any step removes the temporary files
// and puts every old file back, so dir is left as it was. (A crash during
// the renames can leave some files new and others old, each whole.)
func WriteDir(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		if n != filepath.Base(n) || n == "." || n == ".." || n == "" {
			return fmt.Errorf("file name %q is not a plain name", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	info, err := os.Stat(dir)
	created := false
	switch {
	case err == nil && !info.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		created = true
	case err != nil:
		return err
	}
	s := &staging{dir: dir}
	if err := s.write(names, files); err != nil {
		s.abort()
		if created {
			os.Remove(dir) // empty again
		}
		return err
	}
	if err := s.commit(names); err != nil {
		return err
	}
	return syncDir(dir)
}

// staging is one WriteDir's temporary files and the hard links that keep
// the files they replace.
type staging struct {
	dir     string
	temps   map[string]string // name → temporary file
	backups map[string]string // name → hard link to the old file
	done    []string          // names renamed into place
}

func (s *staging) write(names []string, files map[string][]byte) error {
	s.temps = map[string]string{}
	for _, n := range names {
		f, err := os.CreateTemp(s.dir, "."+n+".new-")
		if err != nil {
			return err
		}
		f.Close()
		s.temps[n] = f.Name()
		if err := writeFileSync(f.Name(), files[n]); err != nil {
			return err
		}
	}
	return nil
}

// commit renames every temporary file over its target, keeping the old
// file under a link until all have succeeded; on a failure it undoes the
// renames already made.
func (s *staging) commit(names []string) error {
	s.backups = map[string]string{}
	for _, n := range names {
		target := filepath.Join(s.dir, n)
		if _, err := os.Lstat(target); err == nil {
			backup := s.temps[n] + ".old"
			if err := os.Link(target, backup); err != nil {
				s.abort()
				return err
			}
			s.backups[n] = backup
		}
		if err := rename(s.temps[n], target); err != nil {
			s.abort()
			return err
		}
		delete(s.temps, n)
		s.done = append(s.done, n)
	}
	for _, b := range s.backups {
		os.Remove(b)
	}
	return nil
}

// abort puts back every file already replaced (or removes it, when it is
// new) and removes the temporary files and links.
func (s *staging) abort() {
	for _, n := range s.done {
		target := filepath.Join(s.dir, n)
		if b, ok := s.backups[n]; ok {
			os.Rename(b, target)
			delete(s.backups, n)
		} else {
			os.Remove(target)
		}
	}
	for _, t := range s.temps {
		os.Remove(t)
	}
	for _, b := range s.backups {
		os.Remove(b)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Hooks for tests that inject failures.
var (
	writeFileSync = func(path string, data []byte) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
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
			err = os.Chmod(path, 0o644) // CreateTemp makes it 0600
		}
		return err
	}
	rename = os.Rename
)
