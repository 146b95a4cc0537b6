package backfill_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// upstreamStatement is the notifications backfill as upstream shipped it
// (packages/db/migrations/0025_notifications.sql at alezmad/claudemesh
// 213a6b3): one statement, a regex built from each roster member's display
// name, matched over every decoded body.
const upstreamStatement = `
INSERT INTO "mesh"."notification"
  ("id", "mesh_id", "topic_id", "message_id", "recipient_member_id", "sender_member_id", "kind", "created_at")
SELECT replace(gen_random_uuid()::text, '-', ''), t."mesh_id", m."topic_id", m."id", recipient."id", m."sender_member_id", 'mention', m."created_at"
FROM "mesh"."topic_message" m
INNER JOIN "mesh"."topic" t ON t."id" = m."topic_id"
INNER JOIN "mesh"."member" recipient
  ON recipient."mesh_id" = t."mesh_id" AND recipient."revoked_at" IS NULL AND recipient."id" <> m."sender_member_id"
WHERE m."ciphertext" ~ '^[A-Za-z0-9+/=]+$' AND length(m."ciphertext") > 0 AND length(m."ciphertext") % 4 = 0
  AND convert_from(decode(m."ciphertext", 'base64'), 'UTF8') ~* (
    '(^|\s|[^A-Za-z0-9_-])@' || regexp_replace(recipient."display_name", '([.*+?^${}()|\[\]\\])', '\\\1', 'g') || '($|[^A-Za-z0-9_-])')
ON CONFLICT ("message_id", "recipient_member_id") DO NOTHING`

// BenchmarkNotifications compares the notifications backfill with
// upstream's single statement on the same data and database, interleaved:
// MESHCTL_BENCH_MESSAGES messages (default 1,000,000) in 1,000 meshes of
// 20 members, one in ten mentioning members.
//
//	go test ./backfill -run '^$' -bench Notifications -benchtime 1x -timeout 2h
func BenchmarkNotifications(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("MESHCTL_BENCH_MESSAGES"); s != "" {
		fmt.Sscan(s, &n)
	}
	db := pgtest.NewDB(b)
	ctx := context.Background()
	seed := []string{
		`INSERT INTO public."user" (id) SELECT 'u' || i FROM generate_series(1, 1000) i`,
		`INSERT INTO mesh.mesh (id, name, slug, owner_user_id) SELECT 'm' || i, 'mesh' || i, 's' || i, 'u' || i FROM generate_series(1, 1000) i`,
		`INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name)
			SELECT 'p' || m || '_' || i, 'm' || m, 'x', repeat('a', 64), 'user' || i FROM generate_series(1, 1000) m, generate_series(1, 20) i`,
		`INSERT INTO mesh.topic (id, mesh_id, name) SELECT 't' || i, 'm' || i, 'general' FROM generate_series(1, 1000) i`,
		fmt.Sprintf(`INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, body_version, created_at)
			SELECT lpad(i::text, 9, '0'), 't' || (1 + i %% 1000), 'p' || (1 + i %% 1000) || '_1', '',
			       encode(convert_to(CASE WHEN i %% 10 = 0 THEN 'hey @user' || (2 + i %% 19) || ', can you look at #' || i || ' with @user' || (2 + (i / 7) %% 19) || '?'
			                              ELSE 'status update ' || i || ': build green, deploying to staging' END, 'UTF8'), 'base64'), 1,
			       '2025-01-01'::timestamp + i * interval '1 second'
			FROM generate_series(1, %d) i`, n),
		`ANALYZE`,
	}
	t0 := time.Now()
	for _, q := range seed {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d messages in %s", n, time.Since(t0).Round(time.Second))
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	reset := func() {
		if _, err := db.Pool.Exec(ctx, `TRUNCATE mesh.notification; DELETE FROM mesh.meshctl_backfill`); err != nil {
			// The state table appears with the first backfill run.
			if _, err := db.Pool.Exec(ctx, `TRUNCATE mesh.notification`); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE mesh.notification`); err != nil {
			b.Fatal(err)
		}
	}
	var ours, theirs []time.Duration
	var rows, theirRows int64
	var batches []time.Duration
	b.ResetTimer()
	for range max(b.N, 3) {
		reset()
		start := time.Now()
		res, err := backfill.Run(ctx, conn, backfill.Notifications{}, backfill.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ours = append(ours, time.Since(start))
		rows = res.Written
		batches = append(batches, res.BatchDurations...)

		reset()
		start = time.Now()
		tag, err := db.Pool.Exec(ctx, upstreamStatement)
		if err != nil {
			b.Fatal(err)
		}
		theirs = append(theirs, time.Since(start))
		theirRows = tag.RowsAffected()
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	slices.Sort(batches)
	pct := func(p float64) time.Duration { return batches[int(p*float64(len(batches)-1))] }
	b.Logf("backfill: median %s (runs %v), %d notifications, %.0f messages/s", med(ours), ours, rows, float64(n)/med(ours).Seconds())
	b.Logf("upstream statement: median %s (runs %v), %d notifications", med(theirs), theirs, theirRows)
	b.Logf("speed-up %.2fx; batches %d: p50 %s p90 %s p99 %s max %s", float64(med(theirs))/float64(med(ours)),
		len(batches), pct(0.5), pct(0.9), pct(0.99), batches[len(batches)-1])
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.Logf("peak RSS of the benchmark process (the backfill's client side): %d MB", ru.Maxrss/1024)
	}
	b.ReportMetric(float64(n)/med(ours).Seconds(), "msgs/s")
	b.ReportMetric(float64(med(theirs))/float64(med(ours)), "speedup")
}
