package migrate

import (
	"context"

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
