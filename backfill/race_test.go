package backfill_test

import (
	"context"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// brokerSubscribe is the broker's join statement (broker/api.go,
// handleAddMember): the new member is subscribed to #general only if
// #general exists.
const brokerSubscribe = `INSERT INTO mesh.topic_member (topic_id, member_id, role)
SELECT t.id, $2, 'member' FROM mesh.topic t WHERE t.mesh_id = $1 AND t.name = 'general'
ON CONFLICT (topic_id, member_id) DO NOTHING`

// openJoin begins a join on a connection of its own and inserts its
// member row (insert), leaving the transaction open; it is rolled back
// when the test ends unless committed.
func openJoin(t *testing.T, db *pgtest.DB, insert string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := connect(t, db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) }) //nolint:errcheck
	if _, err := tx.Exec(ctx, insert); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestGeneralJoinInFlight reproduces a join that runs while the backfill
// creates #general: the join inserts its member and runs the broker's
// subscribe statement (no #general yet) and stays open; the backfill runs;
// the join commits. The member must end up subscribed.
func TestGeneralJoinInFlight(t *testing.T) {
	db := pgtest.NewDB(t)
	exec(t, db, `INSERT INTO public."user" (id) VALUES ('u1');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m1', 'One', 'one', 'u1');
		INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role) VALUES ('a1', 'm1', 'u1', repeat('a', 64), 'owner', 'admin')`)
	ctx := context.Background()
	tx := openJoin(t, db, `INSERT INTO mesh.member (id, mesh_id, peer_pubkey, display_name) VALUES ('late', 'm1', repeat('b', 64), 'late')`)
	tag, err := tx.Exec(ctx, brokerSubscribe, "m1", "late")
	if err != nil || tag.RowsAffected() != 0 {
		t.Fatalf("the join's subscribe: %v, %d rows (want 0: no #general yet)", err, tag.RowsAffected())
	}

	runDuringJoin(t, db, backfill.General{}, func() {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	got := rows(t, db, subscriptions)
	want := []string{"m1 general a1 lead", "m1 general late member"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("subscriptions %v, want %v (the member that joined mid-batch is missing)", got, want)
	}
	if st := rows(t, db, `SELECT status FROM mesh.meshctl_backfill WHERE name = 'general'`); st[0] != "done" {
		t.Errorf("state %v, want done", st)
	}
}

// TestOwnerMemberJoinInFlight: the owner joins (an uncommitted member row
// with the owner's user_id) while the owner-member backfill runs; the mesh
// must end with one owner row, not two.
func TestOwnerMemberJoinInFlight(t *testing.T) {
	db := pgtest.NewDB(t)
	exec(t, db, `INSERT INTO public."user" (id) VALUES ('u1');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m1', 'One', 'one', 'u1')`)
	ctx := context.Background()
	tx := openJoin(t, db, `INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role) VALUES ('own', 'm1', 'u1', repeat('b', 64), 'me', 'admin')`)
	res := runDuringJoin(t, db, backfill.OwnerMember{}, func() {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if got := rows(t, db, `SELECT id FROM mesh.member WHERE mesh_id = 'm1' AND user_id = 'u1'`); len(got) != 1 {
		t.Errorf("owner rows %v, want only the joined one", got)
	}
	if res.Skipped["owner_joined"] != 1 || res.Written != 0 {
		t.Errorf("result %+v, want the mesh skipped as owner_joined", res)
	}
}

// runDuringJoin runs job on its own connection and calls commit once the
// run either finished or waits for a lock; it returns the run's result.
func runDuringJoin(t *testing.T, db *pgtest.DB, job backfill.Job, commit func()) *backfill.Result {
	t.Helper()
	c := connect(t, db)
	type out struct {
		res *backfill.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := backfill.Run(context.Background(), c, job, backfill.Options{LockTimeout: 30 * time.Second})
		done <- out{res, err}
	}()
	var o *out
	for deadline := time.Now().Add(20 * time.Second); o == nil; {
		select {
		case r := <-done:
			o = &r
			continue
		case <-time.After(20 * time.Millisecond):
		}
		if w := rows(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); w[0] != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backfill neither finished nor waited for the join")
		}
	}
	commit()
	if o == nil {
		r := <-done
		o = &r
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.res
}
