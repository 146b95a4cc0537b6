package migrate

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The tracking table keeps upstream's three columns as they are (filename,
// sha256, applied_at): meshctl never alters it, so a table owned by
// another role with only SELECT and INSERT granted works. meshctl's extras
// (duration, how the row came to be, meshctl's version, the normalised
// hash) live in a side table, <table>_meshctl, that it creates when it may;
// when it may not, rows go without extras and Up says so once. Tables made
// by older meshctl versions carry the extras as columns of the tracking
// table; they are read, and written, there.
const sideSuffix = "_meshctl"

// extrasMode says where a session writes meshctl's extras.
type extrasMode int

const (
	extrasNone    extrasMode = iota // nowhere: upstream's three columns only
	extrasColumns                   // columns of the tracking table (older meshctl)
	extrasSide                      // the side table
)

// extraColumns are the extras as older meshctl versions added them to the
// tracking table.
var extraColumns = []string{"duration_ms", "applied_how", "meshctl_version", "normalized_sha256"}

func (r *Runner) sideIdent() string {
	return pgx.Identifier{r.cfg.schema, r.cfg.table + sideSuffix}.Sanitize()
}

// trackingInfo is what probe learns about the tables and the privileges
// of the current role on them.
type trackingInfo struct {
	tableExists, partialExists, sideExists bool
	historyExists                          bool // set by repairs
	extrasOnTable                          bool // all extraColumns present on the tracking table
	canSelect, canInsert                   bool // on the tracking table
	canUseSide                             bool // SELECT and INSERT on the side table
	canSelectSide                          bool
	canCreate                              bool // CREATE on the schema (or, without the schema, on the database)
	schemaExists                           bool
	user, database                         string
	timeZone                               string
	// zone is timeZone loaded in Go, to read local wall times without
	// converting every row on the server; nil when Go does not know the
	// zone (then the server converts).
	zone *time.Location
}

const probeSQL = `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL, to_regclass($3) IS NOT NULL,
	(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND NOT attisdropped
	 AND attname IN ('duration_ms', 'applied_how', 'meshctl_version', 'normalized_sha256')),
	coalesce(has_table_privilege(to_regclass($1), 'SELECT'), false), coalesce(has_table_privilege(to_regclass($1), 'INSERT'), false),
	coalesce(has_table_privilege(to_regclass($3), 'SELECT') AND has_table_privilege(to_regclass($3), 'INSERT'), false),
	coalesce(has_table_privilege(to_regclass($3), 'SELECT'), false),
	(SELECT n.oid IS NOT NULL FROM (SELECT 1) x LEFT JOIN pg_namespace n ON n.nspname = $4),
	CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $4) THEN has_schema_privilege($4, 'CREATE')
	     ELSE has_database_privilege(current_database(), 'CREATE') END,
	current_user, current_database(), current_setting('TimeZone'), pg_backend_pid()`

// mode decides where extras go for this session.
func (ti *trackingInfo) mode() extrasMode {
	switch {
	case ti.tableExists && ti.extrasOnTable:
		return extrasColumns
	case ti.sideExists && ti.canUseSide:
		return extrasSide
	case !ti.sideExists && (ti.canCreate || !ti.tableExists):
		// Created with the tracking table, or beside an existing one.
		return extrasSide
	}
	return extrasNone
}

// ensureTableSQL creates the tracking table exactly as upstream does, and
// the side table, for a database that has neither.
func (r *Runner) ensureTableSQL() string {
	return fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s;\n"+
		"CREATE TABLE IF NOT EXISTS %s (filename text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamp NOT NULL DEFAULT now());\n",
		pgx.Identifier{r.cfg.schema}.Sanitize(), r.tableIdent()) + r.sideDDL()
}

func (r *Runner) sideDDL() string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (filename text PRIMARY KEY, duration_ms double precision, "+
		"applied_how text NOT NULL, meshctl_version text, normalized_sha256 text);\n", r.sideIdent())
}

