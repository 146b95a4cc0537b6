package notify_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/claudemesh/meshctl/internal/pgtest"
	"github.com/claudemesh/meshctl/meshfmt"
	"github.com/claudemesh/meshctl/notify"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The fan-out statement selects exactly the recipients meshfmt's rule
// (MentionRecipients, checked against JavaScript in the vectors) selects:
// on random rosters with names differing only in case, non-ASCII names,
// revoked members, the sender among the mentioned, and more than 32
// matches for one token.
func TestInsertAgreesWithMentionRecipients(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	exec(`INSERT INTO public."user" (id) VALUES ('o')`)
	exec(`INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m', 'm', 'm', 'o')`)
	exec(`INSERT INTO mesh.topic (id, mesh_id, name) VALUES ('t', 'm', 'general')`)
	names := []string{"alice", "Alice", "ALICE", "bob", "Bob-2", "team", "Team", "élodie", "Élodie", "ivan", "İvan", "kelvin", "\u212Aelvin", "ΣΟΦΙΑ", "crew_1", "a.b"}
	r := rand.New(rand.NewPCG(3, 4))
	var roster []meshfmt.MentionCandidate
	for i := range 120 {
		id := fmt.Sprintf("p%03d", i)
		name := names[r.IntN(len(names))]
		revoked := r.IntN(8) == 0
		if i < 40 {
			name = "team" // 40 matches for one token: the cap of 32 applies
		}
		exec(`INSERT INTO mesh.member (id, mesh_id, peer_pubkey, display_name, revoked_at) VALUES ($1, 'm', repeat('a', 64), $2, CASE WHEN $3 THEN now() END)`,
			id, name, revoked)
		if !revoked {
			roster = append(roster, meshfmt.MentionCandidate{ID: id, DisplayName: name})
		}
	}
	bodies := []string{"@alice", "@team and @bob-2", "@Élodie @elodie", "@ivan @kelvin", "@crew_1 @a.b @ALICE @nobody", "σοφια @σοφια"}
	var msgs []notify.Message
	want := map[string][]string{}
	for i := range 60 {
		id := fmt.Sprintf("msg%02d", i)
		sender := roster[r.IntN(len(roster))].ID
		tokens := meshfmt.MentionTokens(bodies[i%len(bodies)])
		if i%3 == 0 { // an explicit list, as the broker accepts
			tokens = meshfmt.ExplicitMentionTokens([]string{names[r.IntN(len(names))], "@" + names[r.IntN(len(names))]})
		}
		exec(`INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext) VALUES ($1, 't', $2, '', '')`, id, sender)
		msgs = append(msgs, notify.Message{ID: id, MeshID: "m", TopicID: "t", SenderID: sender, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Tokens: tokens})
		for _, c := range meshfmt.MentionRecipients(tokens, sender, roster) {
			want[id] = append(want[id], c.ID)
		}
	}
	n, err := notify.Insert(ctx, db.Pool, msgs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	rows, err := db.Pool.Query(ctx, `SELECT message_id, recipient_member_id FROM mesh.notification ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m, rcp string
		if err := rows.Scan(&m, &rcp); err != nil {
			t.Fatal(err)
		}
		got[m] = append(got[m], rcp)
	}
	total := 0
	for k := range want {
		slices.Sort(want[k])
		total += len(want[k])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recipients (-meshfmt +SQL):\n%s", diff)
	}
	if n != int64(total) || total < 100 {
		t.Errorf("inserted %d, the rule selects %d (too few to mean much if < 100)", n, total)
	}
	// Idempotent.
	if n, err := notify.Insert(ctx, db.Pool, msgs); err != nil || n != 0 {
		t.Errorf("second insert: %d rows, %v", n, err)
	}
}
