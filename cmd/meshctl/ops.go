package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/mesh"
)

// The operator verbs: break-glass changes on a live database when the
// broker's own admin path is not an option. Every change is audited in the
// mesh's chain (actor: the operator, outside the mesh); every destructive
// verb has --dry-run, asks on a terminal, and needs --yes otherwise.

func meshFlag() cli.Flag {
	return &cli.StringFlag{Name: "mesh", Required: true, Usage: "the mesh, by `ID|SLUG` (a slug must name exactly one mesh)"}
}
func dryFlag() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Usage: "show what would change; change nothing"}
}
func yesFlag() cli.Flag {
	return &cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation (required when stdin is not a terminal)"}
}

func meshCommand() *cli.Command {
	return &cli.Command{
		Name:  "mesh",
		Usage: "list meshes",
		Subcommands: []*cli.Command{{
			Name:      "list",
			Usage:     "every mesh with its owner, member/topic/message counts, archived state and audit rows",
			UsageText: "meshctl mesh list\nmeshctl --json mesh list",
			Action:    meshList,
		}},
	}
}

func apikeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apikey",
		Usage: "list or revoke a mesh's API keys",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "a mesh's API keys: prefix, label, capabilities, topic scope, status, last use (never secrets)",
				UsageText: "meshctl apikey list --mesh my-team",
				Flags:     []cli.Flag{meshFlag()},
				Action:    apikeyList,
			},
			{
				Name:  "revoke",
				Usage: "revoke one API key by its full id or a unique prefix of at least 6 characters (audited)",
				UsageText: `meshctl apikey revoke --mesh my-team 3f9c2a   # a unique prefix of the key's id
meshctl apikey revoke --mesh my-team 3f9c2a --dry-run`,
				Description: "Results: revoked, not_found (exit 2), not_unique (exit 2). The prefix is matched literally ('%' and '_' are characters) and only within the mesh.",
				ArgsUsage:   "ID|PREFIX",
				Flags:       []cli.Flag{meshFlag(), dryFlag(), yesFlag()},
				Action:      apikeyRevoke,
			},
		},
	}
}

func memberCommand() *cli.Command {
	return &cli.Command{
		Name:  "member",
		Usage: "ban, unban and list banned members",
		Subcommands: []*cli.Command{
			{
				Name:      "ban",
				Usage:     "ban a member (by id, exact display name or public key): its hello and API keys are refused (audited)",
				UsageText: "meshctl member ban --mesh my-team mallory\nmeshctl member ban --mesh my-team 79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664 --dry-run",
				ArgsUsage: "ID|NAME|PUBKEY",
				Flags:     []cli.Flag{meshFlag(), dryFlag(), yesFlag()},
				Action:    func(c *cli.Context) error { return memberBan(c, true) },
			},
			{
				Name:      "unban",
				Usage:     "lift a ban (audited)",
				UsageText: "meshctl member unban --mesh my-team mallory",
				ArgsUsage: "ID|NAME|PUBKEY",
				Flags:     []cli.Flag{meshFlag(), dryFlag(), yesFlag()},
				Action:    func(c *cli.Context) error { return memberBan(c, false) },
			},
			{
				Name:      "bans",
				Usage:     "the mesh's banned members",
				UsageText: "meshctl member bans --mesh my-team",
				Flags:     []cli.Flag{meshFlag()},
				Action:    memberBans,
			},
		},
	}
}

func sweepCommand() *cli.Command {
	return &cli.Command{
		Name:  "sweep",
		Usage: "delete stale rows",
		Subcommands: []*cli.Command{{
			Name:      "orphans",
			Usage:     "delete undelivered message_queue rows older than --older-than, in batches",
			UsageText: "meshctl sweep orphans --dry-run\nmeshctl sweep orphans --older-than 72h --yes",
			Flags: []cli.Flag{
				&cli.DurationFlag{Name: "older-than", Value: mesh.OrphanAge, Usage: "age `DUR` of the rows to delete (default 7 days, as the broker's hourly sweep)"},
				&cli.IntFlag{Name: "batch", Value: 1000, Usage: "rows per delete `N` (each its own short transaction)"},
				dryFlag(), yesFlag(),
			},
			Action: sweepOrphans,
		}},
	}
}

// operator is the audit actor of meshctl's changes: outside the mesh.
func operator() mesh.Actor {
	name := "meshctl"
	if u, err := user.Current(); err == nil {
		name += " (" + u.Username
		if h, err := os.Hostname(); err == nil {
			name += "@" + h
		}
		name += ")"
	}
	return mesh.Actor{DisplayName: name}
}

func opsConnect(c *cli.Context) (*env, *pgx.Conn, error) {
	e := envFrom(c)
	conn, err := dbconn.Connect(c.Context, e.databaseURL, appName)
	return e, conn, err
}

