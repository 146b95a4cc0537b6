package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// lock takes the session advisory lock by polling pg_try_advisory_lock. A
// blocking pg_advisory_lock would sit in a transaction with a snapshot, and
// CREATE INDEX CONCURRENTLY run by the holder would wait for it forever.
func (s *session) lock(ctx context.Context) (time.Duration, error) {
	cfg := s.r.cfg
	start := time.Now()
	var last *LockHolder
	for {
		var got bool
		var pid uint32
		if err := s.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1), pg_backend_pid()", pgx.QueryExecModeSimpleProtocol, cfg.lockKey).Scan(&got, &pid); err != nil {
			return time.Since(start), dbErr("taking the migration lock", err)
		}
		if got {
			s.locked = true
			if s.pid != 0 && pid != s.pid {
				return time.Since(start), &PoolerError{}
			}
			waited := time.Since(start)
			s.r.emit(Event{Kind: EventLockAcquired, Duration: waited})
			return waited, nil
		}
		holder, err := s.holder(ctx)
		if err != nil {
			return time.Since(start), err
		}
		if last == nil || holder == nil || holder.PID != last.PID {
			s.r.emit(Event{Kind: EventLockWait, Holder: holder})
		}
		if holder != nil {
			last = holder
		}
		waited := time.Since(start)
		if waited >= cfg.lockWait {
			return waited, &LockError{Waited: waited, Holder: last}
		}
		t := time.NewTimer(min(cfg.lockPoll, cfg.lockWait-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Since(start), ctx.Err()
		case <-t.C:
		}
	}
}

// LockHolder describes the session holding the migration lock.
type LockHolder struct {
	PID             int        `json:"pid"`
	ApplicationName string     `json:"application_name"`
	ClientAddr      string     `json:"client_addr"`
	State           string     `json:"state"`
	BackendStart    *time.Time `json:"backend_start"`
	StateChange     *time.Time `json:"state_change"`
	Query           string     `json:"query"` // its current or last statement, string literals redacted
}

func (h *LockHolder) String() string {
	var since string
	if h.BackendStart != nil {
		since = " connected since " + h.BackendStart.UTC().Format(time.RFC3339)
	}
	app := h.ApplicationName
	if app == "" {
		app = "(no application_name)"
	}
	q := strings.Join(strings.Fields(h.Query), " ")
	if len(q) > 120 {
		q = q[:120] + "..."
	}
	return fmt.Sprintf("pid %d %s from %s, state %s%s, query: %s", h.PID, app, h.ClientAddr, h.State, since, q)
}

// holder finds who holds the lock; nil when it cannot be seen (released
// meanwhile, or no privilege to see other sessions).
func (s *session) holder(ctx context.Context) (*LockHolder, error) {
	var h LockHolder
	err := s.conn.QueryRow(ctx, `
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'),
       coalesce(a.state, ''), a.backend_start, a.state_change, left(coalesce(a.query, ''), 500)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1`, pgx.QueryExecModeSimpleProtocol, s.r.cfg.lockKey).Scan(&h.PID, &h.ApplicationName, &h.ClientAddr, &h.State, &h.BackendStart, &h.StateChange, &h.Query)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("looking up the lock holder", err)
	}
	h.Query = RedactLiterals(h.Query)
	return &h, nil
}
