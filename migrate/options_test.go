package migrate

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestWithTable(t *testing.T) {
	fsys := fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT 1;")}}
	tests := []struct {
		name, table string
		ok          bool
	}{
		{"default", DefaultTable, true},
		{"quoted on use, any characters", `my schema."odd; name"`, true},
		{"no schema", "__cmh_migrations", false},
		{"empty part", "mesh.", false},
		// PostgreSQL cuts names at 63 bytes: <name>_partial must stay distinct.
		{"longest that keeps _partial distinct", "mesh." + strings.Repeat("t", 55), true},
		{"_partial would be cut to the table's own name", "mesh." + strings.Repeat("t", 63), false},
		{"schema too long", strings.Repeat("s", 64) + ".t", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, fsys, WithTable(tt.table))
			var oe *OptionError
			if tt.ok != (err == nil) || (err != nil && !errors.As(err, &oe)) {
				t.Errorf("WithTable(%q): %v; want ok=%v or an *OptionError", tt.table, err, tt.ok)
			}
		})
	}
}
