package migrate

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// A no-transaction statement can run for long: an index build over a big
// table, or one waiting behind an idle transaction. After a few seconds a
// second connection watches it and reports, through EventStatementProgress,
// the build's phase and counts (pg_stat_progress_create_index) and who
// blocks it (pg_blocking_pids), so that an operator never stares at a
// silent terminal.

// DefaultWatchAfter is how long a no-transaction statement runs before it
// is watched; then it is polled every DefaultWatchEvery.
const (
	DefaultWatchAfter = 3 * time.Second
	DefaultWatchEvery = time.Second
)

// StatementProgress is what is known of a running statement.
type StatementProgress struct {
	PID         int       `json:"pid"`             // the backend running it
	Phase       string    `json:"phase,omitempty"` // CREATE INDEX phase; "" for other statements
	BlocksDone  int64     `json:"blocks_done"`
	BlocksTotal int64     `json:"blocks_total"`
	TuplesDone  int64     `json:"tuples_done"`
	TuplesTotal int64     `json:"tuples_total"`
	Blockers    []Blocker `json:"blockers"` // sessions it waits for
}

// Blocker is a session a statement waits for.
type Blocker struct {
	PID             int        `json:"pid"`
	ApplicationName string     `json:"application_name"`
	State           string     `json:"state"`
	Since           *time.Time `json:"since"` // its transaction's start (or its last state change)
}

// watch starts watching the statement running on s.conn; stop ends the
// watch and waits for it, so no event arrives after stop returns.
func (s *session) watch(ctx context.Context, f *File, statement int) (stop func()) {
	if s.r.cfg.onEvent == nil {
		return func() {}
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTimer(s.r.cfg.watchAfter)
		defer t.Stop()
		var c *pgx.Conn
		defer func() {
			if c != nil {
				closeQuietly(ctx, c)
			}
		}()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			if c == nil {
				var err error
				if c, err = s.connectAgain(wctx); err != nil {
					return // no second connection: no progress, nothing else changes
				}
			}
			p, err := readProgress(wctx, c, int(s.pid))
			if err != nil {
				return // cancelled, or the view cannot be read: stop watching
			}
			s.r.emit(Event{Kind: EventStatementProgress, File: f.Name, NoTransaction: true, Statement: statement,
				Duration: time.Since(start), Progress: p})
			t.Reset(s.r.cfg.watchEvery)
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

func readProgress(ctx context.Context, c *pgx.Conn, pid int) (*StatementProgress, error) {
	p := &StatementProgress{PID: pid, Blockers: []Blocker{}}
	err := c.QueryRow(ctx, `SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total
		FROM pg_stat_progress_create_index WHERE pid = $1`, pgx.QueryExecModeSimpleProtocol, pid).
		Scan(&p.Phase, &p.BlocksDone, &p.BlocksTotal, &p.TuplesDone, &p.TuplesTotal)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	rows, err := c.Query(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), coalesce(a.xact_start, a.state_change)
		FROM unnest(pg_blocking_pids($1)) AS b(pid) JOIN pg_stat_activity a ON a.pid = b.pid ORDER BY a.pid`, pgx.QueryExecModeSimpleProtocol, pid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b Blocker
		if err := rows.Scan(&b.PID, &b.ApplicationName, &b.State, &b.Since); err != nil {
			return nil, err
		}
		p.Blockers = append(p.Blockers, b)
	}
	return p, rows.Err()
}
