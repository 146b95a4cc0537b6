package audit_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
)

// Canonical is JavaScript's JSON.stringify of the parsed payload with every
// object's keys in UTF-16 order: what the v1 hash covers.
func ExampleCanonical() {
	c, err := audit.Canonical([]byte(`{"restored": true, "pubkey": "abc", "groups": [], "n": 1e21, "😃": 1, "😂": 2}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(c))
	// Output: {"groups":[],"n":1e+21,"pubkey":"abc","restored":true,"😂":2,"😃":1}
}

// HashV1 reproduces the hash upstream stores for a row (SPEC §3's pin).
func ExampleHashV1() {
	actor := "actor"
	h, err := audit.HashV1("genesis", "mesh1", "peer_joined", &actor,
		[]byte(`{"restored":true,"pubkey":"abc","groups":[]}`), time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h)
	// Output: 73bad757dad9b1fee95c3eb00f4a72e7a6d188d8c765d9bcdef4625f267a0a6c
}

// Verify checks every chain on a connection the caller opened, reporting
// every break; Append writes the next row of a mesh's chain inside the
// caller's transaction, under the mesh's advisory lock.
func ExampleVerify() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, "postgres://ops@db.internal/claudemesh")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)

	tx, err := conn.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := audit.Append(ctx, tx, audit.Event{MeshID: "mesh1", EventType: "state_set", Payload: []byte(`{"key":"build","value":"green"}`)}); err != nil {
		_ = tx.Rollback(ctx)
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}

	rep, err := audit.Verify(ctx, conn, audit.VerifyOptions{Progress: func(p audit.Progress) { log.Printf("%d rows", p.Rows) }})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range rep.Findings {
		fmt.Printf("mesh %s row %d: %s\n", f.MeshID, f.RowID, f.Class)
	}
	fmt.Println("clean:", rep.Clean())
}