// prepareExtras runs before the first file of an Up or Bootstrap on an
// existing tracking table: it creates the side table when it is missing
// and the role may, and otherwise settles for no extras, with a warning.
func (s *session) prepareExtras(ctx context.Context) (warning string, err error) {
	ti := s.info
	if !ti.tableExists {
		return "", nil
	}
	switch s.extras {
	case extrasColumns:
		return "", nil
	case extrasSide:
		if ti.sideExists {
			return "", nil
		}
		if _, err := s.conn.PgConn().Exec(ctx, s.r.sideDDL()).ReadAll(); err != nil {
			return "", dbErr("creating "+s.r.Table()+sideSuffix, err)
		}
		s.info.sideExists, s.info.canUseSide = true, true
		return "", nil
	}
	return fmt.Sprintf("meshctl's extras (duration, how applied, version, normalised hash) are not recorded: role %s cannot use %s%s "+
		"(GRANT CREATE ON SCHEMA %s TO %s, or have its owner create it); the tracking rows are written as upstream writes them",
		ti.user, s.r.Table(), sideSuffix, ident(s.r.cfg.schema), ident(ti.user)), nil
}

// rowSQL writes f's tracking row and meshctl's extras; its last statement
// returns the duration (NULL when there is nowhere to keep it). duration
// is an SQL expression. applied_at is UTC wall time on rows that carry
// extras (their applied_how says meshctl wrote them); without extras the
// row is written as upstream writes it (now() in the session's time zone),
// so that every row without extras is read the same way.
func (s *session) rowSQL(f *File, how, duration string, ifAbsent bool) string {
	r := s.r
	conflict := ""
	if ifAbsent {
		conflict = " ON CONFLICT (filename) DO NOTHING"
	}
	switch s.extras {
	case extrasColumns:
		return fmt.Sprintf("INSERT INTO %s (filename, sha256, applied_at, duration_ms, applied_how, meshctl_version, normalized_sha256) "+
			"VALUES (%s, %s, now() AT TIME ZONE 'UTC', %s, %s, %s, %s)%s RETURNING duration_ms",
			r.tableIdent(), literal(f.Name), literal(f.SHA256), duration, literal(how), nullable(r.cfg.version), literal(f.Normalized()), conflict)
	case extrasSide:
		// A leftover side row (its tracking row deleted by hand) is
		// replaced: the tracking row is the truth.
		return fmt.Sprintf("INSERT INTO %s (filename, sha256, applied_at) VALUES (%s, %s, now() AT TIME ZONE 'UTC')%s;\n"+
			"INSERT INTO %s (filename, duration_ms, applied_how, meshctl_version, normalized_sha256) VALUES (%s, %s, %s, %s, %s) "+
			"ON CONFLICT (filename) DO %s RETURNING duration_ms",
			r.tableIdent(), literal(f.Name), literal(f.SHA256), conflict,
			r.sideIdent(), literal(f.Name), duration, literal(how), nullable(r.cfg.version), literal(f.Normalized()),
			map[bool]string{true: "NOTHING", false: "UPDATE SET duration_ms = excluded.duration_ms, applied_how = excluded.applied_how, " +
				"meshctl_version = excluded.meshctl_version, normalized_sha256 = excluded.normalized_sha256"}[ifAbsent])
	}
	return fmt.Sprintf("INSERT INTO %s (filename, sha256) VALUES (%s, %s)%s RETURNING NULL::float8",
		r.tableIdent(), literal(f.Name), literal(f.SHA256), conflict)
}

