package broker

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestWebSocketBanBeforeRegister: a ban committed after the hello's check
// but before the hub knows the connection (its NOTIFY finds nothing to
// close) still closes the connection with 4002.
func TestWebSocketBanBeforeRegister(t *testing.T) {
	e := newEnv(t, nil)
	ms := e.createMesh("m", newIdentity(1))
	bob := newIdentity(2)
	bobID, _ := e.addMember(ms, "bob", bob)
	var once sync.Once
	var ack serverMsg
	hook := func(memberID string) {
		once.Do(func() {
			ack = e.s.adminOp(context.Background(), ms.ID, ms.OwnerID, "m-owner", clientMsg{Type: "ban", Target: memberID})
			time.Sleep(300 * time.Millisecond) // the NOTIFY is handled meanwhile
		})
	}
	e.s.beforeRegister.Store(&hook)
	e.dialHello(ms.ID, bobID, "b1", bob, 0, nil).expectClose(CloseBanned)
	if ack.Type != "ban_ack" {
		t.Fatalf("ban: %+v", ack)
	}
	waitCount(t, e, 0, `SELECT count(*) FROM mesh.presence WHERE member_id = $1 AND disconnected_at IS NULL`, bobID)
	if n := len(e.s.hub.members()); n != 0 {
		t.Fatalf("%d members still in the hub", n)
	}
}

// TestWebSocketBanWhileListenDown: a ban whose NOTIFY was lost (no LISTEN
// connection at the time) closes the connection once LISTEN is back.
func TestWebSocketBanWhileListenDown(t *testing.T) {
	e := newEnv(t, nil)
	ms := e.createMesh("m", newIdentity(1))
	bob := newIdentity(2)
	bobID, _ := e.addMember(ms, "bob", bob)
	wb := e.dialHello(ms.ID, bobID, "b1", bob, 0, nil)
	wb.expectOK()
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `UPDATE mesh.member SET revoked_at = localtimestamp WHERE id = $1`, bobID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN ` + ctlChannel + `') x`); n != 1 {
		t.Fatalf("terminated %d LISTEN connections, want 1", n)
	}
	wb.expectClose(CloseBanned)
}
