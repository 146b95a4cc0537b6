package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// nodeChain writes a chain as the upstream broker does: each payload's
// JSON text into jsonb, its hash over node's canonical form of that
// payload (testdata/js_canonical.js), never over ours.
func nodeChain(t *testing.T, db *pgtest.DB, mesh string, payloads []string) []Row {
	t.Helper()
	canon, err := startNodeOracle(t).canon(payloads)
	if err != nil {
		t.Fatal(err)
	}
	prev := Genesis
	base := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	rows := make([]Row, len(payloads))
	for i, p := range payloads {
		created := base.Add(time.Duration(i) * time.Second)
		line := fmt.Sprintf("%s|%s|state_set|null|%s|%s", prev, mesh, canon[i], created.Format("2006-01-02T15:04:05.000Z"))
		sum := sha256.Sum256([]byte(line))
		rows[i] = Row{ID: int64(i+1) * 10, MeshID: mesh, EventType: "state_set", Payload: []byte(p),
			PrevHash: prev, Hash: hex.EncodeToString(sum[:]), CreatedAt: created}
		prev = rows[i].Hash
	}
	insertRows(t, db, rows...)
	return rows
}

// TestAstralKeys: genuine rows whose keys differ only in the trail
// surrogate verify clean, and adding, removing or renaming such a key is
// content tampering.
func TestAstralKeys(t *testing.T) {
	payloads := []string{
		`{"😂":"a","😃":"b","note":"c"}`,
		`{"😃":1,"note":2}`,
		`{"𝒜":{"𝒵":1,"𝒜":2},"x":[{"😀":0,"😃":1}]}`,
		`{"\ud83d\ude03":1,"\uD83D\uDE02":2,"\ue000":3,"\uffff":4,"a":5}`,
		`{"targetSpec":"*","priority":"next"}`,
	}
	tests := []struct {
		name   string
		tamper string
		want   []brief
	}{
		{name: "genuine", want: []brief{}},
		{name: "add 😀 beside 😃", tamper: `UPDATE mesh.audit_log SET payload = payload || '{"😀":1}' WHERE id = 20`,
			want: []brief{{ContentMismatch, 20, 0, 3}}},
		{name: "add 😁 between 😂 and 😃", tamper: `UPDATE mesh.audit_log SET payload = payload || '{"😁":"x"}' WHERE id = 10`,
			want: []brief{{ContentMismatch, 10, 0, 4}}},
		{name: "remove 😂", tamper: `UPDATE mesh.audit_log SET payload = payload - '😂' WHERE id = 10`,
			want: []brief{{ContentMismatch, 10, 0, 4}}},
		{name: "rename 𝒵 to 𝒴", tamper: `UPDATE mesh.audit_log SET payload = jsonb_set(payload #- '{𝒜,𝒵}', '{𝒜,𝒴}', '1') WHERE id = 30`,
			want: []brief{{ContentMismatch, 30, 0, 2}}},
		{name: "swap values of 😂 and 😃", tamper: `UPDATE mesh.audit_log SET payload = '{"😂":"b","😃":"a","note":"c"}' WHERE id = 10`,
			want: []brief{{ContentMismatch, 10, 0, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.NewDB(t)
			addMesh(t, db, "m")
			nodeChain(t, db, "m", payloads)
			if tt.tamper != "" {
				exec(t, db, tt.tamper)
			}
			rep := verifyDB(t, db, VerifyOptions{})
			if diff := cmp.Diff(tt.want, briefs(rep)); diff != "" {
				t.Errorf("findings (-want +got):\n%s\n%+v", diff, rep.Findings)
			}
			if rep.Rows != int64(len(payloads)) {
				t.Errorf("rows = %d, want %d", rep.Rows, len(payloads))
			}
		})
	}
}

// TestPrecision: a created_at moved by a microsecond keeps the row's v1
// hash; it is a precision warning, and tampering under Strict.
func TestPrecision(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m")
	insertRows(t, db, memChain(t, "m", 10)...)
	if rep := verifyDB(t, db, VerifyOptions{Strict: true}); !rep.Clean() || len(rep.Warnings) != 0 {
		t.Fatalf("untouched chain: findings %+v warnings %+v", rep.Findings, rep.Warnings)
	}
	exec(t, db, `UPDATE mesh.audit_log SET created_at = created_at + interval '1 microsecond' WHERE id = 70`)
	exec(t, db, `UPDATE mesh.audit_log SET created_at = created_at + interval '999 microseconds' WHERE id = 30`)

	rep := verifyDB(t, db, VerifyOptions{})
	if !rep.Clean() || rep.Meshes[0].Warnings != 2 {
		t.Fatalf("default: clean=%v findings %+v meshes %+v", rep.Clean(), rep.Findings, rep.Meshes)
	}
	want := []Finding{
		{MeshID: "m", RowID: 30, Class: Precision, Expected: "whole milliseconds (2026-04-15T12:00:00.003Z)", Found: "2026-04-15T12:00:00.003999Z"},
		{MeshID: "m", RowID: 70, Class: Precision, Expected: "whole milliseconds (2026-04-15T12:00:00.007Z)", Found: "2026-04-15T12:00:00.007001Z"},
	}
	if diff := cmp.Diff(want, rep.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	strict := verifyDB(t, db, VerifyOptions{Strict: true})
	if diff := cmp.Diff([]brief{{Precision, 30, 0, 3}, {Precision, 70, 0, 3}}, briefs(strict)); diff != "" || len(strict.Warnings) != 0 {
		t.Errorf("strict findings (-want +got):\n%s\nwarnings %+v", diff, strict.Warnings)
	}

	// The same through VerifyRows.
	rows := memChain(t, "m", 3)
	rows[1].CreatedAt = rows[1].CreatedAt.Add(time.Microsecond)
	if r := VerifyRows(rows, nil); !r.Clean() || len(r.Warnings) != 1 || r.Warnings[0].RowID != 20 {
		t.Errorf("VerifyRows: findings %+v warnings %+v", r.Findings, r.Warnings)
	}
}
