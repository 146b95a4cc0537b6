package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/dbconn"
)

func auditCommand() *cli.Command {
	scope := []cli.Flag{
		&cli.StringFlag{Name: "mesh", Usage: "only the mesh with this `ID|SLUG` (a slug must name exactly one mesh)"},
		&cli.BoolFlag{Name: "all", Usage: "every mesh (the default)"},
	}
	return &cli.Command{
		Name:  "audit",
		Usage: "verify the audit chains; sign and check checkpoints",
		Subcommands: []*cli.Command{
			{
				Name:  "verify",
				Usage: "check every audit chain row by row and report every break",
				UsageText: `meshctl audit verify --all
meshctl audit verify --mesh my-team
meshctl --json audit verify --all --checkpoint audit.cp --key ops.pub
meshctl audit verify --all --strict

A created_at with a fraction of a millisecond (which the v1 hash cannot see)
is a "precision" warning; --strict makes it tampering.

Exit codes: 0 clean (warnings allowed), 6 tampering found (or the checkpoint file was altered), 1 operational error, 2 usage.`,
				Flags: append(scope,
					&cli.BoolFlag{Name: "strict", Usage: "treat precision warnings (created_at finer than a millisecond) as tampering"},
					&cli.StringFlag{Name: "checkpoint", Usage: "also check against the signed checkpoint in `FILE`"},
					&cli.StringFlag{Name: "key", Usage: "the public verifier key `FILE` for --checkpoint (from audit keygen)"},
				),
				Action: auditVerify,
			},
			{
				Name:  "checkpoint",
				Usage: "verify, then sign each mesh's row count and head hash (C2SP signed-note checkpoints)",
				UsageText: `meshctl audit checkpoint --key ops.key --out audit.cp --all
meshctl audit checkpoint --key ops.key --out team.cp --mesh my-team

Refuses to sign (exit 6) when the chains show tampering.`,
				Flags: append(scope,
					&cli.StringFlag{Name: "key", Required: true, Usage: "the private signer key `FILE` (from audit keygen)"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "write the checkpoint to `FILE`"},
				),
				Action: auditCheckpoint,
			},
			{
				Name:  "keygen",
				Usage: "create an ed25519 signed-note key pair for checkpoints",
				UsageText: `meshctl audit keygen --out ops --name ops.example.com
  writes ops.key (private, mode 0600; keep it offline) and ops.pub (public)`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "write `PREFIX`.key and PREFIX.pub"},
					&cli.StringFlag{Name: "name", Value: "meshctl-audit", Usage: "key `NAME` recorded in signatures"},
				},
				Action: auditKeygen,
			},
		},
	}
}

// meshScope returns the mesh id to verify ("" = all) after resolving a slug.
func meshScope(ctx context.Context, c *cli.Context, conn *pgx.Conn) (string, error) {
	mesh := c.String("mesh")
	if c.IsSet("mesh") && c.Bool("all") {
		return "", usageError("give --mesh or --all, not both")
	}
	if !c.IsSet("mesh") {
		return "", nil
	}
	if mesh == "" {
		return "", usageError("--mesh needs a mesh id or slug")
	}
	rows, err := conn.Query(ctx, `SELECT id FROM mesh.mesh WHERE id = $1
UNION ALL SELECT id FROM mesh.mesh WHERE slug = $1 AND NOT EXISTS (SELECT 1 FROM mesh.mesh WHERE id = $1)
ORDER BY 1`, mesh)
	if err != nil {
		return "", dbError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", dbError(err)
	}
	switch len(ids) {
	case 0:
		return "", usageError("no mesh has id or slug %q (see mesh.mesh)", mesh)
	case 1:
		return ids[0], nil
	default:
		return "", usageError("slug %q names %d meshes (%s): give the mesh id", mesh, len(ids), strings.Join(ids, ", "))
	}
}

// dbError turns a database error into one line with a hint.
func dbError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") {
		return fmt.Errorf("%s: is this a claudemesh database? (run meshctl migrate up)", pe.Message)
	}
	return err
}

func runVerify(c *cli.Context, heads []audit.Head, strict bool) (*audit.Report, time.Duration, error) {
	e := envFrom(c)
	ctx := c.Context
	conn, err := dbconn.Connect(ctx, e.databaseURL)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close(context.Background())
	mesh, err := meshScope(ctx, c, conn)
	if err != nil {
		return nil, 0, err
	}
	opt := audit.VerifyOptions{MeshID: mesh, Heads: heads, Strict: strict}
	var bar *rowBar
	if ok, width := e.progressTerminal(); ok {
		// Only worth a query when it is shown; a failed estimate just
		// means no percentage (Verify reports any real problem).
		total, err := audit.EstimateRows(ctx, conn, mesh)
		if err != nil {
			total = -1
		}
		bar = newRowBar(e.stderr, "verifying", total, width)
		opt.Progress = bar.update
	}
	start := time.Now()
	rep, err := audit.Verify(ctx, conn, opt)
	if bar != nil {
		bar.clear() // before any table or error is printed
	}
	if err != nil {
		return nil, 0, dbError(err)
	}
	if mesh != "" && len(rep.Meshes) == 0 {
		rep.Meshes = append(rep.Meshes, audit.MeshResult{MeshID: mesh})
	}
	return rep, time.Since(start), nil
}

