package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// addMesh creates a mesh (and its owner user) so audit rows can refer to it.
func addMesh(t testing.TB, db *pgtest.DB, ids ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO public."user" (id) VALUES ('owner') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ($1, $1, 'slug-' || $1, 'owner')`, id); err != nil {
			t.Fatal(err)
		}
	}
}

// insertRows writes rows as stored, ids included, as a forger (or the
// upstream broker) would.
func insertRows(t testing.TB, db *pgtest.DB, rows ...Row) {
	t.Helper()
	for _, r := range rows {
		_, err := db.Pool.Exec(context.Background(), `INSERT INTO mesh.audit_log
	(id, mesh_id, event_type, actor_member_id, payload, prev_hash, hash, created_at)
OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8::text::timestamp)`,
			r.ID, r.MeshID, r.EventType, r.Actor, string(r.Payload), r.PrevHash, r.Hash, r.CreatedAt.UTC().Format("2006-01-02 15:04:05.000000"))
		if err != nil {
			t.Fatalf("insert row %d: %v", r.ID, err)
		}
	}
}

func exec(t testing.TB, db *pgtest.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func verifyDB(t testing.TB, db *pgtest.DB, opt VerifyOptions) *Report {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rep, err := Verify(ctx, conn, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyPinRow(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "mesh1")
	actor := "actor"
	insertRows(t, db, Row{ID: 1, MeshID: "mesh1", EventType: "peer_joined", Actor: &actor,
		Payload: []byte(`{"restored":true,"pubkey":"abc","groups":[]}`), PrevHash: Genesis,
		Hash:      "73bad757dad9b1fee95c3eb00f4a72e7a6d188d8c765d9bcdef4625f267a0a6c",
		CreatedAt: time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)})
	rep := verifyDB(t, db, VerifyOptions{})
	if !rep.Clean() || rep.Rows != 1 {
		t.Fatalf("pin row: clean=%v rows=%d findings=%+v", rep.Clean(), rep.Rows, rep.Findings)
	}
}

// appendN appends n events to mesh through pool.
// Payloads name the writer, so no two rows can hash alike.
func appendN(t testing.TB, pool *pgxpool.Pool, mesh, writer string, n int, lock bool) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		actor := fmt.Sprintf("m%d", i%5)
		e := Event{MeshID: mesh, EventType: "message_sent", Actor: &actor,
			Payload: []byte(fmt.Sprintf(`{"targetSpec":"@peer%d","priority":"next","by":%q}`, i, writer))}
		if i%7 == 0 {
			e.Actor = nil
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := appendEvent(ctx, tx, e, lock)
			return err
		})
		if err != nil {
			t.Error(err)
			return
		}
	}
}

func TestAppendThenVerify(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m1", "m2")
	appendN(t, db.Pool, "m1", "w", 25, true)
	appendN(t, db.Pool, "m2", "w", 5, true)
	rep := verifyDB(t, db, VerifyOptions{})
	if !rep.Clean() || rep.Rows != 30 || len(rep.Meshes) != 2 {
		t.Fatalf("clean=%v rows=%d meshes=%+v findings=%+v", rep.Clean(), rep.Rows, rep.Meshes, rep.Findings)
	}
	one := verifyDB(t, db, VerifyOptions{MeshID: "m2"})
	if len(one.Meshes) != 1 || one.Meshes[0].Rows != 5 || !one.Clean() {
		t.Fatalf("--mesh m2: %+v", one.Meshes)
	}
}

func TestAppendRejects(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m")
	ctx := context.Background()
	for _, payload := range []string{`{"a":`, `{"a":"\u0000"}`, `{"a":"\ud800"}`} {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			_, err := Append(ctx, tx, Event{MeshID: "m", EventType: "state_set", Payload: []byte(payload)})
			return err
		})
		if !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Append(%s): error %v, want ErrInvalidEvent", payload, err)
		}
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM mesh.audit_log`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after rejected appends: %d, %v", n, err)
	}
}

