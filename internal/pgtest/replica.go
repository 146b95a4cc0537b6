package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"

	"github.com/claudemesh/meshctl/migrations"
)

// Replicated is a primary with one streaming hot standby, each in its own
// container from the test image, both removed when the test ends.
type Replicated struct {
	Primary string // superuser DSN of the primary's migrated database "mesh"
	Standby string // superuser DSN of the same database on the standby
}

// StartReplicated starts a primary holding the migrated reference schema
// and a standby made from it with pg_basebackup, replaying with
// recovery_min_apply_delay = applyDelay (0: none). It returns once the
// standby streams. It needs Docker even when MESHCTL_TEST_DATABASE_URL
// names a server.
func StartReplicated(t testing.TB, applyDelay time.Duration) *Replicated {
	t.Helper()
	p, err := dockertest.NewPool("")
	if err == nil {
		err = p.Client.Ping()
	}
	if err != nil {
		unavailable(t, fmt.Errorf("no Docker engine: %w", err))
	}
	image := os.Getenv("MESHCTL_TEST_POSTGRES_IMAGE")
	if image == "" {
		image = DefaultImage
	}
	repo, tag := splitImage(image)
	run := func(opts *dockertest.RunOptions) *dockertest.Resource {
		opts.Repository, opts.Tag = repo, tag
		opts.Labels = map[string]string{pidLabel: strconv.Itoa(os.Getpid())}
		res, err := p.RunWithOptions(opts, func(hc *docker.HostConfig) {
			hc.AutoRemove = true
			hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
		})
		if err != nil {
			unavailable(t, fmt.Errorf("start %s: %w", image, err))
		}
		_ = res.Expire(3600)
		t.Cleanup(func() { _ = p.Purge(res) })
		return res
	}
	primary := run(&dockertest.RunOptions{
		Env: []string{"POSTGRES_PASSWORD=" + password, "POSTGRES_DB=mesh"},
		Cmd: []string{"postgres", "-c", "wal_level=replica", "-c", "max_wal_senders=4", "-c", "fsync=off"},
	})
	dsn := func(res *dockertest.Resource) string {
		u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password),
			Host: "127.0.0.1:" + res.GetPort("5432/tcp"), Path: "/mesh", RawQuery: "sslmode=disable"}
		return u.String()
	}
	r := &Replicated{Primary: dsn(primary)}
	ctx := context.Background()
	p.MaxWait = 90 * time.Second
	var conn *pgx.Conn
	if err := p.Retry(func() (err error) { conn, err = pgx.Connect(ctx, r.Primary); return err }); err != nil {
		t.Fatalf("pgtest: primary did not start: %v", err)
	}
	defer conn.Close(ctx)
	if err := applyMigrations(ctx, conn, migrations.FS); err != nil {
		t.Fatalf("pgtest: migrate the primary: %v", err)
	}
	// The image's pg_hba.conf admits every database but not replication.
	var out bytes.Buffer
	code, err := primary.Exec([]string{"sh", "-c", `echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"`},
		dockertest.ExecOptions{StdOut: &out, StdErr: &out})
	if err != nil || code != 0 {
		t.Fatalf("pgtest: allow replication on the primary: %v %s", err, out.String())
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	delay := fmt.Sprintf("%dms", applyDelay.Milliseconds())
	standby := run(&dockertest.RunOptions{
		Env:        []string{"PGPASSWORD=" + password, "PRIMARY=" + primary.Container.NetworkSettings.IPAddress, "DELAY=" + delay},
		Entrypoint: []string{"sh", "-c", standbyScript},
	})
	r.Standby = dsn(standby)
	if err := p.Retry(func() error {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no streaming standby yet")
		}
		sc, err := pgx.Connect(ctx, r.Standby)
		if err != nil {
			return err
		}
		return sc.Close(ctx)
	}); err != nil {
		t.Fatalf("pgtest: standby did not start: %v", err)
	}
	return r
}

// standbyScript runs in the standby's container: copy the primary, then
// run as a hot standby that delays replay by $DELAY.
const standbyScript = `set -e
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
as() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
as env PGPASSWORD="$PGPASSWORD" pg_basebackup -h "$PRIMARY" -U postgres -D "$PGDATA" -R -X stream
echo "recovery_min_apply_delay = '$DELAY'" >> "$PGDATA/postgresql.auto.conf"
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c hot_standby=on`
