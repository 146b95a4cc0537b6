package audit

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// keyPaths lists every member of a JSON document as a path of quoted keys
// and array indexes, with JSON.parse semantics (a repeated key keeps its
// last value).
func keyPaths(t testing.TB, doc string) []string {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%q: %v", doc, err)
	}
	var paths []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := prefix + "/" + strconv.QuoteToASCII(k)
				paths = append(paths, p)
				walk(p, x)
			}
		case []any:
			for i, x := range v {
				walk(prefix+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("", v)
	slices.Sort(paths)
	return paths
}

// TestAppendStoresEveryKey: every key of every payload written through
// Append is in the row read back, astral keys included, and the chain
// verifies.
func TestAppendStoresEveryKey(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m")
	ctx := context.Background()
	payloads := []string{
		`{"😂":1,"😃":2,"note":3}`, `{"𝒵":{"𝒜":1,"𝒵":2},"𝒜":[{"😀":1,"😃":2}]}`,
		`{"\ud83d\ude03":1,"\ud83d\ude02":2,"\ue000":3,"\uffff":4,"a":5,"\ud800\udc00":6}`,
	}
	g := newDocGen(7)
	for len(payloads) < 300 {
		if d := g.doc(); !g.refuse && strings.HasPrefix(d, "{") {
			payloads = append(payloads, d)
		}
	}
	entries := make([]Entry, 0, len(payloads))
	for _, p := range payloads {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			e, err := Append(ctx, tx, Event{MeshID: "m", EventType: "state_set", Payload: []byte(p)})
			entries = append(entries, e)
			return err
		})
		if err != nil {
			t.Fatalf("Append(%q): %v", p, err)
		}
	}
	rows, err := db.Pool.Query(ctx, `SELECT payload::text FROM mesh.audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(payloads) {
		t.Fatalf("%d rows for %d appends", len(stored), len(payloads))
	}
	keys := 0
	for i, p := range payloads {
		written, read := keyPaths(t, p), keyPaths(t, stored[i])
		keys += len(written)
		if diff := cmp.Diff(written, read); diff != "" {
			t.Errorf("payload %q stored as %q: keys differ (-written +read):\n%s", p, stored[i], diff)
		}
		// Entry.Payload is what was hashed: the canonical form of the row.
		if c, err := Canonical([]byte(stored[i])); err != nil || string(c) != string(entries[i].Payload) {
			t.Errorf("row %d: hashed %q, stored canonical %q (%v)", entries[i].ID, entries[i].Payload, c, err)
		}
	}
	if keys < 1000 {
		t.Fatalf("only %d keys compared", keys)
	}
	if rep := verifyDB(t, db, VerifyOptions{}); !rep.Clean() || rep.Rows != int64(len(payloads)) {
		t.Fatalf("clean=%v rows=%d findings=%+v", rep.Clean(), rep.Rows, rep.Findings)
	}
}

// TestAppendRefusesUnstorable: what jsonb cannot hold faithfully is refused
// with ErrUnstorable and nothing is written; \u0000 and lone surrogates are
// refused before any statement, so the transaction stays usable.
func TestAppendRefusesUnstorable(t *testing.T) {
	db := pgtest.NewDB(t)
	addMesh(t, db, "m")
	ctx := context.Background()
	for _, tt := range []struct {
		payload string
		txOK    bool // refused in Go: the caller's transaction is still usable
	}{
		{`{"a":"\u0000"}`, true},
		{`{"a\u0000b":1}`, true},
		{`{"a":"\ud800"}`, true},
		{`{"\udc00":1}`, true},
		{`{"😂":1,"😃":"\ude03\ud83d"}`, true},
		{`{"n":1e1000000}`, false},
	} {
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Append(ctx, tx, Event{MeshID: "m", EventType: "state_set", Payload: []byte(tt.payload)})
		short := tt.payload[:min(len(tt.payload), 40)]
		if !errors.Is(err, ErrUnstorable) || !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Append(%s): error %v, want ErrUnstorable", short, err)
		}
		if tt.txOK {
			if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
				t.Errorf("Append(%s) left the transaction unusable: %v", short, err)
			}
		}
		if err := tx.Commit(ctx); tt.txOK && err != nil {
			t.Errorf("commit after Append(%s): %v", short, err)
		}
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM mesh.audit_log`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows written (%v), want none", n, err)
	}
}
