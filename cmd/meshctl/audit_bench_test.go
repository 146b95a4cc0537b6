package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// BenchmarkAuditVerify1M measures `meshctl audit verify --all` on 1,000,000
// rows over 100 meshes (MESHCTL_BENCH_ROWS, MESHCTL_BENCH_REPS override)
// against the I/O ceiling: COPY of the same rows to nowhere, both as the
// issue defines it (text, ORDER BY mesh_id, id) and as verify reads them
// (binary, ORDER BY id); and the library with and without a progress
// callback. Run it alone:
//
//	go test ./cmd/meshctl -run '^$' -bench AuditVerify1M -benchtime 1x -timeout 30m
func BenchmarkAuditVerify1M(b *testing.B) {
	total := envInt("MESHCTL_BENCH_ROWS", 1_000_000)
	reps := envInt("MESHCTL_BENCH_REPS", 5)
	const meshes = 100
	ctx := context.Background()
	db := pgtest.NewDB(b)
	gen := time.Now()
	if err := seedAudit(ctx, db, meshes, total); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rows over %d meshes in %.1fs", total, meshes, time.Since(gen).Seconds())

	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	ceilings := map[string]string{
		"copy text (issue's query)": `COPY (SELECT mesh_id, id, event_type, actor_member_id, payload, prev_hash, hash, created_at
			FROM mesh.audit_log ORDER BY mesh_id, id) TO STDOUT`,
		"copy binary ORDER BY id (verify's)": `COPY (SELECT mesh_id, id::int8, event_type, actor_member_id, payload, prev_hash, hash, created_at
			FROM mesh.audit_log ORDER BY id) TO STDOUT (FORMAT binary)`,
	}
	rates := map[string][]float64{}
	b.ResetTimer()
	for range b.N {
		for range reps {
			// Interleaved, so drift on the shared machine hits all alike.
			start := time.Now()
			var out, errs bytes.Buffer
			if code := run(ctx, []string{"meshctl", "--database-url", db.URL, "audit", "verify", "--all"}, &out, &errs); code != ExitOK {
				b.Fatalf("verify: exit %d %s %s", code, tail(out.String()), errs.String())
			}
			rates["meshctl audit verify --all"] = append(rates["meshctl audit verify --all"], float64(total)/time.Since(start).Seconds())
			// The library with and without a progress line (drawn to
			// io.Discard): what the progress callback costs.
			for name, progress := range map[string]bool{"audit.Verify": false, "audit.Verify + progress line": true} {
				opt := audit.VerifyOptions{}
				if progress {
					bar := newRowBar(io.Discard, "verifying", int64(total), 100)
					opt.Progress = func(p audit.Progress) { bar.update(p.Rows) }
				}
				start := time.Now()
				if _, err := audit.Verify(ctx, conn, opt); err != nil {
					b.Fatal(err)
				}
				rates[name] = append(rates[name], float64(total)/time.Since(start).Seconds())
			}
			for name, q := range ceilings {
				start := time.Now()
				if _, err := conn.PgConn().CopyTo(ctx, io.Discard, q); err != nil {
					b.Fatal(err)
				}
				rates[name] = append(rates[name], float64(total)/time.Since(start).Seconds())
			}
		}
	}
	b.StopTimer()
	med := func(name string) float64 {
		v := slices.Clone(rates[name])
		slices.Sort(v)
		b.Logf("%-30s rows/s median %8.0f  min %8.0f  max %8.0f  (n=%d)", name, v[len(v)/2], v[0], v[len(v)-1], len(v))
		return v[len(v)/2]
	}
	verify := med("meshctl audit verify --all")
	text := med("copy text (issue's query)")
	bin := med("copy binary ORDER BY id (verify's)")
	lib, withBar := med("audit.Verify"), med("audit.Verify + progress line")
	b.Logf("ratio with/without progress line %.3f", withBar/lib)
	b.Logf("ratio verify/copy-text %.2f, verify/copy-binary-by-id %.2f", verify/text, verify/bin)
	b.ReportMetric(verify, "verify-rows/s")
	b.ReportMetric(text, "copytext-rows/s")
	b.ReportMetric(verify/text, "ratio")
}

func tail(s string) string { return s[max(0, len(s)-300):] }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// seedAudit writes total correctly chained rows over n meshes, interleaved
// as live traffic would be, with COPY FROM (hashes computed here).
func seedAudit(ctx context.Context, db *pgtest.DB, n, total int) error {
	if _, err := db.Pool.Exec(ctx, `INSERT INTO public."user" (id) VALUES ('owner')`); err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO mesh.mesh (id, name, slug, owner_user_id)
		SELECT 'mesh' || lpad(g::text, 28, '0'), 'Mesh ' || g, 'mesh-' || g, 'owner' FROM generate_series(0, $1 - 1) g`, n); err != nil {
		return err
	}
	prev := make([]string, n)
	for i := range prev {
		prev[i] = audit.Genesis
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := []string{"message_sent", "message_sent", "message_sent", "peer_joined", "peer_left", "state_set"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == total {
			return nil, nil
		}
		m := i % n
		mesh := fmt.Sprintf("mesh%028d", m)
		ev := events[i%len(events)]
		var payload string
		switch ev {
		case "message_sent":
			payload = fmt.Sprintf(`{"targetSpec":"@peer%d","priority":"next"}`, i%97)
		case "peer_joined":
			payload = fmt.Sprintf(`{"pubkey":"%064x","restored":%v,"groups":["ops","dev"]}`, i, i%2 == 0)
		case "state_set":
			payload = fmt.Sprintf(`{"key":"k%d","value":{"x":%d.5,"y":[1,2,3],"note":"Grüße"}}`, i%13, i)
		default:
			payload = `{}`
		}
		var actor *string
		if i%10 != 0 {
			a := fmt.Sprintf("member%026d", i%50)
			actor = &a
		}
		created := base.Add(time.Duration(i) * 7 * time.Millisecond)
		h, err := audit.HashV1(prev[m], mesh, ev, actor, []byte(payload), created)
		if err != nil {
			return nil, err
		}
		row := []any{mesh, ev, actor, "member", payload, prev[m], h, created}
		prev[m] = h
		i++
		return row, nil
	})
	_, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"mesh", "audit_log"},
		[]string{"mesh_id", "event_type", "actor_member_id", "actor_display_name", "payload", "prev_hash", "hash", "created_at"}, src)
	if err != nil {
		return err
	}
	// PARALLEL 0: the test container's /dev/shm is Docker's 64 MB default.
	_, err = db.Pool.Exec(ctx, `VACUUM (ANALYZE, PARALLEL 0) mesh.audit_log`)
	return err
}
