// Command demoseed writes a small demo mesh into the database named by
// DATABASE_URL: a user, a mesh with three members, and their audit events,
// appended through package audit exactly as the broker writes them. It is
// used by scripts/demo only.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/audit"
	"github.com/claudemesh/meshctl/internal/dbconn"
)

func main() {
	if err := seed(context.Background(), os.Getenv("DATABASE_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
}

func seed(ctx context.Context, dsn string) error {
	pool, err := dbconn.OpenPool(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO public."user" (id, name) VALUES ('u-demo-owner', 'Demo Owner');
			INSERT INTO mesh.mesh (id, name, slug, owner_user_id)
			VALUES ('mesh-demo-0000000000000000000001', 'demo', 'demo', 'u-demo-owner');
			INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role) VALUES
			  ('mbr-alice-000000000000000000001', 'mesh-demo-0000000000000000000001', 'u-demo-owner',
			   '79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664', 'alice', 'admin'),
			  ('mbr-bob-00000000000000000000001', 'mesh-demo-0000000000000000000001', NULL,
			   '0000000000000000000000000000000000000000000000000000000000000001', 'bob', 'member'),
			  ('mbr-carol-000000000000000000001', 'mesh-demo-0000000000000000000001', NULL,
			   '0000000000000000000000000000000000000000000000000000000000000002', 'carol', 'member')`); err != nil {
			return err
		}
		mesh := "mesh-demo-0000000000000000000001"
		events := []struct{ actor, typ, payload string }{
			{"mbr-alice-000000000000000000001", "peer_joined", `{"pubkey":"79b5562e","groups":[]}`},
			{"mbr-bob-00000000000000000000001", "peer_joined", `{"pubkey":"00000001","groups":["dev"]}`},
			{"mbr-carol-000000000000000000001", "peer_joined", `{"pubkey":"00000002","groups":["dev"]}`},
			{"mbr-alice-000000000000000000001", "message_sent", `{"targetSpec":"#general","priority":"next"}`},
			{"mbr-bob-00000000000000000000001", "state_set", `{"key":"status","value":"reviewing"}`},
			{"mbr-alice-000000000000000000001", "member_banned", `{"memberId":"mbr-carol-000000000000000000001"}`},
		}
		for _, ev := range events {
			actor := ev.actor
			if _, err := audit.Append(ctx, tx, audit.Event{MeshID: mesh, EventType: ev.typ, Actor: &actor, Payload: []byte(ev.payload)}); err != nil {
				return err
			}
		}
		return nil
	})
}