// meshConnect connects and names the --mesh mesh (see resolveMesh); the
// caller closes conn.
func meshConnect(c *cli.Context) (*env, *pgx.Conn, string, error) {
	e, conn, err := opsConnect(c)
	if err != nil {
		return nil, nil, "", err
	}
	id, err := resolveMesh(c.Context, conn, c.String("mesh"))
	if err != nil {
		conn.Close(context.Background())
		return nil, nil, "", err
	}
	return e, conn, id, nil
}

// resolveMesh names the --mesh mesh, or says why not (exit 2).
func resolveMesh(ctx context.Context, conn *pgx.Conn, ref string) (string, error) {
	id, err := mesh.Resolve(ctx, conn, ref)
	var nf *mesh.NotFoundError
	var amb *mesh.AmbiguousError
	switch {
	case errors.As(err, &nf), errors.As(err, &amb):
		return "", usageError("%v", err)
	case err != nil:
		return "", dbError(err)
	}
	return id, nil
}

// inTx runs fn in one READ COMMITTED transaction (what audit.Append
// needs, whatever the database's default): committed when fn succeeds and
// dry is false, rolled back otherwise.
func inTx(ctx context.Context, conn *pgx.Conn, dry bool, fn func(pgx.Tx) error) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if dry {
		return nil
	}
	return tx.Commit(ctx)
}

func meshList(c *cli.Context) error {
	e, conn, err := opsConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	ms, err := mesh.List(c.Context, conn)
	if err != nil {
		return dbError(err)
	}
	if e.json {
		if ms == nil {
			ms = []mesh.Summary{}
		}
		return e.printJSON(ms)
	}
	var rows [][]string
	for _, m := range ms {
		archived := "-"
		if m.ArchivedAt != nil {
			archived = m.ArchivedAt.Format("2006-01-02")
		}
		rows = append(rows, []string{m.Slug, m.ID, m.Owner, fmt.Sprint(m.Members), fmt.Sprint(m.Banned), fmt.Sprint(m.Topics),
			thousands(m.Messages), fmt.Sprint(m.APIKeysLive), thousands(m.AuditRows), archived})
	}
	return e.table([]string{"slug", "id", "owner", "members", "banned", "topics", "messages", "api keys", "audit rows", "archived"}, rows)
}

func apikeyList(c *cli.Context) error {
	e, conn, id, err := meshConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	keys, err := mesh.APIKeys(c.Context, conn, id)
	if err != nil {
		return dbError(err)
	}
	if e.json {
		if keys == nil {
			keys = []mesh.APIKey{}
		}
		return e.printJSON(keys)
	}
	var rows [][]string
	for _, k := range keys {
		scope := "all topics"
		if k.TopicScopes != nil {
			scope = strings.Join(k.TopicScopes, ",")
		}
		used := "never"
		if k.LastUsedAt != nil {
			used = k.LastUsedAt.Format(time.DateTime)
		}
		rows = append(rows, []string{k.ID, k.Prefix, k.Label, strings.Join(k.Capabilities, ","), scope, k.Status, used})
	}
	return e.table([]string{"id", "prefix", "label", "capabilities", "scope", "status", "last used"}, rows)
}

func apikeyRevoke(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("apikey revoke takes one API key id or prefix (see meshctl apikey list)")
	}
	ref := c.Args().First()
	e, conn, meshID, err := meshConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	dry := c.Bool("dry-run")
	// Look first (rolled back), ask, then revoke in a transaction of its own.
	var found mesh.Revocation
	if err := inTx(c.Context, conn, true, func(tx pgx.Tx) error {
		found, err = mesh.RevokeAPIKey(c.Context, tx, meshID, ref, operator(), true)
		return err
	}); err != nil {
		return dbError(err)
	}
	if found.Result == mesh.Revoked && !found.AlreadyRevoked && !dry {
		if err := askFirst(c, e, fmt.Sprintf("revoke API key %s of mesh %s", found.ID, meshID)); err != nil {
			return err
		}
		if err := inTx(c.Context, conn, false, func(tx pgx.Tx) error {
			found, err = mesh.RevokeAPIKey(c.Context, tx, meshID, ref, operator(), false)
			return err
		}); err != nil {
			return dbError(err)
		}
	}
	out := struct {
		mesh.Revocation
		Mesh   string `json:"mesh_id"`
		DryRun bool   `json:"dry_run"`
	}{found, meshID, dry}
	if e.json {
		if err := e.printJSON(out); err != nil {
			return err
		}
	}
	switch found.Result {
	case mesh.NotFound:
		hint := ""
		if len(ref) < mesh.MinRevokePrefix {
			hint = fmt.Sprintf(" (a prefix needs at least %d characters)", mesh.MinRevokePrefix)
		}
		return usageError("not_found: no API key of mesh %s has id %q or an id starting with it%s", meshID, ref, hint)
	case mesh.NotUnique:
		return usageError("not_unique: %q starts several API keys' ids in mesh %s: give more characters (see meshctl apikey list)", ref, meshID)
	}
	if !e.json {
		switch {
		case found.AlreadyRevoked:
			fmt.Fprintf(e.stdout, "revoked: API key %s was already revoked; nothing changed\n", found.ID)
		case dry:
			fmt.Fprintf(e.stdout, "dry run: would revoke API key %s of mesh %s\n", found.ID, meshID)
		default:
			fmt.Fprintf(e.stdout, "revoked: API key %s of mesh %s (audited as apikey_revoked)\n", found.ID, meshID)
		}
	}
	return nil
}

