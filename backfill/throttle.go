package backfill

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// throttle waits before the next batch while the run is ahead of MaxRate,
// or while a streaming replica lags more than MaxLag. Each wait is
// reported once per reason with an EventWait.
func throttle(ctx context.Context, conn *pgx.Conn, opt *Options, res *Result, start time.Time, emit func(Event)) error {
	if opt.MaxRate > 0 && res.Scanned > 0 {
		due := start.Add(time.Duration(float64(res.Scanned) / opt.MaxRate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			emit(Event{Kind: EventWait, Reason: fmt.Sprintf("max-rate %.0f/s", opt.MaxRate)})
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	if opt.MaxLag <= 0 {
		return nil
	}
	said := ""
	for {
		lag, name, err := ReplicaLag(ctx, conn)
		if err != nil {
			return err
		}
		if lag <= opt.MaxLag {
			return nil
		}
		reason := fmt.Sprintf("replica %s lags %s > max-lag %s", name, lag.Round(time.Millisecond), opt.MaxLag)
		if reason != said {
			emit(Event{Kind: EventWait, Reason: reason})
			said = reason
		}
		if err := sleep(ctx, opt.LagPoll); err != nil {
			return err
		}
	}
}

// ReplicaLag returns the largest replay lag among the primary's streaming
// replicas (pg_stat_replication.replay_lag) and that replica's name, or 0
// when there are none. A replica that has replayed everything the primary
// wrote counts as 0 whatever its last measured lag (PostgreSQL keeps the
// last value, or NULL, once a replica is idle).
func ReplicaLag(ctx context.Context, conn *pgx.Conn) (time.Duration, string, error) {
	var us int64
	var name string
	err := conn.QueryRow(ctx, `
		SELECT coalesce(max(us), 0)::bigint, coalesce((array_agg(name ORDER BY us DESC))[1], '')
		FROM (
			SELECT application_name || '@' || coalesce(client_addr::text, 'local') AS name,
			       CASE WHEN replay_lsn IS NOT NULL AND replay_lsn >= pg_current_wal_lsn() THEN 0
			            ELSE (extract(epoch FROM coalesce(replay_lag, interval '0')) * 1e6)::bigint END AS us
			FROM pg_stat_replication
		) l`).Scan(&us, &name)
	if err != nil {
		return 0, "", fmt.Errorf("read replica lag (pg_stat_replication): %w", err)
	}
	return time.Duration(us) * time.Microsecond, name, nil
}
