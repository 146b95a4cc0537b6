package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/dbconn"
)

func proveCommand() *cli.Command {
	return &cli.Command{
		Name:  "prove",
		Usage: "make an inclusion proof for one event, or a consistency proof between two checkpoints",
		UsageText: `meshctl audit prove --mesh my-team --id 42 --checkpoint audit.cp --key ops.pub --out event.proof
meshctl audit prove --from monday.cp --to today.cp --key ops.pub --out week.proof`,
		Description: `The proof embeds the signed checkpoint(s); meshctl audit check-proof checks it with the
public key alone, without the database. Exit codes: 0 written, 6 the database no longer
matches the checkpoint (or the checkpoints disagree), 1 operational error, 2 usage.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "mesh", Usage: "the event's mesh `ID|SLUG`"},
			&cli.Int64Flag{Name: "id", Usage: "the event's audit_log `ID`"},
			&cli.StringFlag{Name: "checkpoint", Usage: "prove inclusion in the checkpoint `FILE`"},
			&cli.StringFlag{Name: "from", Usage: "the older checkpoint `FILE` of a consistency proof"},
			&cli.StringFlag{Name: "to", Usage: "the newer checkpoint `FILE` of a consistency proof"},
			&cli.StringFlag{Name: "key", Required: true, Usage: "the public verifier key `FILE` that signed the checkpoints"},
			&cli.StringFlag{Name: "out", Usage: "write the proof to `FILE` (default: standard output)"},
			&cli.BoolFlag{Name: "force", Usage: "replace --out if it exists (atomically; never a key file)"},
		},
		Action: auditProve,
	}
}

func checkProofCommand() *cli.Command {
	return &cli.Command{
		Name:        "check-proof",
		Usage:       "check a proof from audit prove offline, with the public key alone",
		ArgsUsage:   "PROOF",
		UsageText:   `meshctl audit check-proof event.proof --key ops.pub`,
		Description: `Exit codes: 0 the proof holds, 6 it was altered or proves nothing, 2 unreadable (or the wrong key).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the installation's public verifier key `FILE` (required; may follow PROOF)"},
		},
		Action: auditCheckProof,
	}
}

// proofError maps the audit package's checkpoint and proof errors to exit
// codes: altered or disagreeing → 6, unreadable or not provable → 2.
func proofError(prefix string, err error) error {
	if prefix != "" {
		err = fmt.Errorf("%s: %w", prefix, err)
	}
	switch {
	case errors.Is(err, audit.ErrCheckpointForged), errors.Is(err, audit.ErrCheckpointsDisagree),
		errors.Is(err, audit.ErrProofInvalid), errors.Is(err, audit.ErrDatabaseMismatch):
		return withCode(ExitTamper, err)
	case errors.Is(err, audit.ErrCheckpoint), errors.Is(err, audit.ErrProofMalformed), errors.Is(err, audit.ErrNotProvable):
		return withCode(ExitUsage, err)
	}
	return dbError(err)
}