type verifyJSON struct {
	Clean           bool            `json:"clean"`
	Rows            int64           `json:"rows"`
	Seconds         float64         `json:"seconds"`
	Checkpoint      string          `json:"checkpoint,omitempty"`
	Meshes          []meshJSON      `json:"meshes"`
	Findings        []audit.Finding `json:"findings"`
	FindingsOmitted int64           `json:"findings_omitted"`
	Warnings        []audit.Finding `json:"warnings"`
	WarningsOmitted int64           `json:"warnings_omitted"`
}

type meshJSON struct {
	audit.MeshResult
	Status string `json:"status"`
}

func meshStatus(m audit.MeshResult) string {
	switch {
	case !m.Clean():
		return "TAMPERED"
	case m.Rows == 0:
		return "empty"
	case m.Warnings > 0:
		return "ok, warnings"
	}
	return "ok"
}

func auditVerify(c *cli.Context) error {
	e := envFrom(c)
	var heads []audit.Head
	cpFile, keyFile := c.String("checkpoint"), c.String("key")
	switch {
	case cpFile != "" && keyFile == "":
		return usageError("--checkpoint needs --key FILE, the public key that signed it")
	case cpFile == "" && keyFile != "":
		return usageError("--key is only used with --checkpoint FILE")
	case cpFile != "":
		data, err := os.ReadFile(cpFile)
		if err != nil {
			return usageError("cannot read the checkpoint: %v", err)
		}
		key, err := readNoteKey(keyFile, false)
		if err != nil {
			return err
		}
		heads, err = audit.OpenCheckpoints(data, key)
		switch {
		case errors.Is(err, audit.ErrCheckpointForged):
			return withCode(ExitTamper, fmt.Errorf("%s: %v", cpFile, err))
		case err != nil:
			return usageError("%s: %v", cpFile, err)
		}
	}
	rep, took, err := runVerify(c, heads, c.Bool("strict"))
	if err != nil {
		return err
	}
	if e.json {
		out := verifyJSON{Clean: rep.Clean(), Rows: rep.Rows, Seconds: took.Seconds(), Checkpoint: cpFile,
			Findings: rep.Findings, FindingsOmitted: rep.FindingsOmitted,
			Warnings: rep.Warnings, WarningsOmitted: rep.WarningsOmitted, Meshes: []meshJSON{}}
		for _, m := range rep.Meshes {
			out.Meshes = append(out.Meshes, meshJSON{m, meshStatus(m)})
		}
		if err := e.printJSON(out); err != nil {
			return err
		}
	} else if err := printVerify(e, rep, took, cpFile); err != nil {
		return err
	}
	if !rep.Clean() {
		return withCode(ExitTamper, nil)
	}
	return nil
}