// TestNoFalseAlarms writes payloads the way the upstream broker does (its
// JSON text into jsonb, the hash over node's canonical form from
// testdata/js_golden.json), and through Append, in a session whose
// TimeZone is not UTC; every row must verify.
func TestNoFalseAlarms(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "up", "ours")
	ctx := context.Background()
	exec(t, db, `ALTER DATABASE `+pgx.Identifier{db.Name}.Sanitize()+` SET TimeZone = 'Pacific/Chatham'`)

	cases := jsGolden(t)
	deep := strings.Repeat(`{"k":[`, 300) + `1e21` + strings.Repeat(`]}`, 300)
	deepOut := strings.Repeat(`{"k":[`, 300) + `1e+21` + strings.Repeat(`]}`, 300)
	cases = append(cases, goldenCase{deep, deepOut},
		goldenCase{`{"n":[1e21,0.1,-0,1e-7,9007199254740993],"s":"\u001f\u2028</script>é😂\\\""}`,
			`{"n":[1e+21,0.1,0,1e-7,9007199254740992],"s":"\u001f` + "\u2028" + `</script>é😂\\\""}`})

	prev, id := Genesis, int64(100000) // clear of the identity sequence Append uses
	base := time.Date(2026, 4, 15, 23, 30, 0, 0, time.UTC)
	var payloads []string
	for _, c := range cases {
		var ok bool
		if err := db.Pool.QueryRow(ctx, `SELECT $1::text::jsonb IS NOT NULL`, c.In).Scan(&ok); err != nil {
			continue // jsonb refuses it (\u0000, lone surrogates): upstream could not store it either
		}
		id++
		created := base.Add(time.Duration(id)*time.Millisecond + 456*time.Microsecond)
		line := fmt.Sprintf("%s|up|state_set|null|%s|%s", prev, c.Out, created.Format("2006-01-02T15:04:05.000Z"))
		sum := sha256.Sum256([]byte(line))
		h := hex.EncodeToString(sum[:])
		insertRows(t, db, Row{ID: id, MeshID: "up", EventType: "state_set", Payload: []byte(c.In), PrevHash: prev, Hash: h, CreatedAt: created})
		prev = h
		payloads = append(payloads, c.In)
	}
	if len(payloads) < 60 {
		t.Fatalf("only %d payloads stored", len(payloads))
	}
	// The same payloads through Append, from a session in another zone.
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "America/St_Johns"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, p := range payloads {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := Append(ctx, tx, Event{MeshID: "ours", EventType: "state_set", Payload: []byte(p)})
			return err
		})
		if err != nil {
			t.Fatalf("Append(%s): %v", p, err)
		}
	}
	rep := verifyDB(t, db, VerifyOptions{})
	if !rep.Clean() || rep.Rows != int64(2*len(payloads)) {
		t.Fatalf("false alarms: rows=%d findings=%+v", rep.Rows, rep.Findings)
	}
}

