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
