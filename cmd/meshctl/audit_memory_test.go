package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/audit"
)

// TestAuditVerifyMemory: the peak RSS of `meshctl audit verify` on a
// database holding one large payload (MESHCTL_AUDIT_MEMORY_MB, default 20
// MB of JSON text in about 20-byte members) stays within 64 MB plus three
// times the payload. MESHCTL_AUDIT_MEMORY_BIN measures another build.
func TestAuditVerifyMemory(t *testing.T) {
	mb := envInt("MESHCTL_AUDIT_MEMORY_MB", 20)
	bin := os.Getenv("MESHCTL_AUDIT_MEMORY_BIN") // another build, to compare
	if bin == "" {
		bin = buildMeshctl(t)
	}
	db := auditDB(t)
	ctx := context.Background()

	// Keys of varying length in random order: jsonb stores them shortest
	// first, so the canonical form must reorder every one.
	// MESHCTL_AUDIT_MEMORY_SHAPE=nested puts that object one level down,
	// =array makes the payload an array of small objects.
	shape := os.Getenv("MESHCTL_AUDIT_MEMORY_SHAPE")
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	switch shape {
	case "nested":
		b.WriteString(`{"b":1,"a":{`)
	case "array":
		b.WriteString(`[{`)
	default:
		b.WriteByte('{')
	}
	for i := 0; b.Len() < mb<<20; i++ {
		if i > 0 && shape == "array" && i%5 == 0 {
			b.WriteString(`},{`)
		} else if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k`)
		b.WriteString(strconv.FormatUint(r.Uint64()>>r.IntN(60), 36))
		b.WriteString(`":`)
		if i%3 == 0 {
			b.WriteString(`"v` + strconv.Itoa(i%1000) + `"`)
		} else {
			b.WriteString(strconv.Itoa(r.IntN(1e6)))
		}
	}
	switch shape {
	case "nested":
		b.WriteString(`}}`)
	case "array":
		b.WriteString(`}]`)
	default:
		b.WriteByte('}')
	}
	payload := b.String()
	b.Reset()

	var prev string
	if err := db.Pool.QueryRow(ctx, `SELECT hash FROM mesh.audit_log WHERE mesh_id = 'one' ORDER BY id DESC LIMIT 1`).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	h, err := audit.HashV1(prev, "one", "state_set", nil, []byte(payload), created)
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	err = db.Pool.QueryRow(ctx, `INSERT INTO mesh.audit_log (mesh_id, event_type, payload, prev_hash, hash, created_at)
VALUES ('one', 'state_set', $1::text::jsonb, $2, $3, $4::text::timestamp) RETURNING octet_length(payload::text)`,
		payload, prev, h, created.Format("2006-01-02 15:04:05.000")).Scan(&stored)
	if err != nil {
		t.Fatal(err)
	}
	payload = ""

	cmd := exec.Command(bin, "--database-url", db.URL, "audit", "verify", "--all")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// VmHWM of the child's own address space, read until it exits (the
	// rusage of a child started by vfork+exec also counts the parent's
	// peak). It only grows, and the peak comes long before the exit.
	hwm := make(chan int64)
	stop := make(chan struct{})
	go func() {
		var peak int64
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
						if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb<<10 > peak {
							peak = kb << 10
						}
					}
				}
			}
			select {
			case <-stop:
				hwm <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	peak := <-hwm
	if err != nil || !strings.Contains(out.String(), "7 rows in 3 meshes verified") {
		t.Fatalf("verify: %v\n%s", err, tail(out.String()))
	}
	if peak == 0 {
		t.Fatal("could not read the child's VmHWM")
	}
	limit := 64<<20 + 3*stored
	t.Logf("payload %.1f MB (jsonb text): peak RSS %.1f MB (%.2f× the payload), limit %.1f MB; verify took %.1fs",
		float64(stored)/(1<<20), float64(peak)/(1<<20), float64(peak)/float64(stored), float64(limit)/(1<<20), time.Since(start).Seconds())
	if peak > limit {
		t.Errorf("peak RSS %d bytes > 64 MB + 3 × %d bytes", peak, stored)
	}
}
