package audit

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// signDB signs a checkpoint of the database's chains as they are now.
func signDB(t *testing.T, db *pgtest.DB, skey string, at time.Time) (*Checkpoint, []byte) {
	t.Helper()
	rep := verifyDB(t, db, VerifyOptions{MerkleRoots: true})
	if !rep.Clean() {
		t.Fatalf("signing a tampered chain: %+v", rep.Findings)
	}
	data, err := SignCheckpoint(testOrigin, at, HeadsOf(rep), skey)
	if err != nil {
		t.Fatal(err)
	}
	_, vkey := keyPair(t, skey)
	cp, err := OpenCheckpoint(data, vkey)
	if err != nil {
		t.Fatal(err)
	}
	return cp, data
}

var testKeys = map[string]string{}

// keyPair returns a fixed test key pair (generated once per run).
func keyPair(t *testing.T, skey string) (string, string) {
	t.Helper()
	if skey != "" {
		return skey, testKeys[skey]
	}
	s, v, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	testKeys[s] = v
	return s, v
}

func conn(t *testing.T, db *pgtest.DB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// refusedEveryFlip checks CheckProof on every one-byte change of a proof
// file (three different bit flips per byte): each must be refused with a
// typed error.
func refusedEveryFlip(t *testing.T, data []byte, vkey string) {
	t.Helper()
	for i := range data {
		for _, x := range []byte{0x01, 0x20, 0x80} {
			v := bytes.Clone(data)
			v[i] ^= x
			_, err := CheckProof(v, vkey)
			if err == nil {
				t.Fatalf("byte %d ^ %#x (%q -> %q) accepted", i, x, data[i], v[i])
			}
			typed := false
			for _, e := range []error{ErrProofMalformed, ErrProofInvalid, ErrCheckpoint, ErrCheckpointForged, ErrCheckpointsDisagree} {
				typed = typed || errors.Is(err, e)
			}
			if !typed {
				t.Fatalf("byte %d: untyped error %v", i, err)
			}
		}
	}
}

func TestInclusionProofs(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	addMesh(t, db, "m", "n+o")
	rows := memChain(t, "m", 13)
	insertRows(t, db, rows[:10]...)
	insertRows(t, db, shiftIDs(memChain(t, "n+o", 3), 1)...)
	skey, vkey := keyPair(t, "")
	cp, _ := signDB(t, db, skey, time.Now())
	mc, _ := cp.Mesh("m")
	c := conn(t, db)
	var sample []byte
	for i, r := range rows[:10] {
		p, err := ProveInclusion(ctx, c, mc, r.ID)
		if err != nil {
			t.Fatalf("row %d: %v", r.ID, err)
		}
		data, err := EncodeProof(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := CheckProof(data, vkey)
		if err != nil {
			t.Fatalf("row %d: %v\n%s", r.ID, err, data)
		}
		// What the proof shows is the row as written.
		if got.Index != int64(i) || got.Leaf != r.Hash || got.Event.PrevHash != r.PrevHash || got.Mesh.MeshID != "m" ||
			got.Origin != testOrigin || !cmp.Equal(got.Event.Actor, r.Actor) {
			t.Fatalf("row %d: checked %+v", r.ID, got)
		}
		if i == 6 {
			sample = data
		}
	}
	refusedEveryFlip(t, sample, vkey)
	// Another installation's key (even under the same name) proves nothing.
	_, otherV, _ := GenerateKey(testOrigin)
	if _, err := CheckProof(sample, otherV); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("other key: %v", err)
	}

	// A row written after the checkpoint, or of another mesh: not provable.
	insertRows(t, db, rows[10:]...)
	for _, id := range []int64{110, 11, 999} {
		if _, err := ProveInclusion(ctx, c, mc, id); !errors.Is(err, ErrNotProvable) {
			t.Errorf("row %d: %v, want %v", id, err, ErrNotProvable)
		}
	}
	// A database that no longer matches the checkpoint: no proof.
	exec(t, db, `UPDATE mesh.audit_log SET payload = '{"x":1}' WHERE id = 50`)
	if _, err := ProveInclusion(ctx, c, mc, 50); !errors.Is(err, ErrDatabaseMismatch) {
		t.Errorf("edited row: %v", err)
	}
	exec(t, db, `UPDATE mesh.audit_log SET hash = repeat('a', 64) WHERE id = 40`)
	if _, err := ProveInclusion(ctx, c, mc, 10); !errors.Is(err, ErrDatabaseMismatch) {
		t.Errorf("rewritten hash before the row: %v", err)
	}
	exec(t, db, `DELETE FROM mesh.audit_log WHERE mesh_id = 'm' AND id > 20`)
	if _, err := ProveInclusion(ctx, c, mc, 10); !errors.Is(err, ErrDatabaseMismatch) {
		t.Errorf("truncated: %v", err)
	}
}

// shiftIDs moves a chain's ids (10, 20, ...) by d, so two meshes interleave.
func shiftIDs(rows []Row, d int64) []Row {
	for i := range rows {
		rows[i].ID += d
	}
	return rows
}

func TestConsistencyProofs(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDB(t)
	addMesh(t, db, "m", "n")
	m, n := memChain(t, "m", 9), shiftIDs(memChain(t, "n", 6), 1)
	insertRows(t, db, m[:5]...)
	insertRows(t, db, n[:1]...)
	skey, vkey := keyPair(t, "")
	t0 := time.Now().Add(-time.Hour)
	old, oldData := signDB(t, db, skey, t0)
	insertRows(t, db, m[5:]...)
	insertRows(t, db, n[1:]...)
	newer, newData := signDB(t, db, skey, t0.Add(time.Minute))
	c := conn(t, db)
	p, err := ProveConsistency(ctx, c, old, newer, oldData, newData)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := EncodeProof(p)
	got, err := CheckProof(data, vkey)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got.Type != "consistency" || len(got.Meshes) != 2 || got.Meshes[0].OldSize != 5 || got.Meshes[0].NewSize != 9 ||
		got.Meshes[1].OldSize != 1 || got.Meshes[1].NewSize != 6 {
		t.Fatalf("checked %+v", got.Meshes)
	}
	refusedEveryFlip(t, data, vkey)
	// Same checkpoint twice: trivially consistent.
	if p, err := ProveConsistency(ctx, c, old, old, oldData, oldData); err != nil {
		t.Fatal(err)
	} else if d, _ := EncodeProof(p); true {
		if _, err := CheckProof(d, vkey); err != nil {
			t.Fatal(err)
		}
	}
	// The wrong way round: the checkpoints disagree.
	if _, err := ProveConsistency(ctx, c, newer, old, newData, oldData); !errors.Is(err, ErrCheckpointsDisagree) {
		t.Fatalf("swapped: %v", err)
	}
	swapped := *p
	swapped.Old, swapped.New = p.New, p.Old
	if d, _ := EncodeProof(&swapped); true {
		if _, err := CheckProof(d, vkey); !errors.Is(err, ErrCheckpointsDisagree) {
			t.Fatalf("swapped proof: %v", err)
		}
	}
	// A deleted tail: the database no longer matches the newer checkpoint.
	exec(t, db, `DELETE FROM mesh.audit_log WHERE id = 90`)
	if _, err := ProveConsistency(ctx, c, old, newer, oldData, newData); !errors.Is(err, ErrDatabaseMismatch) {
		t.Fatalf("deleted tail: %v", err)
	}
}

// TestCheckpointTamperCorpus: what only a checkpoint catches, on real
// PostgreSQL: a mesh deleted with its rows, a replayed old checkpoint,
// and a root that does not match.
func TestCheckpointTamperCorpus(t *testing.T) {
	setup := func(t *testing.T) (*pgtest.DB, []Row) {
		db := pgtest.NewDB(t)
		addMesh(t, db, "m", "gone")
		rows := memChain(t, "m", 13)
		insertRows(t, db, rows[:10]...)
		insertRows(t, db, shiftIDs(memChain(t, "gone", 4), 1)...)
		return db, rows
	}
	t.Run("deleted mesh", func(t *testing.T) {
		db, _ := setup(t)
		heads := HeadsOf(verifyDB(t, db, VerifyOptions{MerkleRoots: true}))
		exec(t, db, `DELETE FROM mesh.mesh WHERE id = 'gone'`) // cascades to its audit rows
		for _, scope := range []string{"", "gone"} {
			rep := verifyDB(t, db, VerifyOptions{MeshID: scope, Heads: heads})
			if diff := cmp.Diff([]brief{{Truncation, 41, 0, 0}}, briefs(rep)); diff != "" {
				t.Errorf("scope %q (-want +got):\n%s", scope, diff)
			}
		}
	})
	t.Run("replayed checkpoint", func(t *testing.T) {
		db, rows := setup(t)
		old := HeadsOf(verifyDB(t, db, VerifyOptions{MerkleRoots: true}))
		insertRows(t, db, rows[10:]...)
		newer := HeadsOf(verifyDB(t, db, VerifyOptions{MerkleRoots: true}))
		exec(t, db, `DELETE FROM mesh.audit_log WHERE id > 100`)
		// The old checkpoint alone cannot tell (hence --max-age)...
		if rep := verifyDB(t, db, VerifyOptions{Heads: old}); !rep.Clean() {
			t.Fatalf("old checkpoint: %+v", rep.Findings)
		}
		// ...both together can.
		rep := verifyDB(t, db, VerifyOptions{Heads: append(old, newer...)})
		if diff := cmp.Diff([]brief{{Truncation, 130, 0, 0}}, briefs(rep)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("root differs", func(t *testing.T) {
		db, _ := setup(t)
		heads := HeadsOf(verifyDB(t, db, VerifyOptions{MerkleRoots: true}))
		heads[1].Root = heads[0].Root // a head whose tree is not this chain's
		rep := verifyDB(t, db, VerifyOptions{Heads: heads})
		if diff := cmp.Diff([]brief{{Rewrite, 100, 0, 0}}, briefs(rep)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
