package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/audit"
)

// The human verify table shortens hashes only: every other expected/found
// value (truncation and rewrite descriptions, "genesis", a tampered hash
// column that is not a hash) is shown whole, control characters escaped.
func TestPrintVerifyShowsValuesWhole(t *testing.T) {
	h1 := strings.Repeat("ab", 32)
	h2 := strings.Repeat("cd", 32)
	tests := []struct {
		name             string
		rep              audit.Report
		want, wantAbsent []string
	}{
		{
			name: "truncation text whole, singulars",
			rep: audit.Report{Rows: 1, Meshes: []audit.MeshResult{{MeshID: "m1", Rows: 1, FirstID: 1, LastID: 1, HeadHash: h1, Findings: 1}},
				Findings: []audit.Finding{{MeshID: "m1", RowID: 3, Class: audit.Truncation, Expected: "3 rows up to id 3", Found: "1 rows up to id 1"}}},
			want:       []string{"3 rows up to id 3", "1 rows up to id 1", h1[:12], "1 row in 1 mesh verified", ": 1 finding: TAMPERING"},
			wantAbsent: []string{h1, "1 meshes", "1 findings"},
		},
		{
			name: "hashes shortened, also inside text",
			rep: audit.Report{Rows: 4, Meshes: []audit.MeshResult{{MeshID: "m1", Rows: 4, FirstID: 1, LastID: 4, HeadHash: h1, Findings: 2},
				{MeshID: "m2"}},
				Findings: []audit.Finding{
					{MeshID: "m1", RowID: 2, Class: audit.ContentMismatch, Expected: h1, Found: h2},
					{MeshID: "m1", RowID: 4, Class: audit.Truncation, Expected: "row 4 with hash " + h2, Found: "no row with that id"},
				}},
			want:       []string{h1[:12], h2[:12], "row 4 with hash " + h2[:12], "no row with that id", "4 rows in 2 meshes verified", ": 2 findings: TAMPERING"},
			wantAbsent: []string{h1, h2},
		},
		{
			name: "a tampered hash column that is not a hash",
			rep: audit.Report{Rows: 2, Meshes: []audit.MeshResult{{MeshID: "m1", Rows: 2, Findings: 1}},
				Findings: []audit.Finding{{MeshID: "m1", RowID: 2, Class: audit.LinkMismatch, Expected: audit.Genesis, Found: "forged-by-\x1b[31mmallory"}}},
			want:       []string{"genesis", `forged-by-\x1b[31mmallory`},
			wantAbsent: []string{"\x1b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			e := &env{stdout: &out}
			if err := printVerify(e, &tt.rep, 1500*time.Millisecond, ""); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.wantAbsent {
				if strings.Contains(got, w) {
					t.Errorf("output contains %q:\n%s", w, got)
				}
			}
		})
	}
}