// short shortens a hash to its first 12 hex digits for human tables.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// findingValue renders a finding's expected or found value for the human
// table: sha256 hex words are shortened, everything else (counts and
// positions, "genesis", a tampered column holding anything) is shown
// whole, with control characters escaped so a forged value cannot drive
// the operator's terminal.
func findingValue(v string) string {
	words := strings.Split(v, " ")
	for i, w := range words {
		if isSHA256Hex(w) {
			words[i] = short(w)
		}
	}
	var b strings.Builder
	for _, r := range strings.Join(words, " ") {
		if unicode.IsGraphic(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func printVerify(e *env, rep *audit.Report, took time.Duration, cpFile string) error {
	rows := make([][]string, 0, len(rep.Meshes))
	for _, m := range rep.Meshes {
		rows = append(rows, []string{m.MeshID, strconv.FormatInt(m.Rows, 10), strconv.FormatInt(m.FirstID, 10),
			strconv.FormatInt(m.LastID, 10), short(m.HeadHash), meshStatus(m)})
	}
	if err := e.table([]string{"mesh", "rows", "first id", "last id", "head", "status"}, rows); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintln(e.stdout)
		frows := make([][]string, 0, len(rep.Findings))
		for _, f := range rep.Findings {
			row := strconv.FormatInt(f.RowID, 10)
			if f.OtherRowID != 0 {
				row += " (and " + strconv.FormatInt(f.OtherRowID, 10) + ")"
			}
			frows = append(frows, []string{f.MeshID, row, string(f.Class), findingValue(f.Expected), findingValue(f.Found), strconv.FormatInt(f.RowsVerified, 10)})
		}
		if err := e.table([]string{"mesh", "row", "finding", "expected", "found", "ok rows after"}, frows); err != nil {
			return err
		}
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintln(e.stdout)
		wrows := make([][]string, 0, len(rep.Warnings))
		for _, f := range rep.Warnings {
			wrows = append(wrows, []string{f.MeshID, strconv.FormatInt(f.RowID, 10), string(f.Class), findingValue(f.Expected), findingValue(f.Found)})
		}
		if err := e.table([]string{"mesh", "row", "warning", "expected", "found"}, wrows); err != nil {
			return err
		}
	}
	warned := ""
	if w := int64(len(rep.Warnings)) + rep.WarningsOmitted; w > 0 {
		warned = fmt.Sprintf(" (%s: --strict makes them tampering)", count(w, "warning", "warnings"))
	}
	against := ""
	if cpFile != "" {
		against = " against " + cpFile
	}
	n := int64(len(rep.Findings)) + rep.FindingsOmitted
	if n == 0 {
		_, err := fmt.Fprintf(e.stdout, "\n%s in %s verified%s in %.1fs: clean%s\n",
			count(rep.Rows, "row", "rows"), count(len(rep.Meshes), "mesh", "meshes"), against, took.Seconds(), warned)
		return err
	}
	more := ""
	if rep.FindingsOmitted > 0 {
		more = fmt.Sprintf(" (%d not listed)", rep.FindingsOmitted)
	}
	_, err := fmt.Fprintf(e.stdout, "\n%s in %s verified%s in %.1fs: %s%s: TAMPERING\n",
		count(rep.Rows, "row", "rows"), count(len(rep.Meshes), "mesh", "meshes"), against, took.Seconds(), count(n, "finding", "findings"), more)
	return err
}

func auditCheckpoint(c *cli.Context) error {
	e := envFrom(c)
	key, err := readNoteKey(c.String("key"), true)
	if err != nil {
		return err
	}
	out := c.String("out")
	rep, _, err := runVerify(c, nil, false)
	if err != nil {
		return err
	}
	if !rep.Clean() {
		n := int64(len(rep.Findings)) + rep.FindingsOmitted
		return withCode(ExitTamper, fmt.Errorf("the chains show %s: not signing a tampered chain (see meshctl audit verify)", count(n, "finding", "findings")))
	}
	heads := audit.HeadsOf(rep)
	if len(heads) == 0 {
		return usageError("no audit rows to checkpoint")
	}
	data, err := audit.SignCheckpoints(heads, key)
	if err != nil {
		return usageError("%v", err)
	}
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	if e.json {
		type headJSON struct {
			MeshID   string `json:"mesh_id"`
			Rows     int64  `json:"rows"`
			HeadID   int64  `json:"head_id"`
			HeadHash string `json:"head_hash"`
		}
		hs := make([]headJSON, 0, len(heads))
		for _, h := range heads {
			hs = append(hs, headJSON(h))
		}
		return e.printJSON(map[string]any{"out": out, "heads": hs})
	}
	rows := make([][]string, 0, len(heads))
	for _, h := range heads {
		rows = append(rows, []string{h.MeshID, strconv.FormatInt(h.Rows, 10), strconv.FormatInt(h.HeadID, 10), short(h.HeadHash)})
	}
	if err := e.table([]string{"mesh", "rows", "head id", "head"}, rows); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "\nsigned %s into %s\n", count(len(heads), "mesh checkpoint", "mesh checkpoints"), out)
	return err
}

// readNoteKey reads a signed-note key file from audit keygen: the private
// signer key (.key) when private, else the public verifier key (.pub). A
// key of the other kind is refused with a usage error that never shows the
// key.
func readNoteKey(path string, private bool) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError("cannot read the key: %v", err)
	}
	key := strings.TrimSpace(string(b))
	isPrivate := strings.HasPrefix(key, "PRIVATE+KEY+")
	switch {
	case private && !isPrivate:
		return "", usageError("%s is not a private signer key (use the .key file from audit keygen)", path)
	case !private && isPrivate:
		return "", usageError("%s is a private signer key; --key takes the public key (the .pub file from audit keygen)", path)
	}
	return key, nil
}

// writeFileAtomic writes data to path via a temporary file and rename, so
// a failure never leaves a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	// Synced before the rename, and the directory after it: a checkpoint or
	// key that an operator was told is written survives a crash.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

func auditKeygen(c *cli.Context) error {
	e := envFrom(c)
	prefix := c.String("out")
	skey, vkey, err := audit.GenerateKey(c.String("name"))
	if err != nil {
		return usageError("--name: %v", err)
	}
	priv, pub := prefix+".key", prefix+".pub"
	for _, p := range []string{priv, pub} {
		if _, err := os.Stat(p); err == nil {
			return usageError("%s exists: not overwriting a key (choose another --out)", p)
		}
	}
	if err := writeNew(priv, skey+"\n", 0o600); err != nil {
		return err
	}
	if err := writeNew(pub, vkey+"\n", 0o644); err != nil {
		os.Remove(priv)
		return err
	}
	if e.json {
		return e.printJSON(map[string]string{"private_key_file": priv, "public_key_file": pub, "public_key": vkey})
	}
	_, err = fmt.Fprintf(e.stdout, "wrote %s (private: keep it offline) and %s\npublic key: %s\n", priv, pub, vkey)
	return err
}

func writeNew(path, data string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return usageError("cannot create %s: %v", path, err)
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	return f.Close()
}