// TestTamperCorpus: each fixture is found with the right class and row.
func TestTamperCorpus(t *testing.T) {
	type want = []brief
	tests := []struct {
		name       string
		checkpoint bool
		tamper     func(t *testing.T, db *pgtest.DB, rows []Row)
		want       want
	}{
		{name: "edit payload", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET payload = jsonb_set(payload, '{priority}', '"now"') WHERE id = 40`)
		}, want: want{{ContentMismatch, 40, 0, 6}}},
		{name: "edit event_type", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET event_type = 'peer_left' WHERE id = 50`)
		}, want: want{{ContentMismatch, 50, 0, 5}}},
		{name: "edit actor", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET actor_member_id = 'member9' WHERE id = 20`)
		}, want: want{{ContentMismatch, 20, 0, 8}}},
		{name: "null actor set", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET actor_member_id = 'null' WHERE id = 40 AND actor_member_id IS NULL`)
			exec(t, db, `UPDATE mesh.audit_log SET actor_member_id = NULL WHERE id = 30`)
		}, want: want{{ContentMismatch, 30, 0, 7}}},
		{name: "created_at +1ms", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET created_at = created_at + interval '1 millisecond' WHERE id = 70`)
		}, want: want{{ContentMismatch, 70, 0, 3}}},
		{name: "delete middle", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `DELETE FROM mesh.audit_log WHERE id = 50`)
		}, want: want{{LinkMismatch, 60, 0, 4}}},
		{name: "delete tail", checkpoint: true, tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `DELETE FROM mesh.audit_log WHERE id > 80`)
		}, want: want{{Truncation, 100, 0, 0}}},
		{name: "swap two rows", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log a SET event_type = b.event_type, actor_member_id = b.actor_member_id,
				payload = b.payload, prev_hash = b.prev_hash, hash = b.hash, created_at = b.created_at
				FROM mesh.audit_log b WHERE (a.id, b.id) IN ((40, 50), (50, 40))`)
		}, want: want{{LinkMismatch, 40, 0, 0}, {LinkMismatch, 50, 0, 0}, {LinkMismatch, 60, 0, 4}}},
		{name: "forged row inserted", tamper: func(t *testing.T, db *pgtest.DB, rows []Row) {
			f := reseal(t, Row{ID: 55, MeshID: "m", EventType: "member_unbanned", Payload: []byte(`{}`),
				PrevHash: rows[4].Hash, CreatedAt: rows[4].CreatedAt})
			insertRows(t, db, f)
		}, want: want{{Fork, 60, 55, 4}}},
		{name: "resealed suffix", checkpoint: true, tamper: func(t *testing.T, db *pgtest.DB, rows []Row) {
			exec(t, db, `DELETE FROM mesh.audit_log WHERE id >= 60`)
			prev := rows[4].Hash
			for _, r := range rows[5:] {
				r.PrevHash = prev
				r.Payload = []byte(`{"priority":"low","targetSpec":"*"}`)
				r = reseal(t, r)
				insertRows(t, db, r)
				prev = r.Hash
			}
		}, want: want{{Rewrite, 100, 0, 0}}},
		{name: "duplicate genesis", tamper: func(t *testing.T, db *pgtest.DB, rows []Row) {
			insertRows(t, db, reseal(t, Row{ID: 110, MeshID: "m", EventType: "peer_joined", Payload: []byte(`{}`),
				PrevHash: Genesis, CreatedAt: rows[9].CreatedAt}))
		}, want: want{{GenesisDuplicate, 110, 10, 0}}},
		{name: "fork", tamper: func(t *testing.T, db *pgtest.DB, rows []Row) {
			insertRows(t, db, reseal(t, Row{ID: 110, MeshID: "m", EventType: "peer_left", Payload: []byte(`{}`),
				PrevHash: rows[8].Hash, CreatedAt: rows[9].CreatedAt}))
		}, want: want{{Fork, 110, 100, 0}}},
		{name: "edit hash column", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET hash = repeat('0', 64) WHERE id = 30`)
		}, want: want{{ContentMismatch, 30, 0, 0}, {LinkMismatch, 40, 0, 6}}},
		{name: "unreadable created_at", tamper: func(t *testing.T, db *pgtest.DB, _ []Row) {
			exec(t, db, `UPDATE mesh.audit_log SET created_at = 'infinity' WHERE id = 90`)
		}, want: want{{Unreadable, 90, 0, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := pgtest.NewDB(t)
			addMesh(t, db, "m")
			rows := memChain(t, "m", 10)
			insertRows(t, db, rows...)
			var heads []Head
			if tt.checkpoint {
				heads = HeadsOf(verifyDB(t, db, VerifyOptions{MerkleRoots: true}))
			}
			tt.tamper(t, db, rows)
			rep := verifyDB(t, db, VerifyOptions{Heads: heads})
			if diff := cmp.Diff(tt.want, briefs(rep)); diff != "" {
				t.Errorf("findings (-want +got):\n%s\n%+v", diff, rep.Findings)
			}
		})
	}
}

// TestMeshIDWithPipe: "|" in a mesh id makes v1's hash input ambiguous
// (mesh "a|b" + event "x" hashes like mesh "a" + event "b|x"); moving a row
// between such meshes keeps its content hash, but both links break.
func TestMeshIDWithPipe(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "a|b", "a")
	rows := memChain(t, "a|b", 5)
	insertRows(t, db, rows...)
	if rep := verifyDB(t, db, VerifyOptions{}); !rep.Clean() {
		t.Fatalf("mesh a|b: %+v", rep.Findings)
	}
	exec(t, db, `UPDATE mesh.audit_log SET mesh_id = 'a', event_type = 'b|' || event_type WHERE id = 30`)
	rep := verifyDB(t, db, VerifyOptions{})
	want := []brief{{LinkMismatch, 30, 0, 0}, {LinkMismatch, 40, 0, 1}}
	if diff := cmp.Diff(want, briefs(rep)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestConcurrentAppends: 16 goroutines × 200 appends on one mesh through two
// pools (two "replicas"). With the lock the chain is clean; without it the
// same load forks, and verify reports every fork.
func TestConcurrentAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("3,200 appends twice")
	}
	for _, lock := range []bool{true, false} {
		t.Run(fmt.Sprintf("lock=%v", lock), func(t *testing.T) {
			db := pgtest.NewDB(t)
			addMesh(t, db, "busy")
			ctx := context.Background()
			cfg, err := pgxpool.ParseConfig(db.URL)
			if err != nil {
				t.Fatal(err)
			}
			cfg.MaxConns = 8
			other, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			var wg sync.WaitGroup
			for g := 0; g < 16; g++ {
				pool := db.Pool
				if g%2 == 1 {
					pool = other
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					appendN(t, pool, "busy", fmt.Sprint("w", g), 200, lock)
				}()
			}
			wg.Wait()
			rep := verifyDB(t, db, VerifyOptions{})
			if rep.Rows != 3200 {
				t.Fatalf("rows = %d, want 3200", rep.Rows)
			}
			// Every row after the first of a group sharing a prev_hash is a fork.
			var shared int
			if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(n - 1), 0) FROM
				(SELECT count(*) n FROM mesh.audit_log GROUP BY prev_hash) g`).Scan(&shared); err != nil {
				t.Fatal(err)
			}
			forks := 0
			for _, f := range rep.Findings {
				if f.Class == Fork || f.Class == GenesisDuplicate {
					forks++
				}
			}
			if lock && (!rep.Clean() || shared != 0) {
				t.Fatalf("with the lock: %d shared prev hashes, findings %+v", shared, rep.Findings[:min(5, len(rep.Findings))])
			}
			if !lock {
				if shared == 0 {
					t.Fatal("the unlocked writer produced no fork; the test proves nothing")
				}
				if forks != shared {
					t.Fatalf("verify reported %d forks; the table has %d rows sharing a prev_hash", forks, shared)
				}
				t.Logf("unlocked: %d forks, %d findings in all", forks, len(rep.Findings))
			}
		})
	}
}

