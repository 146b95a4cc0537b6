package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/claudemesh/meshctl/dashboards"
)

func dashboardsCommand() *cli.Command {
	return &cli.Command{
		Name:  "dashboards",
		Usage: "check Grafana dashboards that query Prometheus",
		Subcommands: []*cli.Command{{
			Name:      "lint",
			Usage:     "structure, datasource, units, PromQL syntax, counters under rate, and (with --metrics) metric and label names",
			ArgsUsage: "FILE…",
			UsageText: `meshctl dashboards lint dashboards/broker.json
meshctl dashboards lint --metrics http://127.0.0.1:8080/metrics dashboards/*.json
meshctl --json dashboards lint --metrics saved-metrics.txt dashboards/broker.json`,
			Description: `One line per finding: file, panel title, severity, rule, message and fix. Rules: json, uid,
panel-id, grid-pos, datasource, unit, description, promql, counter-rate, metric-exists, label-exists
(docs/dashboards.md). Exit codes: 0 no error finding (warnings allowed); 20 an error finding;
1 --metrics could not be read; 2 bad arguments or an unreadable FILE.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "metrics", Usage: "check metric and label names against a live /metrics `URL` or a saved exposition FILE"},
				&cli.DurationFlag{Name: "metrics-timeout", Value: 10 * time.Second, Usage: "time `DUR` allowed to fetch --metrics from a URL"},
			},
			Action: dashboardsLint,
		}},
	}
}

// lintReport is the --json form of dashboards lint.
type lintReport struct {
	Files    []string             `json:"files"`
	Metrics  string               `json:"metrics,omitempty"`
	Errors   int                  `json:"errors"`
	Warnings int                  `json:"warnings"`
	Findings []dashboards.Finding `json:"findings"`
}

func dashboardsLint(c *cli.Context) error {
	e := envFrom(c)
	if c.NArg() == 0 {
		return usageError("dashboards lint needs at least one FILE (see meshctl dashboards lint --help)")
	}
	var files []dashboards.File
	for _, name := range c.Args().Slice() {
		data, err := os.ReadFile(name)
		if err != nil {
			return usageError("%v", err)
		}
		files = append(files, dashboards.File{Name: name, Data: data})
	}
	var opts dashboards.Options
	if src := c.String("metrics"); src != "" {
		client := &http.Client{Timeout: c.Duration("metrics-timeout")}
		cat, err := dashboards.LoadCatalog(c.Context, client, src)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		opts.Metrics = cat
	}
	fs := dashboards.Lint(files, opts)
	rep := lintReport{Files: c.Args().Slice(), Metrics: c.String("metrics"), Findings: fs}
	if rep.Findings == nil {
		rep.Findings = []dashboards.Finding{}
	}
	for _, f := range fs {
		if f.Severity == dashboards.SeverityError {
			rep.Errors++
		} else {
			rep.Warnings++
		}
	}
	if e.json {
		if err := e.printJSON(rep); err != nil {
			return err
		}
	} else {
		for _, f := range fs {
			fmt.Fprintln(e.stdout, f.String())
		}
		fmt.Fprintf(e.stdout, "%s: %s, %s\n", count(len(files), "file", "files"), count(rep.Errors, "error", "errors"), count(rep.Warnings, "warning", "warnings"))
	}
	if rep.Errors > 0 {
		return withCode(ExitLintFindings, nil)
	}
	return nil
}
