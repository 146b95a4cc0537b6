package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// BenchmarkCheckpointVerify measures what checkpoints add to a
// verification: audit.Verify alone, with every mesh's Merkle root (what
// `audit checkpoint` computes), and against a checkpoint's heads (what
// `verify --checkpoint` checks), interleaved, on MESHCTL_BENCH_ROWS rows
// (default 300,000) over 100 meshes. Run it alone:
//
//	go test ./cmd/meshctl -run '^$' -bench CheckpointVerify -benchtime 1x -timeout 30m
func BenchmarkCheckpointVerify(b *testing.B) {
	total := envInt("MESHCTL_BENCH_ROWS", 300_000)
	reps := envInt("MESHCTL_BENCH_REPS", 5)
	ctx := context.Background()
	db := pgtest.NewDB(b)
	if err := seedAudit(ctx, db, 100, total); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rep, err := audit.Verify(ctx, conn, audit.VerifyOptions{MerkleRoots: true})
	if err != nil || !rep.Clean() {
		b.Fatalf("seeded chain: %v", err)
	}
	heads := audit.HeadsOf(rep)
	variants := []struct {
		name string
		opt  audit.VerifyOptions
	}{
		{"chains only", audit.VerifyOptions{}},
		{"+ Merkle roots (checkpoint)", audit.VerifyOptions{MerkleRoots: true}},
		{"+ checkpoint heads (verify --checkpoint)", audit.VerifyOptions{Heads: heads}},
	}
	rates := map[string][]float64{}
	b.ResetTimer()
	for range b.N {
		for range reps {
			for _, v := range variants {
				start := time.Now()
				if r, err := audit.Verify(ctx, conn, v.opt); err != nil || !r.Clean() {
					b.Fatalf("%s: %v", v.name, err)
				}
				rates[v.name] = append(rates[v.name], float64(total)/time.Since(start).Seconds())
			}
		}
	}
	b.StopTimer()
	base := 0.0
	for _, v := range variants {
		r := slices.Clone(rates[v.name])
		slices.Sort(r)
		if base == 0 {
			base = r[len(r)/2]
		}
		b.Logf("%-42s rows/s median %8.0f  min %8.0f  max %8.0f  (n=%d)  ratio %.3f", v.name, r[len(r)/2], r[0], r[len(r)-1], len(r), r[len(r)/2]/base)
	}
}
