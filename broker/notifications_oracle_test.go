package broker

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/backfill"
)

// The notifications backfill's oracle is the broker's own write path:
// messages posted through POST /v1/messages leave a set S of notification
// rows; delete them all, run the backfill, and the rows it writes must be
// exactly S. The data has every case the rule has edges for: display names
// with regex metacharacters and spaces, case, a token matching more than
// 32 members, more than 16 distinct tokens, a revoked member, self
// mentions, a version-2 (encrypted) body, bodies the broker would refuse
// (invalid base64, not UTF-8: written directly, as old data), and a mesh
// archived after its messages.
func TestNotificationsBackfillEqualsTheWritePath(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	seed := byte(1)
	next := func() identity { seed++; return newIdentity(seed) }

	ms := e.createMesh("oracle", next())
	other := e.createMesh("archived-later", next())
	keys := map[string]string{}
	for _, name := range []string{"alice", "Bob", "a.b", "(x)", "with space", "ünï", "self", "gone", "x*y"} {
		_, keys[name] = e.addMember(ms, name, next())
	}
	for i := range 40 {
		e.addMember(ms, "crowd", next())
		_ = i
	}
	var many []string
	for i := range 20 {
		name := fmt.Sprintf("n%d", i)
		e.addMember(ms, name, next())
		many = append(many, "@"+name)
	}
	_, otherKey := e.addMember(other, "carol", next())
	e.addMember(other, "dave", next())
	if _, err := e.pool.Exec(ctx, `UPDATE mesh.member SET revoked_at = now() AT TIME ZONE 'UTC' WHERE display_name = 'gone'`); err != nil {
		t.Fatal(err)
	}
	post := func(key string, body map[string]any) {
		t.Helper()
		e.must(201, "POST", "/v1/messages", key, body)
	}
	for _, text := range []string{
		"hi @alice and @BOB, @alice again",
		"@a.b is not a name (it mentions @a); @(x) neither; @with space only 'with'",
		"@self talks to @self and @alice",
		"everyone in the @crowd",
		strings.Join(many, " "),
		"@gone was banned; @x*y is x",
		"mail me@alice.example, -@bob, _@bob, (@bob), @bob-ok",
		"no mentions at all",
	} {
		post(keys["self"], map[string]any{"topic": "general", "ciphertext": b64(text)})
	}
	post(keys["alice"], map[string]any{"topic": "general", "ciphertext": b64("ünï? @ünï is not a token")})
	post(keys["alice"], map[string]any{"topic": "general", "bodyVersion": 2, "nonce": b64("012345678901234567890123"), "ciphertext": b64("opaque ciphertext: @bob, 32 bytes")})
	post(otherKey, map[string]any{"topic": "general", "ciphertext": b64("@dave before the archive")})
	var topic string
	if err := e.pool.QueryRow(ctx, `SELECT id FROM mesh.topic WHERE mesh_id = $1 AND name = 'general'`, ms.ID).Scan(&topic); err != nil {
		t.Fatal(err)
	}
	// Old rows the broker would refuse today.
	if _, err := e.pool.Exec(ctx, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, body_version) VALUES
		('old-b64', $1, $2, '', 'not base64 @alice', 1),
		('old-utf8', $1, $2, '', $3, 1)`, topic, ms.OwnerID, base64.StdEncoding.EncodeToString([]byte("@alice \xff\xfe"))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE mesh.mesh SET archived_at = now() AT TIME ZONE 'UTC' WHERE id = $1`, other.ID); err != nil {
		t.Fatal(err)
	}

	rows := func() []string {
		t.Helper()
		r, err := e.pool.Query(ctx, `SELECT message_id || ' ' || recipient_member_id || ' ' || sender_member_id || ' ' || mesh_id || ' ' || topic_id || ' ' || kind || ' ' || created_at::text || ' ' || (read_at IS NULL)::text
			FROM mesh.notification ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pgx.CollectRows(r, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	written := rows()
	if len(written) < 40 {
		t.Fatalf("the write path made only %d notifications: the data does not exercise the rule", len(written))
	}
	if _, err := e.pool.Exec(ctx, `DELETE FROM mesh.notification`); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Every message here is the broker's, after the notifications
	// migration: a cutoff after them all asks the backfill for what the
	// broker would have written had it not.
	res, err := backfill.Run(ctx, conn, backfill.Notifications{}, backfill.Options{BatchSize: 4, Until: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(written, rows()); diff != "" {
		t.Errorf("backfill vs the broker's write path (-broker +backfill):\n%s", diff)
	}
	for reason, n := range map[string]int64{backfill.SkipEncrypted: 1, backfill.SkipInvalidBase64: 1, backfill.SkipInvalidUTF8: 1} {
		if res.Skipped[reason] != n {
			t.Errorf("skipped %s = %d, want %d (%v)", reason, res.Skipped[reason], n, res.Skipped)
		}
	}
	t.Logf("%d notifications from %d messages; skipped %v", len(written), res.Scanned, res.Skipped)
}
