package migrate

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// TrackingInfo is what a quick look at a database says about its
// migrations, for health checks (meshctl db ping): whether the tracking
// table exists and how many rows it holds.
type TrackingInfo struct {
	Table   string `json:"table"`
	Exists  bool   `json:"exists"`
	Applied int64  `json:"applied"`
}

// Tracking reads TrackingInfo for table (schema.name; "" for DefaultTable)
// on q, needing only SELECT on the table when it exists.
func Tracking(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, table string) (TrackingInfo, error) {
	if table == "" {
		table = DefaultTable
	}
	var c config
	if err := WithTable(table)(&c); err != nil {
		return TrackingInfo{}, err
	}
	ident := pgx.Identifier{c.schema, c.table}.Sanitize()
	info := TrackingInfo{Table: table}
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", ident).Scan(&info.Exists); err != nil {
		return info, err
	}
	if info.Exists {
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&info.Applied); err != nil {
			return info, err
		}
	}
	return info, nil
}

// AppliedAt returns when each tracking row of table (schema.name; "" for
// DefaultTable) was applied, as instants in UTC, keyed by filename; nil,
// and no error, when the table does not exist. applied_at is read as
// Status reads it: rows meshctl wrote with extras hold UTC wall time, the
// others (upstream's) the wall time of the writing session's zone, taken
// to be this session's TimeZone. It needs only SELECT on the table (and on
// the side table, when there is one it can read).
func AppliedAt(ctx context.Context, conn *pgx.Conn, table string) (map[string]time.Time, error) {
	if table == "" {
		table = DefaultTable
	}
	r := &Runner{conn: conn}
	if err := WithTable(table)(&r.cfg); err != nil {
		return nil, err
	}
	s := &session{r: r, conn: conn}
	exists, _, err := s.probe(ctx)
	if err != nil || !exists {
		return nil, err
	}
	rows, err := s.readTracking(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(rows))
	for name, tr := range rows {
		out[name] = tr.appliedAt
	}
	return out, nil
}
