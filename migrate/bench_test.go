package migrate

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// bigMigration returns about size bytes of SQL shaped like a large data
// migration: tables, indexes, ALTERs of existing tables, a function, and
// multi-row INSERTs with strings, comments and operators.
func bigMigration(size int) string {
	var b strings.Builder
	b.Grow(size + 4096)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "-- block %d\nCREATE TABLE IF NOT EXISTS mesh.t_%d (id bigint PRIMARY KEY, name text NOT NULL, doc jsonb, CHECK (id >= 0));\n", i, i)
		fmt.Fprintf(&b, "CREATE INDEX t_%d_name ON t_%d (lower(name));\n", i, i)
		fmt.Fprintf(&b, "ALTER TABLE mesh.existing_%d ADD COLUMN c_%d int DEFAULT 0;\n", i%7, i)
		fmt.Fprintf(&b, "CREATE OR REPLACE FUNCTION mesh.f_%d(x int) RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN RETURN x * 2; END $fn$;\n", i)
		b.WriteString("INSERT INTO mesh.t_")
		fmt.Fprint(&b, i)
		b.WriteString(" (id, name, doc) VALUES\n")
		for j := 0; j < 20; j++ {
			if j > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, "  (%d, 'name ''%d'' é', '{\"k\": %d}'::jsonb)", i*100+j, j, j)
		}
		b.WriteString(";\nUPDATE mesh.t_")
		fmt.Fprint(&b, i)
		b.WriteString(" SET doc = doc || '{\"x\":1}' WHERE doc->>'k' <> '' AND id % 2 = 0; /* done */\n")
	}
	return b.String()
}

// loadLintPlan is what happens before anything is sent: read the folder,
// lint it, classify and plan the pending file (as on a fresh database).
func loadLintPlan(b *testing.B, fsys fstest.MapFS) {
	src, err := LoadSource(fsys)
	if err != nil {
		b.Fatal(err)
	}
	Lint(src)
	st := &Status{Counts: map[State]int{}}
	if err := classify(st, src, map[string]trackRow{}, nil); err != nil {
		b.Fatal(err)
	}
	r := &Runner{src: src}
	p := r.plan(st)
	if len(p.todo) != 1 || p.blocker() != nil {
		b.Fatalf("plan: %d files, %v", len(p.todo), p.blocker())
	}
	for _, f := range p.todo {
		_ = r.step(f, StatePending, p).SQL()
	}
}

// BenchmarkLoadLintPlan measures load + lint + plan of one large file; the
// time per byte must stay flat from 4 to 50 MB (linear).
func BenchmarkLoadLintPlan(b *testing.B) {
	for _, mb := range []int{4, 8, 16, 50} {
		body := bigMigration(mb << 20)
		b.Run(fmt.Sprintf("%dMB", mb), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				loadLintPlan(b, fstest.MapFS{"0001_big.sql": &fstest.MapFile{Data: []byte(body)}})
			}
		})
	}
}