func memberBan(c *cli.Context, ban bool) error {
	verb := map[bool]string{true: "ban", false: "unban"}[ban]
	if c.NArg() != 1 {
		return usageError("member %s takes one member: id, exact display name or public key", verb)
	}
	target := c.Args().First()
	e, conn, meshID, err := meshConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	dry := c.Bool("dry-run")
	do := mesh.Ban
	if !ban {
		do = mesh.Unban
	}
	var ch mesh.BanChange
	run := func(dryRun bool) error {
		return inTx(c.Context, conn, dryRun, func(tx pgx.Tx) error {
			ch, err = do(c.Context, tx, meshID, target, operator(), dryRun)
			return err
		})
	}
	err = run(true)
	var te *mesh.TargetError
	if errors.As(err, &te) {
		return usageError("%v", err)
	}
	if err != nil {
		return dbError(err)
	}
	if ch.Changed && !dry {
		if err := askFirst(c, e, fmt.Sprintf("%s member %s (%s) of mesh %s", verb, ch.Member.DisplayName, ch.Member.ID, meshID)); err != nil {
			return err
		}
		if err := run(false); err != nil {
			return dbError(err)
		}
	}
	if e.json {
		return e.printJSON(struct {
			mesh.BanChange
			Mesh   string `json:"mesh_id"`
			DryRun bool   `json:"dry_run"`
		}{ch, meshID, dry})
	}
	switch {
	case !ch.Changed && ban:
		fmt.Fprintf(e.stdout, "member %s (%s) is already banned; nothing changed\n", ch.Member.DisplayName, ch.Member.ID)
	case !ch.Changed:
		fmt.Fprintf(e.stdout, "member %s (%s) is not banned; nothing changed\n", ch.Member.DisplayName, ch.Member.ID)
	case dry:
		fmt.Fprintf(e.stdout, "dry run: would %s member %s (%s) of mesh %s\n", verb, ch.Member.DisplayName, ch.Member.ID, meshID)
	default:
		fmt.Fprintf(e.stdout, "%sned member %s (%s) of mesh %s (audited as member_%sned)\n", verb, ch.Member.DisplayName, ch.Member.ID, meshID, verb)
	}
	return nil
}

func memberBans(c *cli.Context) error {
	e, conn, meshID, err := meshConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	ms, err := mesh.Bans(c.Context, conn, meshID)
	if err != nil {
		return dbError(err)
	}
	if e.json {
		if ms == nil {
			ms = []mesh.Member{}
		}
		return e.printJSON(ms)
	}
	var rows [][]string
	for _, m := range ms {
		rows = append(rows, []string{m.ID, m.DisplayName, m.PublicKey, m.Role, m.RevokedAt.Format(time.DateTime)})
	}
	return e.table([]string{"id", "display name", "public key", "role", "banned at (UTC)"}, rows)
}

func sweepOrphans(c *cli.Context) error {
	e, conn, err := opsConnect(c)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	age := c.Duration("older-than")
	n, err := mesh.CountOrphans(c.Context, conn, age)
	if err != nil {
		return dbError(err)
	}
	deleted := int64(0)
	dry := c.Bool("dry-run")
	if n > 0 && !dry {
		if err := askFirst(c, e, fmt.Sprintf("delete %s undelivered message_queue rows older than %s", thousands(n), age)); err != nil {
			return err
		}
		var bar *rowBar
		if ok, width := e.progressTerminal(); ok {
			bar = newRowBar(e.stderr, "deleting", n, width)
		}
		deleted, err = mesh.SweepOrphans(c.Context, conn, age, c.Int("batch"), func(d int64) {
			if bar != nil {
				bar.update(d)
			}
		})
		if bar != nil {
			bar.clear()
		}
		if err != nil {
			return fmt.Errorf("after deleting %d rows: %w", deleted, dbError(err))
		}
	}
	if e.json {
		return e.printJSON(map[string]any{"older_than_seconds": age.Seconds(), "found": n, "deleted": deleted, "dry_run": dry})
	}
	if dry {
		fmt.Fprintf(e.stdout, "dry run: %s undelivered message_queue rows are older than %s\n", thousands(n), age)
	} else {
		fmt.Fprintf(e.stdout, "deleted %s undelivered message_queue rows older than %s\n", thousands(deleted), age)
	}
	return nil
}
