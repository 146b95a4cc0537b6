package audit

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memChain builds n correctly hashed rows for mesh, ids 1..n (times 10).
func memChain(t *testing.T, mesh string, n int) []Row {
	t.Helper()
	rows := make([]Row, 0, n)
	prev := Genesis
	base := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		actor := fmt.Sprintf("member%d", i%3)
		r := Row{ID: int64(i * 10), MeshID: mesh, EventType: "message_sent", Actor: &actor,
			Payload:  []byte(fmt.Sprintf(`{"targetSpec":"*","priority":"next","n":%d}`, i)),
			PrevHash: prev, CreatedAt: base.Add(time.Duration(i) * time.Millisecond)}
		if i%4 == 0 {
			r.Actor = nil
		}
		rows = append(rows, reseal(t, r))
		prev = rows[len(rows)-1].Hash
	}
	return rows
}

// reseal recomputes a row's hash from its fields, as a forger would.
func reseal(t *testing.T, r Row) Row {
	t.Helper()
	h, err := HashV1(r.PrevHash, r.MeshID, r.EventType, r.Actor, r.Payload, r.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	r.Hash = h
	return r
}

// brief is a finding without the values, for table comparisons.
type brief struct {
	Class        Class
	Row, Other   int64
	RowsVerified int64
}

func briefs(r *Report) []brief {
	out := []brief{}
	for _, f := range r.Findings {
		out = append(out, brief{f.Class, f.RowID, f.OtherRowID, f.RowsVerified})
	}
	return out
}

func TestVerifyRowsClasses(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(rows []Row) []Row
		heads  func(rows []Row) []Head
		want   []brief
	}{
		{name: "clean", tamper: func(r []Row) []Row { return r }, want: []brief{}},
		{name: "edit payload", tamper: func(r []Row) []Row {
			r[3].Payload = []byte(`{"targetSpec":"@bob","priority":"next","n":4}`)
			return r
		}, want: []brief{{ContentMismatch, 40, 0, 6}}},
		{name: "delete middle", tamper: func(r []Row) []Row {
			return append(r[:4], r[5:]...)
		}, want: []brief{{LinkMismatch, 60, 0, 4}}},
		{name: "fork", tamper: func(r []Row) []Row {
			f := reseal(t, Row{ID: 55, MeshID: "m", EventType: "peer_joined", Payload: []byte(`{}`), PrevHash: r[4].PrevHash, CreatedAt: r[4].CreatedAt})
			return append(r[:5], append([]Row{f}, r[5:]...)...)
		}, want: []brief{{Fork, 55, 50, 0}, {LinkMismatch, 60, 0, 4}}},
		{name: "genesis duplicate", tamper: func(r []Row) []Row {
			r[6].PrevHash = Genesis
			r[6] = reseal(t, r[6])
			return r
		}, want: []brief{{GenesisDuplicate, 70, 10, 0}, {LinkMismatch, 80, 0, 2}}},
		{name: "truncated tail", tamper: func(r []Row) []Row { return r[:7] },
			heads: func(r []Row) []Head { return []Head{{MeshID: "m", Rows: 10, HeadID: 100, HeadHash: r[9].Hash}} },
			want:  []brief{{Truncation, 100, 0, 0}}},
		{name: "resealed suffix", tamper: func(r []Row) []Row {
			r[5].EventType = "peer_left"
			for i := 5; i < len(r); i++ {
				r[i].PrevHash = r[i-1].Hash
				r[i] = reseal(t, r[i])
			}
			return r
		},
			heads: func(r []Row) []Head { return []Head{{MeshID: "m", Rows: 10, HeadID: 100, HeadHash: r[9].Hash}} },
			want:  []brief{{Rewrite, 100, 0, 0}}},
		{name: "checkpointed mesh emptied", tamper: func(r []Row) []Row { return nil },
			heads: func(r []Row) []Head { return []Head{{MeshID: "m", Rows: 10, HeadID: 100, HeadHash: r[9].Hash}} },
			want:  []brief{{Truncation, 100, 0, 0}}},
		{name: "unreadable payload", tamper: func(r []Row) []Row {
			r[2].Payload = []byte(`{"a":`)
			return r
		}, want: []brief{{Unreadable, 30, 0, 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := memChain(t, "m", 10)
			var heads []Head
			if tt.heads != nil {
				heads = tt.heads(append([]Row(nil), orig...))
			}
			rep := VerifyRows(tt.tamper(orig), heads)
			if diff := cmp.Diff(tt.want, briefs(rep)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if rep.Clean() != (len(tt.want) == 0) {
				t.Errorf("Clean() = %v with %d findings", rep.Clean(), len(rep.Findings))
			}
		})
	}
}

func TestVerifyRowsSummary(t *testing.T) {
	rows := append(memChain(t, "a|b", 3), memChain(t, "c", 2)...)
	rep := VerifyRows(rows, nil)
	root := func(rows []Row) string {
		var leaves [][]byte
		for _, r := range rows {
			leaves = append(leaves, LeafData([]byte(r.Hash)))
		}
		h, err := TreeRoot(leaves)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h[:])
	}
	want := []MeshResult{
		{MeshID: "a|b", Rows: 3, FirstID: 10, LastID: 30, HeadHash: rows[2].Hash, MerkleRoot: root(rows[:3])},
		{MeshID: "c", Rows: 2, FirstID: 10, LastID: 20, HeadHash: rows[4].Hash, MerkleRoot: root(rows[3:])},
	}
	if diff := cmp.Diff(want, rep.Meshes); diff != "" {
		t.Errorf("meshes (-want +got):\n%s", diff)
	}
	if rep.Rows != 5 || !rep.Clean() {
		t.Errorf("rows %d clean %v, want 5 true", rep.Rows, rep.Clean())
	}
}

// A finding keeps a bounded part of a stored value: a forger who
// writes megabytes into hash or prev_hash of many rows must not make the
// report (up to DefaultMaxFindings entries) hold them all.
func TestFindingValuesAreBounded(t *testing.T) {
	rows := memChain(t, "m", 3)
	huge := fmt.Sprintf("%0100000d", 7)
	rows[1].Hash = huge     // content_mismatch on row 2, link_mismatch on row 3
	rows[2].PrevHash = huge // still links to the stored hash: only row 2's content is wrong
	rows[0].PrevHash = huge // link_mismatch on row 1 (not genesis)
	rep := VerifyRows(rows, nil)
	if len(rep.Findings) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range rep.Findings {
		if len(f.Expected) > 1024 || len(f.Found) > 1024 {
			t.Errorf("%s on row %d keeps %d/%d bytes", f.Class, f.RowID, len(f.Expected), len(f.Found))
		}
	}
}
