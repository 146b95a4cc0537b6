package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/dbconn"
	"github.com/claudemesh/meshctl/mesh"
)

func auditCommand() *cli.Command {
	scope := []cli.Flag{
		&cli.StringFlag{Name: "mesh", Usage: "only the mesh with this `ID|SLUG` (a slug must name exactly one mesh)"},
		&cli.BoolFlag{Name: "all", Usage: "every mesh (the default)"},
	}
	originFlag := &cli.StringFlag{Name: "origin", Usage: "the installation's checkpoint `ORIGIN` (default: " + audit.OriginPrefix + "<the database's system identifier>)"}
	return &cli.Command{
		Name:  "audit",
		Usage: "verify the audit chains; sign checkpoints, prove events",
		Subcommands: []*cli.Command{
			{
				Name:  "verify",
				Usage: "check every audit chain row by row and report every break",
				UsageText: `meshctl audit verify --all
meshctl audit verify --mesh my-team
meshctl --json audit verify --all --checkpoint audit.cp --key ops.pub --max-age 25h
meshctl audit verify --checkpoint monday.cp --checkpoint today.cp --key ops.pub
meshctl audit verify --all --strict`,
				Description: `A created_at with a fraction of a millisecond (which the v1 hash cannot see)
is a "precision" warning; --strict makes it tampering.

Exit codes: 0 clean (warnings allowed), 6 tampering found (or a checkpoint was altered, is stale under --max-age,
or disagrees with another), 1 operational error, 2 usage.`,
				Flags: append(scope,
					&cli.BoolFlag{Name: "strict", Usage: "treat precision warnings (created_at finer than a millisecond) as tampering"},
					&cli.GenericFlag{Name: "checkpoint", Value: &fileList{}, Usage: "also check against the signed checkpoint in `FILE` (repeat for several: each is checked, and each against the others)"},
					&cli.StringFlag{Name: "key", Usage: "the public verifier key `FILE` for --checkpoint (from audit keygen)"},
					&cli.DurationFlag{Name: "max-age", Usage: "refuse a newest checkpoint signed longer than `DURATION` ago (a replayed old checkpoint hides a deleted tail)"},
					originFlag,
				),
				Action: auditVerify,
			},
			{
				Name:  "checkpoint",
				Usage: "verify, then sign every mesh's tree size, Merkle root and head (C2SP tlog-checkpoints bound by a signed index)",
				UsageText: `meshctl audit checkpoint --key ops.key --out audit.cp --all
meshctl audit checkpoint --key ops.key --out audit.cp --force   # replace yesterday's file`,
				Description: `Refuses to sign (exit 6) when the chains show tampering, or no longer extend an earlier
checkpoint: the file --out replaces (always) and every --checkpoint FILE. A new checkpoint
signed over deleted rows would hide them from every later verify against it. Never writes
over a key file; replacing an existing file needs --force.`,
				Flags: append(scope,
					&cli.StringFlag{Name: "key", Required: true, Usage: "the private signer key `FILE` (from audit keygen; its name must be the origin)"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "write the checkpoint to `FILE`"},
					&cli.BoolFlag{Name: "force", Usage: "replace --out if it exists (atomically; never a key file); the chains must extend it"},
					&cli.GenericFlag{Name: "checkpoint", Value: &fileList{}, Usage: "an earlier checkpoint `FILE` of this key the chains must still extend (repeat for several)"},
					originFlag,
				),
				Action: auditCheckpoint,
			},
			{
				Name:  "keygen",
				Usage: "create an ed25519 signed-note key pair for checkpoints, named after the installation's origin",
				UsageText: `meshctl audit keygen --out ops                 # origin from the database's system identifier
meshctl audit keygen --out prod-ops --origin audit.example.com/prod`,
				Description: `Writes PREFIX.key (private, mode 0600; keep it offline) and PREFIX.pub (public).
Never writes over an existing file.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "write `PREFIX`.key and PREFIX.pub"},
					&cli.StringFlag{Name: "origin", Aliases: []string{"name"}, Usage: "the installation's `ORIGIN`, which names the key (default: " + audit.OriginPrefix + "<the database's system identifier>)"},
				},
				Action: auditKeygen,
			},
			proveCommand(),
			checkProofCommand(),
		},
	}
}

// fileList is a repeatable file flag. (StringSliceFlag would also split
// a file name at commas.)
type fileList []string

func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }
func (f *fileList) String() string     { return strings.Join(*f, ", ") }

// meshScope returns the mesh id to verify ("" = all) after resolving a
// slug. An id that no mesh row has any more is still in scope when a
// checkpoint covers it (covered): a mesh deleted with its rows is then a
// truncation to report, not a typo.
func meshScope(ctx context.Context, c *cli.Context, conn *pgx.Conn, covered func(string) bool) (string, error) {
	ref := c.String("mesh")
	if c.IsSet("mesh") && c.Bool("all") {
		return "", usageError("give --mesh or --all, not both")
	}
	if !c.IsSet("mesh") {
		return "", nil
	}
	if ref == "" {
		return "", usageError("--mesh needs a mesh id or slug")
	}
	id, err := mesh.Resolve(ctx, conn, ref)
	var nf *mesh.NotFoundError
	var amb *mesh.AmbiguousError
	switch {
	case errors.As(err, &nf) && covered != nil && covered(ref):
		return ref, nil // a deleted mesh a checkpoint names: verify reports the truncation
	case errors.As(err, &nf):
		return "", usageError("%v (see mesh.mesh)", err)
	case errors.As(err, &amb):
		return "", usageError("%v", err)
	case err != nil:
		return "", dbError(err)
	}
	return id, nil
}

// dbError turns a database error into one line with a hint.
func dbError(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000"):
		return fmt.Errorf("%s: is this a claudemesh database? (run meshctl migrate up)", pe.Message)
	case errors.As(err, &pe) && pe.Code == "42501":
		// Name exactly what the audit verbs need: they only read.
		return fmt.Errorf("%s: the audit commands read mesh.mesh and mesh.audit_log; as an administrator run "+
			"GRANT USAGE ON SCHEMA mesh TO <role>; GRANT SELECT ON mesh.mesh, mesh.audit_log TO <role>", pe.Message)
	}
	return err
}

// openedCheckpoint is a checkpoint file read and verified with the key.
type openedCheckpoint struct {
	path string
	data []byte
	cp   *audit.Checkpoint
}

// openCheckpointFile reads and verifies one checkpoint file: altered → 6,
// unreadable → 2.
func openCheckpointFile(path, key string) (*openedCheckpoint, error) {
	if path == "" {
		return nil, usageError("--checkpoint needs a file name")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError("cannot read the checkpoint: %v", err)
	}
	cp, err := audit.OpenCheckpoint(data, key)
	switch {
	case errors.Is(err, audit.ErrCheckpointForged):
		return nil, withCode(ExitTamper, fmt.Errorf("%s: %v", path, err))
	case err != nil:
		return nil, usageError("%s: %v", path, err)
	}
	return &openedCheckpoint{path: path, data: data, cp: cp}, nil
}

// installationOrigin is --origin, or the origin derived from the database.
func installationOrigin(c *cli.Context, conn *pgx.Conn) (string, error) {
	if c.IsSet("origin") {
		o := c.String("origin")
		if err := audit.ValidOrigin(o); err != nil {
			return "", usageError("--origin: %v", err)
		}
		return o, nil
	}
	o, err := audit.InstallationOrigin(c.Context, conn)
	if err != nil {
		return "", fmt.Errorf("%v; give --origin", dbError(err))
	}
	return o, nil
}

// verifyPlan is what runVerify checks besides the chains.
type verifyPlan struct {
	checkpoints []*openedCheckpoint
	merkleRoots bool
	strict      bool   // precision findings are tampering
	origin      string // set by runVerify when checkpoints or merkleRoots ask for it
	// signer, when set, checks the origin before the (long) verification.
	signer func(origin string) error
}

func (p *verifyPlan) covered(mesh string) bool {
	for _, o := range p.checkpoints {
		if _, ok := o.cp.Mesh(mesh); ok {
			return true
		}
	}
	return false
}

func runVerify(c *cli.Context, plan *verifyPlan) (*audit.Report, time.Duration, error) {
	e := envFrom(c)
	ctx := c.Context
	conn, err := dbconn.Connect(ctx, e.databaseURL, appName)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close(context.Background())
	var heads []audit.Head
	if len(plan.checkpoints) > 0 || plan.merkleRoots {
		if plan.origin, err = installationOrigin(c, conn); err != nil {
			return nil, 0, err
		}
	}
	if plan.signer != nil {
		if err := plan.signer(plan.origin); err != nil {
			return nil, 0, err
		}
	}
	for _, o := range plan.checkpoints {
		if o.cp.Origin != plan.origin {
			return nil, 0, usageError("%s is a checkpoint of origin %q, this installation's is %q (another installation's file and key? give --origin to override)", o.path, o.cp.Origin, plan.origin)
		}
		heads = append(heads, o.cp.Heads()...)
	}
	mesh, err := meshScope(ctx, c, conn, plan.covered)
	if err != nil {
		return nil, 0, err
	}
	if mesh != "" {
		for _, o := range plan.checkpoints {
			if _, ok := o.cp.Mesh(mesh); !ok {
				return nil, 0, usageError("%s does not cover mesh %s", o.path, mesh)
			}
		}
	}
	opt := audit.VerifyOptions{MeshID: mesh, Heads: heads, MerkleRoots: plan.merkleRoots, Strict: plan.strict}
	var bar *rowBar
	if ok, width := e.progressTerminal(); ok {
		// Only worth a query when it is shown; a failed estimate just
		// means no percentage (Verify reports any real problem).
		total, err := audit.EstimateRows(ctx, conn, mesh)
		if err != nil {
			total = -1
		}
		bar = newRowBar(e.stderr, "verifying", total, width)
		opt.Progress = func(p audit.Progress) { bar.update(p.Rows) }
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
	Clean           bool             `json:"clean"`
	Rows            int64            `json:"rows"`
	Seconds         float64          `json:"seconds"`
	Checkpoints     []checkpointJSON `json:"checkpoints,omitempty"`
	Meshes          []meshJSON       `json:"meshes"`
	Findings        []audit.Finding  `json:"findings"`
	FindingsOmitted int64            `json:"findings_omitted"`
	Warnings        []audit.Finding  `json:"warnings"`
	WarningsOmitted int64            `json:"warnings_omitted"`
}

type checkpointJSON struct {
	File   string    `json:"file"`
	Origin string    `json:"origin"`
	Time   time.Time `json:"time"`
	Meshes []string  `json:"meshes"`
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

// staleSkew is how far in the future a checkpoint's time may lie (clocks
// differ) before --max-age refuses it too.
const staleSkew = 5 * time.Minute

func auditVerify(c *cli.Context) error {
	e := envFrom(c)
	files := []string(*c.Generic("checkpoint").(*fileList))
	keyFile := c.String("key")
	switch {
	case len(files) > 0 && !c.IsSet("key"):
		return usageError("--checkpoint needs --key FILE, the public key that signed it")
	case len(files) == 0 && c.IsSet("key"):
		return usageError("--key is only used with --checkpoint FILE")
	case len(files) == 0 && c.IsSet("max-age"):
		return usageError("--max-age is only used with --checkpoint FILE")
	case c.IsSet("max-age") && c.Duration("max-age") <= 0:
		return usageError("--max-age must be a positive duration, such as 25h")
	}
	plan := &verifyPlan{}
	if len(files) > 0 {
		key, err := readNoteKey(keyFile, false)
		if err != nil {
			return err
		}
		for _, f := range files {
			o, err := openCheckpointFile(f, key)
			if err != nil {
				return err
			}
			plan.checkpoints = append(plan.checkpoints, o)
		}
		if err := checkpointsAgree(plan.checkpoints); err != nil {
			return err
		}
		if c.IsSet("max-age") {
			newest := plan.checkpoints[len(plan.checkpoints)-1]
			age := time.Since(newest.cp.Time)
			switch {
			case age > c.Duration("max-age"):
				return withCode(ExitTamper, fmt.Errorf("%s was signed %s ago (%s), more than --max-age %s: a stale checkpoint, or an old one put back to hide deleted rows",
					newest.path, age.Truncate(time.Second), newest.cp.Time.Format(time.RFC3339), c.Duration("max-age")))
			case age < -staleSkew:
				return withCode(ExitTamper, fmt.Errorf("%s claims to be signed at %s, in the future", newest.path, newest.cp.Time.Format(time.RFC3339)))
			}
		}
	}
	plan.strict = c.Bool("strict")
	rep, took, err := runVerify(c, plan)
	if err != nil {
		return err
	}
	against := make([]string, len(plan.checkpoints))
	for i, o := range plan.checkpoints {
		against[i] = o.path
	}
	if e.json {
		out := verifyJSON{Clean: rep.Clean(), Rows: rep.Rows, Seconds: took.Seconds(),
			Findings: rep.Findings, FindingsOmitted: rep.FindingsOmitted,
			Warnings: rep.Warnings, WarningsOmitted: rep.WarningsOmitted, Meshes: []meshJSON{}}
		for _, o := range plan.checkpoints {
			cj := checkpointJSON{File: o.path, Origin: o.cp.Origin, Time: o.cp.Time, Meshes: []string{}}
			for _, m := range o.cp.Meshes {
				cj.Meshes = append(cj.Meshes, m.MeshID)
			}
			out.Checkpoints = append(out.Checkpoints, cj)
		}
		for _, m := range rep.Meshes {
			out.Meshes = append(out.Meshes, meshJSON{m, meshStatus(m)})
		}
		if err := e.printJSON(out); err != nil {
			return err
		}
	} else if err := printVerify(e, rep, took, strings.Join(against, " and ")); err != nil {
		return err
	}
	if !rep.Clean() {
		return withCode(ExitTamper, nil)
	}
	return nil
}

// checkpointsAgree sorts checkpoints by signing time and checks each
// against the next: same installation, no mesh dropped, no mesh shrunk.
// (Against the database, each is then checked on its own; two that both
// match it are consistent.)
func checkpointsAgree(cps []*openedCheckpoint) error {
	slices.SortStableFunc(cps, func(a, b *openedCheckpoint) int { return a.cp.Time.Compare(b.cp.Time) })
	for i := 1; i < len(cps); i++ {
		if err := audit.CheckCheckpointOrder(cps[i-1].cp, cps[i].cp); err != nil {
			if errors.Is(err, audit.ErrCheckpointsDisagree) && cps[i-1].cp.Origin == cps[i].cp.Origin {
				return withCode(ExitTamper, fmt.Errorf("%s and %s: %v", cps[i-1].path, cps[i].path, err))
			}
			return usageError("%s and %s: %v", cps[i-1].path, cps[i].path, err)
		}
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
	return escapeControl(strings.Join(words, " "))
}

// escapeControl shows control and other non-graphic characters escaped
// (\x1b, \n), so a stored or forged value cannot drive the terminal.
func escapeControl(s string) string {
	var b strings.Builder
	for _, r := range s {
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
	keyFile, out := c.String("key"), c.String("out")
	if keyFile == "" || out == "" {
		return usageError("--key and --out need file names")
	}
	key, err := readNoteKey(keyFile, true)
	if err != nil {
		return err
	}
	if err := checkReplace(out, c.Bool("force"), keyFile); err != nil {
		return err
	}
	earlier, err := earlierCheckpoints(out, []string(*c.Generic("checkpoint").(*fileList)), key)
	if err != nil {
		return err
	}
	plan := &verifyPlan{merkleRoots: true, checkpoints: earlier}
	plan.signer = func(origin string) error {
		if name := audit.KeyName(key); name != origin {
			return usageError("%s is the key of origin %q, this installation's origin is %q (make its key with meshctl audit keygen --origin %s, or give --origin %s)",
				keyFile, name, origin, origin, name)
		}
		return nil
	}
	rep, _, err := runVerify(c, plan)
	if err != nil {
		return err
	}
	if !rep.Clean() {
		n := int64(len(rep.Findings)) + rep.FindingsOmitted
		against := ""
		if len(earlier) > 0 {
			paths := make([]string, len(earlier))
			for i, o := range earlier {
				paths[i] = o.path
			}
			against = " checked against " + strings.Join(paths, ", ")
		}
		return withCode(ExitTamper, fmt.Errorf("the chains%s show %s: not signing a tampered chain (see meshctl audit verify)", against, count(n, "finding", "findings")))
	}
	heads := audit.HeadsOf(rep)
	if len(heads) == 0 {
		return usageError("no audit rows to checkpoint")
	}
	now := time.Now().UTC().Truncate(time.Second)
	data, err := audit.SignCheckpoint(plan.origin, now, heads, key)
	if err != nil {
		return usageError("%v", err)
	}
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	if e.json {
		type headJSON struct {
			MeshID     string `json:"mesh_id"`
			Rows       int64  `json:"rows"`
			HeadID     int64  `json:"head_id"`
			HeadHash   string `json:"head_hash"`
			MerkleRoot string `json:"merkle_root"`
		}
		hs := make([]headJSON, 0, len(heads))
		for _, h := range heads {
			hs = append(hs, headJSON{MeshID: h.MeshID, Rows: h.Rows, HeadID: h.HeadID, HeadHash: h.HeadHash, MerkleRoot: h.Root})
		}
		return e.printJSON(map[string]any{"out": out, "origin": plan.origin, "time": now, "heads": hs})
	}
	rows := make([][]string, 0, len(heads))
	for _, h := range heads {
		rows = append(rows, []string{h.MeshID, strconv.FormatInt(h.Rows, 10), strconv.FormatInt(h.HeadID, 10), short(h.HeadHash), short(h.Root)})
	}
	if err := e.table([]string{"mesh", "rows", "head id", "head", "merkle root"}, rows); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "\nsigned %s of origin %s at %s into %s\n", count(len(heads), "mesh checkpoint", "mesh checkpoints"),
		plan.origin, now.Format(time.RFC3339), out)
	return err
}

// earlierCheckpoints opens the checkpoints a new one must extend: the file
// at out, when it exists (checkpoint --force replaces it), and files,
// each checked with the public half of the signer key. The file at out
// must be a checkpoint of this key: replacing anything else would lose the
// only record the chains are checked against.
func earlierCheckpoints(out string, files []string, signerKey string) ([]*openedCheckpoint, error) {
	verifier, err := audit.VerifierKey(signerKey)
	if err != nil {
		return nil, usageError("--key: %v", err)
	}
	var opened []*openedCheckpoint
	if _, err := os.Stat(out); err == nil {
		o, err := openCheckpointFile(out, verifier)
		if err != nil {
			if exitCode(err) == ExitTamper {
				return nil, err
			}
			return nil, usageError("%s, which --out would replace, is not a checkpoint this key signed: the new one could not be checked against it (move it away, or choose another --out)", out)
		}
		opened = append(opened, o)
	}
	for _, f := range files {
		if len(opened) > 0 && sameFile(f, out) {
			continue
		}
		o, err := openCheckpointFile(f, verifier)
		if err != nil {
			return nil, err
		}
		opened = append(opened, o)
	}
	if err := checkpointsAgree(opened); err != nil {
		return nil, err
	}
	return opened, nil
}

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// readNoteKey reads a signed-note key file from audit keygen: the private
// signer key (.key) when private, else the public verifier key (.pub).
// Every refusal names the key file and never shows its content.
func readNoteKey(path string, private bool) (string, error) {
	if path == "" {
		return "", usageError("--key needs a file name")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError("cannot read the key: %v", err)
	}
	key, kind := audit.ParseKey(b)
	switch {
	case private && kind == audit.KeyVerifier:
		return "", usageError("%s is a public key; --key takes the private signer key (the .key file from audit keygen)", path)
	case private && kind != audit.KeySigner:
		return "", usageError("%s is not a signed-note private key (use the .key file from audit keygen)", path)
	case !private && kind == audit.KeySigner:
		return "", usageError("%s is a private signer key; --key takes the public key (the .pub file from audit keygen)", path)
	case !private && kind != audit.KeyVerifier:
		return "", usageError("%s is not a signed-note public key (use the .pub file from audit keygen)", path)
	}
	return key, nil
}

// holdsKey reports whether the file at path holds a signed-note key.
func holdsKey(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, _ := io.ReadFull(f, b)
	_, kind := audit.ParseKey(b[:n])
	return kind != audit.KeyInvalid
}

// checkReplace decides whether a command may write path: a new file
// always; an existing one only with force, and never a key file nor any
// of the files the command reads (inputs).
func checkReplace(path string, force bool, inputs ...string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return usageError("cannot write %s: %v", path, err)
	}
	if !st.Mode().IsRegular() {
		return usageError("cannot write %s: not a regular file", path)
	}
	for _, in := range inputs {
		if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
			return usageError("--out %s is also an input of this command: not overwriting it", path)
		}
	}
	if holdsKey(path) {
		return usageError("%s holds a key: never overwritten (choose another --out)", path)
	}
	if !force {
		return usageError("%s exists: give --force to replace it", path)
	}
	return nil
}

// writeFileAtomic writes data to path via a temporary file in the same
// directory, fsync and rename, so a failure never leaves a partial file
// and readers see the old file or the new, never a mix.
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
	if prefix == "" || strings.HasSuffix(prefix, "/") || filepath.Base(prefix) == "." || filepath.Base(prefix) == ".." {
		return usageError("--out needs a file name prefix, such as keys/ops")
	}
	priv, pub := prefix+".key", prefix+".pub"
	for _, p := range []string{priv, pub} {
		if _, err := os.Lstat(p); err == nil {
			return usageError("%s exists: not overwriting a key (choose another --out)", p)
		}
	}
	var origin string
	if c.IsSet("origin") {
		origin = c.String("origin")
		if err := audit.ValidOrigin(origin); err != nil {
			return usageError("--origin: %v", err)
		}
	} else {
		conn, err := dbconn.Connect(c.Context, e.databaseURL, appName)
		if err != nil {
			return fmt.Errorf("%v (keygen reads the origin from the database, or give --origin)", err)
		}
		origin, err = installationOrigin(c, conn)
		conn.Close(context.Background())
		if err != nil {
			return err
		}
	}
	skey, vkey, err := audit.GenerateKey(origin)
	if err != nil {
		return usageError("--origin: %v", err)
	}
	if err := writeNew(priv, skey+"\n", 0o600); err != nil {
		return err
	}
	if err := writeNew(pub, vkey+"\n", 0o644); err != nil {
		os.Remove(priv)
		return err
	}
	if e.json {
		return e.printJSON(map[string]string{"private_key_file": priv, "public_key_file": pub, "public_key": vkey, "origin": origin})
	}
	_, err = fmt.Fprintf(e.stdout, "wrote %s (private: keep it offline) and %s for origin %s\npublic key: %s\n", priv, pub, origin, vkey)
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
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	return f.Close()
}
