// Package migrations embeds meshctl's reference schema for claudemesh: the
// tables of the `mesh` schema that the broker, the backfills, the audit
// chain and the tests use, as ordered SQL files applied by package migrate.
//
// Files are applied in byte order of their names and are never edited once
// released: a change is a new file. The first file creates schema "mesh"
// itself, exactly as upstream's first migration does, so the runner must
// be able to set up an empty database without creating the schema first.
package migrations

import "embed"

// FS holds the *.sql files at the root of this directory.
//
//go:embed *.sql
var FS embed.FS
