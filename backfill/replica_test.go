package backfill_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// With a real streaming standby that replays 2 s late, --max-lag 1s makes
// a run that lasts a few seconds (--max-rate 10) wait, saying why, until
// the standby has replayed its older batches; the run still completes.
func TestMaxLagWaitsForReplica(t *testing.T) {
	rep := pgtest.StartReplicated(t, 2*time.Second)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, rep.Primary)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `
		INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) SELECT 'm' || i, 'n', 's', 'o' FROM generate_series(1, 40) i;`); err != nil {
		t.Fatal(err)
	}
	var waits []string
	start := time.Now()
	res, err := backfill.Run(ctx, c, backfill.General{}, backfill.Options{BatchSize: 1, MaxRate: 10, MaxLag: time.Second, LagPoll: 100 * time.Millisecond,
		Progress: func(e backfill.Event) {
			if e.Kind == backfill.EventWait {
				waits = append(waits, e.Reason)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.Written != 40 {
		t.Errorf("result %+v", res)
	}
	var lagWaits int
	for _, w := range waits {
		if strings.Contains(w, "replica") && strings.Contains(w, "max-lag 1s") {
			lagWaits++
		}
	}
	if lagWaits == 0 {
		t.Errorf("no wait for the replica; wait reasons %q", waits)
	}
	t.Logf("%d waits in %s: %q", len(waits), time.Since(start).Round(time.Millisecond), waits)
	if lagWaits > 10 {
		t.Errorf("%d wait events for the replica: one per pause expected", lagWaits)
	}
	// The standby is never more than max-lag behind the run: when it ends,
	// the standby has replayed all but the last second's batches.
	sc, err := pgx.Connect(ctx, rep.Standby)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	var n int
	if err := sc.QueryRow(ctx, `SELECT count(*) FROM mesh.topic`).Scan(&n); err != nil || n < 20 {
		t.Errorf("standby has %d topics (%v), want most of the 40", n, err)
	}
}
