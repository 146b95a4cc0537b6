package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/vectors"
)

func vectorsCommand() *cli.Command {
	return &cli.Command{
		Name:  "vectors",
		Usage: "crypto review vectors: check every primitive and mesh format against pinned test vectors",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "run the embedded vector suites (or the given files) and report per suite",
			ArgsUsage: "[FILE...]",
			UsageText: `meshctl vectors verify
meshctl vectors verify --strict
meshctl vectors verify --long --json
meshctl vectors verify vectors/data/mesh_hello_test.json ./my_test.json`,
			Description: `Exit codes: 0 every vector gave its expected verdict, 7 at least one did not,
8 a vector file is malformed, 2 a file cannot be read.`,
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "strict", Usage: "verify standard ed25519 suites with libsodium 1.0.20's rules (as the broker does) instead of Go's crypto/ed25519; mesh formats always use them"},
				&cli.BoolFlag{Name: "long", Usage: "also run the slow vectors (RFC 7748's 1,000,000 iterations, about a minute)"},
			},
			Action: vectorsVerify,
		}, {
			Name:  "generate",
			Usage: "regenerate the mesh-format vector files deterministically from a seed",
			UsageText: `meshctl vectors generate --out /tmp/v   # mesh_*.json, byte for byte those in vectors/data
meshctl vectors generate --out /tmp/v --seed 00ff`,
			Description: `Without --seed the embedded files are reproduced byte for byte. Existing
files of the same names in DIR are replaced; nothing else in DIR is read or
changed. Every file is written and synced first, then renamed into place,
the old ones kept until all renames succeed, so an error leaves DIR as it was.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Required: true, Usage: "directory `DIR` to write mesh_*.json into (created if missing)"},
				&cli.StringFlag{Name: "seed", Usage: "seed as `HEX`, 1 to 64 bytes (default: the embedded files' seed, hex of \"" + vectors.DefaultSeed + "\")"},
			},
			Action: vectorsGenerate,
		}},
	}
}

func vectorsVerify(c *cli.Context) error {
	e := envFrom(c)
	strict, long := c.Bool("strict"), c.Bool("long")
	paths := c.Args().Slice()
	var suites []*vectors.Suite
	if len(paths) == 0 {
		s, err := vectors.Embedded()
		if err != nil {
			return withCode(ExitVectorsMalformed, fmt.Errorf("embedded vectors: %w", err))
		}
		suites = s
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return usageError("cannot read vector file %s: %v", path, errors.Unwrap(err))
		}
		s, err := vectors.Load(path, data)
		if err != nil {
			return withCode(ExitVectorsMalformed, fmt.Errorf("malformed vector file %w (fix the file or regenerate it with `meshctl vectors generate`)", err))
		}
		suites = append(suites, s)
	}
	rep, err := vectors.Run(c.Context, suites, vectors.Options{Strict: strict, Long: long})
	if err != nil {
		return err
	}
	if e.json {
		if err := e.printJSON(rep); err != nil {
			return err
		}
	} else if err := printReport(e, rep); err != nil {
		return err
	}
	if !rep.OK() {
		return withCode(ExitVectorsFailed, fmt.Errorf("%d of %d vectors gave the wrong verdict", rep.Failed, rep.Vectors))
	}
	return nil
}

func printReport(e *env, rep vectors.Report) error {
	rows := make([][]string, 0, len(rep.Suites))
	for _, s := range rep.Suites {
		rows = append(rows, []string{s.Name(), s.Algorithm, fmt.Sprint(s.Vectors), fmt.Sprint(s.Passed), fmt.Sprint(s.Failed), fmt.Sprint(s.Skipped)})
	}
	if err := e.table([]string{"suite", "algorithm", "vectors", "passed", "failed", "skipped"}, rows); err != nil {
		return err
	}
	w := e.stdout
	for _, s := range rep.Suites {
		for _, f := range s.Failures {
			gen := ""
			if f.Generated != "" {
				gen = " (" + f.Generated + ")"
			}
			fmt.Fprintf(w, "FAIL %s tcId %d%s flags [%s]: expected %s, got %s", f.File, f.TcID, gen, strings.Join(f.Flags, " "), f.Expected, f.Got)
			if f.Detail != "" {
				fmt.Fprintf(w, ": %s", f.Detail)
			}
			fmt.Fprintln(w)
		}
		for _, k := range s.Skips {
			hint := ""
			if k.Long {
				hint = " (a long vector: run with --long)"
			}
			fmt.Fprintf(w, "SKIP %s tcId %d: %s%s\n", k.File, k.TcID, k.Reason, hint)
		}
	}
	mode := "default (ed25519: Go crypto/ed25519 for standard suites; mesh formats strict)"
	if rep.Strict {
		mode = "strict (ed25519: libsodium 1.0.20 rules everywhere)"
	}
	d := rep.Duration.Round(time.Microsecond)
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	_, err := fmt.Fprintf(w, "%d vectors: %d passed, %d failed, %d skipped in %s; mode %s\n",
		rep.Vectors, rep.Passed, rep.Failed, rep.Skipped, d, mode)
	return err
}

type generatedFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

func vectorsGenerate(c *cli.Context) error {
	e := envFrom(c)
	seed := []byte(vectors.DefaultSeed)
	if c.IsSet("seed") {
		b, err := hex.DecodeString(c.String("seed"))
		if err != nil || len(b) < 1 || len(b) > 64 {
			return usageError("--seed must be 1 to 64 bytes of hex, e.g. --seed 00ff")
		}
		seed = b
	}
	dir := c.String("out")
	if dir == "" {
		return usageError("--out DIR is required (e.g. meshctl vectors generate --out /tmp/v)")
	}
	files, err := vectors.Generate(seed)
	if err != nil {
		return err
	}
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return usageError("--out %s is not a directory", dir)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return usageError("cannot create the parent of --out directory %s: %v", dir, errors.Unwrap(err))
	}
	// All written before any is renamed into place, the old ones put back
	// on a failure: an error leaves DIR as it was.
	if err := vectors.WriteDir(dir, files); err != nil {
		return fmt.Errorf("write %s: %v (the directory is unchanged)", dir, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]generatedFile, 0, len(names))
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		out = append(out, generatedFile{Name: filepath.Join(dir, n), SHA256: hex.EncodeToString(sum[:]), Bytes: len(files[n])})
	}
	if e.json {
		return e.printJSON(map[string]any{"seed": hex.EncodeToString(seed), "files": out})
	}
	rows := make([][]string, 0, len(out))
	for _, f := range out {
		rows = append(rows, []string{f.Name, fmt.Sprint(f.Bytes), f.SHA256})
	}
	return e.table([]string{"file", "bytes", "sha256"}, rows)
}
