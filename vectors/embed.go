package vectors

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

// data holds the default suites: every *.json under data/ (the third-party
// files with their README and licences beside them).
//
//go:embed data/*.json
var data embed.FS

// EmbeddedFiles returns the names and contents of the embedded vector files,
// sorted by name.
func EmbeddedFiles() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(data, "data", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		b, err := data.ReadFile(p)
		out[path.Base(p)] = b
		return err
	})
	return out, err
}

// Embedded loads every embedded suite, sorted by file name.
func Embedded() ([]*Suite, error) {
	files, err := EmbeddedFiles()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*Suite
	for _, n := range names {
		s, err := Load(n, files[n])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