func auditProve(c *cli.Context) error {
	e := envFrom(c)
	inclusion := c.IsSet("mesh") || c.IsSet("id") || c.IsSet("checkpoint")
	consistency := c.IsSet("from") || c.IsSet("to")
	switch {
	case c.Args().Len() > 0:
		return usageError("unexpected argument %q", shownArg(c.Args().First()))
	case inclusion && consistency:
		return usageError("give --mesh, --id and --checkpoint (inclusion) or --from and --to (consistency), not both")
	case consistency && (c.String("from") == "" || c.String("to") == ""):
		return usageError("a consistency proof needs --from OLD.cp and --to NEW.cp")
	case !consistency && (c.String("mesh") == "" || c.Int64("id") <= 0 || c.String("checkpoint") == ""):
		return usageError("an inclusion proof needs --mesh, --id (a positive row id) and --checkpoint")
	case c.IsSet("out") && c.String("out") == "":
		return usageError("--out needs a file name")
	}
	key, err := readNoteKey(c.String("key"), false)
	if err != nil {
		return err
	}
	inputs := []string{c.String("key"), c.String("checkpoint"), c.String("from"), c.String("to")}
	out := c.String("out")
	if out != "" {
		if err := checkReplace(out, c.Bool("force"), inputs...); err != nil {
			return err
		}
	}
	var proof any
	var summary string
	if consistency {
		older, err := openCheckpointFile(c.String("from"), key)
		if err != nil {
			return err
		}
		newer, err := openCheckpointFile(c.String("to"), key)
		if err != nil {
			return err
		}
		if older.cp.Time.After(newer.cp.Time) {
			return usageError("--from %s was signed after --to %s: swap them", older.path, newer.path)
		}
		conn, err := dbconn.Connect(c.Context, e.databaseURL, appName)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		p, err := audit.ProveConsistency(c.Context, conn, older.cp, newer.cp, older.data, newer.data)
		if err != nil {
			return proofError("", err)
		}
		proof = p
		summary = fmt.Sprintf("consistency proof for %s from %s (%s) to %s (%s)", count(len(p.Meshes), "mesh", "meshes"),
			older.path, older.cp.Time.Format(time.RFC3339), newer.path, newer.cp.Time.Format(time.RFC3339))
	} else {
		o, err := openCheckpointFile(c.String("checkpoint"), key)
		if err != nil {
			return err
		}
		conn, err := dbconn.Connect(c.Context, e.databaseURL, appName)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		mesh, err := meshScope(c.Context, c, conn, func(id string) bool { _, ok := o.cp.Mesh(id); return ok })
		if err != nil {
			return err
		}
		mc, ok := o.cp.Mesh(mesh)
		if !ok {
			return usageError("%s does not cover mesh %s", o.path, mesh)
		}
		p, err := audit.ProveInclusion(c.Context, conn, mc, c.Int64("id"))
		if err != nil {
			return proofError("", err)
		}
		proof = p
		summary = fmt.Sprintf("inclusion proof for row %d: entry %d of %d in mesh %s's log, checkpoint of %s",
			c.Int64("id"), p.Index+1, p.TreeSize, mesh, o.cp.Time.Format(time.RFC3339))
	}
	data, err := audit.EncodeProof(proof)
	if err != nil {
		return err
	}
	if out == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]string{"out": out, "proof": summary})
	}
	_, err = fmt.Fprintf(e.stdout, "wrote %s to %s\n", summary, out)
	return err
}

func auditCheckProof(c *cli.Context) error {
	e := envFrom(c)
	args, keyFile := c.Args().Slice(), c.String("key")
	if len(args) != 1 || args[0] == "" {
		return usageError("check-proof takes one PROOF file and --key FILE")
	}
	path := args[0]
	key, err := readNoteKey(keyFile, false)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError("cannot read the proof: %v", err)
	}
	r, err := audit.CheckProof(data, key)
	if err != nil {
		return proofError(path, err)
	}
	if r.Type == "inclusion" {
		actor := "null"
		if r.Event.Actor != nil {
			actor = *r.Event.Actor
		}
		if e.json {
			return e.printJSON(map[string]any{"valid": true, "type": r.Type, "origin": r.Origin, "mesh_id": r.Mesh.MeshID,
				"index": r.Index, "tree_size": r.Mesh.Rows, "checkpoint_time": r.Mesh.Time, "leaf": r.Leaf, "event": r.Event})
		}
		_, err := fmt.Fprintf(e.stdout, "valid: %s by %s at %s (hash %s) is entry %d of %d in the log of mesh %s (origin %s), checkpoint signed at %s\n",
			escapeControl(r.Event.EventType), escapeControl(actor), r.Event.CreatedAt, short(r.Leaf), r.Index+1, r.Mesh.Rows,
			escapeControl(r.Mesh.MeshID), escapeControl(r.Origin), r.Mesh.Time.Format(time.RFC3339))
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"valid": true, "type": r.Type, "origin": r.Origin,
			"old_time": r.Old.Time, "new_time": r.New.Time, "meshes": r.Meshes})
	}
	_, err = fmt.Fprintf(e.stdout, "valid: the checkpoint of %s extends the checkpoint of %s for all %s it covers (origin %s)\n",
		r.New.Time.Format(time.RFC3339), r.Old.Time.Format(time.RFC3339), count(len(r.Meshes), "mesh", "meshes"), escapeControl(r.Origin))
	return err
}
