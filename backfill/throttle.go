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
	if res.rateFrom.IsZero() {
		res.rateFrom = start
	}
	if opt.MaxRate > 0 && res.Scanned > res.rateRows {
		due := res.rateFrom.Add(time.Duration(float64(res.Scanned-res.rateRows) / opt.MaxRate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			// Said once, not before every batch it slows.
			if reason := fmt.Sprintf("max-rate %.0f/s", opt.MaxRate); res.lastWait != reason {
				emit(Event{Kind: EventWait, Reason: reason})
				res.lastWait = reason
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	if opt.MaxLag <= 0 {
		return nil
	}
	paused := false
	for {
		lag, name, err := replicaLag(ctx, conn, res.written)
		if err != nil {
			return err
		}
		if lag <= opt.MaxLag {
			if paused {
				// The rate counts from here: a pause earns no burst.
				res.rateFrom, res.rateRows = time.Now(), res.Scanned
			}
			return nil
		}
		if !paused {
			res.lastWait = fmt.Sprintf("replica %s lags %s > max-lag %s", name, lag.Round(10*time.Millisecond), opt.MaxLag)
			emit(Event{Kind: EventWait, Reason: res.lastWait})
			paused = true
		}
		if err := sleep(ctx, opt.LagPoll); err != nil {
			return err
		}
	}
}

// written is a committed batch: the WAL position after its commit, and
// when.
type written struct {
	lsn uint64
	at  time.Time
}

// replicaLag returns the largest lag among the primary's streaming
// replicas and that replica's name, 0 when there are none. A replica's lag
// is the larger of
//
//   - how long ago this run committed the oldest batch the replica has not
//     replayed yet (measured here, so it is known at once; PostgreSQL's
//     replay_lag appears only after the replica replays), and
//   - pg_stat_replication.replay_lag, while the replica is behind the
//     primary's current position (once it has replayed everything,
//     PostgreSQL keeps showing the last value for a while).
func replicaLag(ctx context.Context, conn *pgx.Conn, mine []written) (time.Duration, string, error) {
	rows, err := conn.Query(ctx, `
		SELECT application_name || '@' || coalesce(client_addr::text, 'local'),
		       coalesce(replay_lsn::text, '0/0'),
		       CASE WHEN replay_lsn IS NOT NULL AND replay_lsn >= pg_current_wal_lsn() THEN 0
		            ELSE (extract(epoch FROM coalesce(replay_lag, interval '0')) * 1e6)::bigint END
		FROM pg_stat_replication`)
	if err != nil {
		return 0, "", fmt.Errorf("read replica lag (pg_stat_replication): %w", err)
	}
	defer rows.Close()
	var worst time.Duration
	var worstName string
	now := time.Now()
	for rows.Next() {
		var name, replay string
		var us int64
		if err := rows.Scan(&name, &replay, &us); err != nil {
			return 0, "", err
		}
		lag := time.Duration(us) * time.Microsecond
		at, err := parseLSN(replay)
		if err != nil {
			return 0, "", err
		}
		for _, w := range mine {
			if w.lsn > at {
				lag = max(lag, now.Sub(w.at))
				break
			}
		}
		if lag > worst {
			worst, worstName = lag, name
		}
	}
	return worst, worstName, rows.Err()
}

// currentLSN is the primary's WAL position now (after a commit: at or past
// the commit record).
func currentLSN(ctx context.Context, conn *pgx.Conn) (uint64, error) {
	var s string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&s); err != nil {
		return 0, err
	}
	return parseLSN(s)
}

// parseLSN reads PostgreSQL's pg_lsn text form, "16/B374D848".
func parseLSN(s string) (uint64, error) {
	var hi, lo uint32
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("unexpected WAL position %q", s)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}
