package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/migrate"
)

type pingResult struct {
	Server        string  `json:"server_version"`
	Database      string  `json:"database"`
	User          string  `json:"user"`
	LatencyMS     float64 `json:"latency_ms"`
	MeshSchema    bool    `json:"mesh_schema"`
	TrackingTable bool    `json:"tracking_table"`
	Applied       int     `json:"applied_migrations"`
}

func dbCommand() *cli.Command {
	return &cli.Command{
		Name:  "db",
		Usage: "check the database connection",
		Subcommands: []*cli.Command{{
			Name:  "ping",
			Flags: []cli.Flag{&cli.StringFlag{Name: "table", Value: migrate.DefaultTable, Usage: "the migration tracking table as `schema.name`"}},
			Usage: "connect, and report server version, user and whether the mesh schema is there",
			UsageText: `meshctl --database-url postgres://ops@db:5432/claudemesh db ping
meshctl --json db ping`,
			Action: func(c *cli.Context) error {
				e := envFrom(c)
				start := time.Now()
				pool, err := dbconn.OpenPool(c.Context, e.databaseURL, appName)
				if err != nil {
					return err
				}
				defer pool.Close()
				var r pingResult
				err = pool.QueryRow(c.Context, `
					SELECT current_setting('server_version'), current_database(), current_user,
					       to_regnamespace('mesh') IS NOT NULL`).
					Scan(&r.Server, &r.Database, &r.User, &r.MeshSchema)
				if err != nil {
					return fmt.Errorf("query server facts: %w", err)
				}
				r.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
				ti, err := migrate.Tracking(c.Context, pool, c.String("table"))
				if err != nil {
					return migrateError(fmt.Errorf("read the migration tracking table: %w", err))
				}
				r.TrackingTable, r.Applied = ti.Exists, int(ti.Applied)
				if e.json {
					return e.printJSON(r)
				}
				return e.table([]string{"server", "database", "user", "connect ms", "mesh schema", "migrations applied"},
					[][]string{{r.Server, r.Database, r.User, fmt.Sprintf("%.1f", r.LatencyMS), yesNo(r.MeshSchema), fmt.Sprint(r.Applied)}})
			},
		}},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
