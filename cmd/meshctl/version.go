package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// Set by -ldflags "-X main.version=... -X main.commit=..." at release time.
var (
	version = "dev"
	commit  = ""
)

type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
}

func currentVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if v.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v.Commit = s.Value
				}
			}
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print meshctl's version, commit and Go version",
		UsageText: "meshctl version\nmeshctl --json version",
		Action: func(c *cli.Context) error {
			e := envFrom(c)
			v := currentVersion()
			if e.json {
				return e.printJSON(v)
			}
			_, err := fmt.Fprintf(e.stdout, "meshctl %s (commit %s, %s)\n", v.Version, v.Commit, v.GoVersion)
			return err
		},
	}
}