// TestCopyStreamChunking feeds a real binary COPY stream to the parser in
// pieces of every awkward size: the report must not depend on how the
// stream is cut.
func TestCopyStreamChunking(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m", "n")
	rows := append(memChain(t, "m", 40), memChain(t, "n", 30)...)
	for i := range rows[40:] {
		rows[40+i].ID += 5 // interleave the two meshes' ids
	}
	insertRows(t, db, rows...)
	exec(t, db, `UPDATE mesh.audit_log SET event_type = 'x' WHERE id = 120`)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stream strings.Builder
	if _, err := conn.PgConn().CopyTo(ctx, &stream, fmt.Sprintf(copyQuery, "")); err != nil {
		t.Fatal(err)
	}
	want := verifyDB(t, db, VerifyOptions{})
	if want.Rows != 70 || len(want.Findings) != 1 {
		t.Fatalf("baseline: rows %d findings %+v", want.Rows, want.Findings)
	}
	data := []byte(stream.String())
	for _, size := range []int{1, 2, 3, 7, 18, 19, 20, 64, 1000, len(data)} {
		p := newPipeline(VerifyOptions{Workers: 2})
		p.start()
		var err error
		for off := 0; off < len(data) && err == nil; off += size {
			_, err = p.Write(data[off:min(off+size, len(data))])
		}
		if err == nil {
			err = p.flush()
		}
		got, werr := p.wait("")
		if err != nil || werr != nil {
			t.Fatalf("chunks of %d: %v %v", size, err, werr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("chunks of %d (-whole +chunked):\n%s", size, diff)
		}
	}
	// A stream cut short is an error, never a clean report.
	p := newPipeline(VerifyOptions{})
	p.start()
	_, _ = p.Write(data[:len(data)-10])
	if err := p.flush(); err == nil {
		t.Error("a truncated COPY stream was accepted")
	}
	p.wait("")
}