// readSQL selects filename, sha256, applied_at, duration, how, normalised
// hash of every tracking row. Rows meshctl wrote with extras hold UTC wall
// time; the others (upstream's, or meshctl's without extras) hold now() of
// a session in the server's time zone, read in this session's TimeZone
// (the server's, unless the connection set one): by Go when it knows the
// zone (appliedAt), else converted by the server here.
func (s *session) readSQL() string {
	r := s.r
	dur, how, norm, from := "NULL::float8", "NULL::text", "NULL::text", r.tableIdent()+" t"
	switch {
	case s.info.extrasOnTable:
		dur, how, norm = "t.duration_ms", "t.applied_how", "t.normalized_sha256"
	case s.info.sideExists && s.info.canSelectSide:
		dur, how, norm = "m.duration_ms", "m.applied_how", "m.normalized_sha256"
		from += " LEFT JOIN " + r.sideIdent() + " m USING (filename)"
	}
	at := "t.applied_at"
	if s.info.zone == nil {
		at = fmt.Sprintf("CASE WHEN %s IS NULL THEN t.applied_at AT TIME ZONE (SELECT current_setting('TimeZone')) "+
			"ELSE t.applied_at AT TIME ZONE 'UTC' END", how)
	}
	return fmt.Sprintf("SELECT t.filename, t.sha256, %s, %s, %s, %s FROM %s", at, dur, how, norm, from)
}

// appliedAt turns a scanned applied_at into the instant it names.
func (s *session) appliedAt(t time.Time, ours bool) time.Time {
	if ours || s.info.zone == nil {
		return t // UTC wall time, or already converted by the server
	}
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), s.info.zone).UTC()
}

// ident quotes a name for SQL only where PostgreSQL needs it, so that the
// grant in a message reads as an operator would type it.
func ident(name string) string {
	if simpleIdent.MatchString(name) {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}

var simpleIdent = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// PrivilegeError names the exact grant a role lacks.
type PrivilegeError struct {
	Role, Grant string // e.g. "GRANT INSERT ON mesh.__cmh_migrations TO app"
	Why         string
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("role %s %s: %s", e.Role, e.Why, e.Grant)
}

// checkWrite refuses, before the lock and before any file runs, an Up
// whose tracking writes would fail for lack of a privilege.
func (s *session) checkWrite(needPartial bool) error {
	ti, r := s.info, s.r
	role, schema := ident(ti.user), ident(r.cfg.schema)
	switch {
	case ti.tableExists && !ti.canSelect:
		return &PrivilegeError{Role: ti.user, Why: "cannot read the tracking table", Grant: fmt.Sprintf("GRANT SELECT ON %s TO %s", r.Table(), role)}
	case ti.tableExists && !ti.canInsert:
		return &PrivilegeError{Role: ti.user, Why: "cannot record applied files", Grant: fmt.Sprintf("GRANT INSERT ON %s TO %s", r.Table(), role)}
	case !ti.tableExists && !ti.canCreate && ti.schemaExists:
		return &PrivilegeError{Role: ti.user, Why: "cannot create the tracking table", Grant: fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s", schema, role)}
	case !ti.tableExists && !ti.canCreate:
		return &PrivilegeError{Role: ti.user, Why: "cannot create schema " + schema + " for the tracking table",
			Grant: fmt.Sprintf("GRANT CREATE ON DATABASE %s TO %s", ident(ti.database), role)}
	case needPartial && ti.tableExists && !ti.partialExists && !ti.canCreate:
		return &PrivilegeError{Role: ti.user, Why: "cannot create " + r.Table() + partialSuffix + ", where the progress of no-transaction files is kept",
			Grant: fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s (or have the schema's owner run: %s)", schema, role, strings.TrimSpace(r.partialDDL()))}
	}
	return nil
}

// noTransaction reports whether a non-transactional file is to be run.
func (p *plan) noTransaction() bool {
	for _, f := range p.todo {
		if f.NoTransaction {
			return true
		}
	}
	return false
}

// zone loads a PostgreSQL TimeZone setting as a Go location, once per
// session; nil for names Go does not know (POSIX-style zones, or no time
// zone database on this machine), which the server then converts.
func (s *session) zone(name string) *time.Location {
	if s.info.zone != nil && s.info.timeZone == name {
		return s.info.zone
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil
	}
	return loc
}
