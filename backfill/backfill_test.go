package backfill_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, db *pgtest.DB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(t *testing.T, db *pgtest.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
}

func rows(t *testing.T, db *pgtest.DB, sql string) []string {
	t.Helper()
	r, err := db.Pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for r.Next() {
		vals, err := r.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	sort.Strings(out)
	return out
}

// seedMeshes writes: m1 live without #general (owner member u1 + one
// member + one revoked member), m2 live with #general and the owner
// already subscribed, m3 archived without #general, m4 live with no
// owner row (only a revoked one), m5 live and complete.
func seedMeshes(t *testing.T, db *pgtest.DB) {
	exec(t, db, `
		INSERT INTO public."user" (id) VALUES ('u1'), ('u2'), ('u3'), ('u4'), ('u5'), ('x');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id, archived_at) VALUES
			('m1', 'One', 'one', 'u1', NULL), ('m2', 'Two', 'two', 'u2', NULL),
			('m3', 'Three', 'three', 'u3', now()), ('m4', 'Four', 'four', 'u4', NULL), ('m5', 'Five', 'five', 'u5', NULL);
		INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role, revoked_at) VALUES
			('a1', 'm1', 'u1', repeat('a', 64), 'owner1', 'admin', NULL),
			('a2', 'm1', 'x',  repeat('b', 64), 'bob', 'member', NULL),
			('a3', 'm1', 'x',  repeat('c', 64), 'gone', 'member', now()),
			('b1', 'm2', 'u2', repeat('d', 64), 'owner2', 'admin', NULL),
			('b2', 'm2', 'x',  repeat('e', 64), 'carol', 'member', NULL),
			('c1', 'm3', 'x',  repeat('f', 64), 'dave', 'member', NULL),
			('d1', 'm4', 'u4', repeat('1', 64), 'old-owner', 'admin', now()),
			('d2', 'm4', 'x',  repeat('2', 64), 'erin', 'member', NULL),
			('e1', 'm5', 'u5', repeat('3', 64), 'owner5', 'admin', NULL);
		INSERT INTO mesh.topic (id, mesh_id, name) VALUES ('t2', 'm2', 'general'), ('t5', 'm5', 'general');
		INSERT INTO mesh.topic_member (topic_id, member_id, role) VALUES ('t2', 'b1', 'lead'), ('t5', 'e1', 'lead');`)
}

func run(t *testing.T, c *pgx.Conn, job backfill.Job, opt backfill.Options) *backfill.Result {
	t.Helper()
	res, err := backfill.Run(context.Background(), c, job, opt)
	if err != nil {
		t.Fatalf("%s: %v", job.Name(), err)
	}
	return res
}

const subscriptions = `SELECT t.mesh_id, t.name, tm.member_id, tm.role FROM mesh.topic_member tm JOIN mesh.topic t ON t.id = tm.topic_id`

func TestGeneral(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMeshes(t, db)
	// m6: archived, but it has #general; its members are subscribed
	// all the same (SPEC §5), f2 (the owner's user) as lead.
	exec(t, db, `INSERT INTO public."user" (id) VALUES ('u6');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id, archived_at) VALUES ('m6', 'Six', 'six', 'u6', now());
		INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name, role, revoked_at) VALUES
			('f1', 'm6', 'x', repeat('4', 64), 'frank', 'member', NULL),
			('f2', 'm6', 'u6', repeat('5', 64), 'owner6', 'admin', NULL),
			('f3', 'm6', 'x', repeat('6', 64), 'banned', 'member', now());
		INSERT INTO mesh.topic (id, mesh_id, name) VALUES ('t6', 'm6', 'general')`)
	c := connect(t, db)

	dry := run(t, c, backfill.General{}, backfill.Options{DryRun: true})
	// #general of m1 and m4; a1, a2, b2, d2, f1, f2 subscribed.
	if dry.Written != 8 || len(dry.Sample) == 0 {
		t.Errorf("dry run: would write %d, want 8; sample %v", dry.Written, dry.Sample)
	}
	if pgtest.RelExists(t, db.Pool, "mesh.meshctl_backfill") {
		t.Error("a dry run created the state table")
	}
	before := rows(t, db, subscriptions)

	res := run(t, c, backfill.General{}, backfill.Options{BatchSize: 2})
	got := rows(t, db, subscriptions)
	want := []string{
		"m1 general a1 lead", "m1 general a2 member",
		"m2 general b1 lead", "m2 general b2 member",
		"m4 general d2 member",
		"m5 general e1 lead",
		"m6 general f1 member", "m6 general f2 lead",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subscriptions (-want +got):\n%s\nbefore: %v", diff, before)
	}
	if res.Skipped["archived"] != 2 || !res.Done || res.Scanned != 6 || res.Written != dry.Written || res.Batches != 4 {
		t.Errorf("result %+v, want 6 scanned in 4 batches, 2 archived, %d written", res, dry.Written)
	}
	if n := rows(t, db, `SELECT count(*) FROM mesh.topic WHERE mesh_id = 'm3'`); n[0] != "0" {
		t.Error("archived mesh got a topic")
	}
	// A rerun, even from the start, writes nothing.
	again := run(t, c, backfill.General{}, backfill.Options{Restart: true})
	if again.Written != 0 {
		t.Errorf("rerun wrote %d rows", again.Written)
	}
}

func TestOwnerMember(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMeshes(t, db)
	c := connect(t, db)
	run(t, c, backfill.General{}, backfill.Options{})

	dry := run(t, c, backfill.OwnerMember{}, backfill.Options{DryRun: true})
	if dry.Written != 1 || len(dry.Sample) != 1 || !strings.Contains(dry.Sample[0], "m4") {
		t.Errorf("dry run %+v", dry)
	}
	members := `SELECT mesh_id, user_id, dashboard_user_id, display_name, role, revoked_at IS NULL FROM mesh.member`
	before := rows(t, db, members)
	res := run(t, c, backfill.OwnerMember{}, backfill.Options{})
	if res.Written != 2 || !res.Done {
		t.Errorf("result %+v, want the member and its subscription written", res)
	}
	after := rows(t, db, members)
	want := append(append([]string{}, before...), "m4 u4 u4 Four-owner admin true")
	sort.Strings(want)
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	// The new key is 64 hex, and the secret is nowhere in the database.
	key := rows(t, db, `SELECT peer_pubkey ~ '^[0-9a-f]{64}$' FROM mesh.member WHERE mesh_id = 'm4' AND display_name = 'Four-owner'`)
	if len(key) != 1 || key[0] != "true" {
		t.Errorf("owner key: %v", key)
	}
	if sub := rows(t, db, subscriptions+` WHERE t.mesh_id = 'm4' AND tm.role = 'lead'`); len(sub) != 1 {
		t.Errorf("new owner not subscribed as lead: %v", sub)
	}
	if again := run(t, c, backfill.OwnerMember{}, backfill.Options{Restart: true}); again.Written != 0 {
		t.Errorf("rerun wrote %d", again.Written)
	}
}

// Two runs at once of each backfill: no duplicate rows, both finish.
func TestConcurrentRuns(t *testing.T) {
	db := pgtest.NewDB(t)
	exec(t, db, `INSERT INTO public."user" (id) SELECT 'u' || i FROM generate_series(1, 300) i;
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) SELECT 'm' || lpad(i::text, 4, '0'), 'n' || i, 's' || i, 'u' || i FROM generate_series(1, 300) i;
		INSERT INTO mesh.member (id, mesh_id, user_id, peer_pubkey, display_name) SELECT 'x' || i, 'm' || lpad(i::text, 4, '0'), 'other', repeat('a', 64), 'x' FROM generate_series(1, 300) i;`)
	// Messages mentioning "x" (and "n<i>-owner", the owner member the
	// owner-member run adds), in meshes that have a topic once general ran.
	for _, job := range []backfill.Job{backfill.General{}, backfill.OwnerMember{}, backfill.Notifications{}} {
		if job.Name() == "notifications" {
			// From 2025: before the notifications migration was applied.
			exec(t, db, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, created_at)
				SELECT 'msg' || lpad(i::text, 5, '0'), t.id, 'x' || (1 + i % 300), '', encode(convert_to('hey @x and @n' || (1 + i % 300) || '-owner', 'UTF8'), 'base64'),
				       '2025-01-01'::timestamp + i * interval '1 second'
				FROM generate_series(1, 3000) i JOIN mesh.topic t ON t.mesh_id = 'm' || lpad((1 + i % 300)::text, 4, '0')`)
		}
		var wg sync.WaitGroup
		var written [2]int64
		errs := make(chan error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := pgx.Connect(context.Background(), db.URL)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close(context.Background())
				res, err := backfill.Run(context.Background(), c, job, backfill.Options{BatchSize: 7})
				if err != nil {
					errs <- err
					return
				}
				written[i] = res.Written
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%s: %v", job.Name(), err)
		}
		t.Logf("%s: the two runs wrote %d and %d rows", job.Name(), written[0], written[1])
	}
	for q, want := range map[string]string{
		`SELECT count(*) FROM mesh.topic`:                                                                 "300",
		`SELECT count(*) FROM mesh.member WHERE role = 'admin'`:                                           "300",
		`SELECT count(*) FROM (SELECT mesh_id FROM mesh.member GROUP BY 1 HAVING count(*) <> 2) x`:        "0",
		`SELECT count(*) FROM mesh.topic_member`:                                                          "600",
		`SELECT count(*) FROM mesh.topic_member WHERE role = 'lead'`:                                      "300",
		`SELECT count(*) FROM (SELECT member_id FROM mesh.topic_member GROUP BY 1 HAVING count(*) > 1) x`: "0",
		// Each message mentions its sender (never notified) and the mesh's
		// owner member: exactly one notification each, however the two
		// runs interleaved.
		`SELECT count(*) FROM mesh.notification`:                                                            "3000",
		`SELECT count(*) FROM (SELECT message_id FROM mesh.notification GROUP BY 1 HAVING count(*) <> 1) x`: "0",
	} {
		if got := rows(t, db, q); got[0] != want {
			t.Errorf("%s = %s, want %s", q, got[0], want)
		}
	}
}

// seedMessages writes one mesh with members whose names need care and
// messages of every kind the notifications backfill must read or skip.
func seedMessages(t *testing.T, db *pgtest.DB) {
	exec(t, db, `INSERT INTO public."user" (id) VALUES ('o');
		INSERT INTO mesh.mesh (id, name, slug, owner_user_id) VALUES ('m', 'M', 'm', 'o');
		INSERT INTO mesh.member (id, mesh_id, peer_pubkey, display_name, revoked_at) VALUES
			('s', 'm', repeat('a', 64), 'Sender', NULL),
			('al', 'm', repeat('a', 64), 'Alice', NULL),
			('bo', 'm', repeat('a', 64), 'bob', NULL),
			('dot', 'm', repeat('a', 64), 'a.b', NULL),
			('rv', 'm', repeat('a', 64), 'revoked', now()),
			('sp', 'm', repeat('a', 64), 'with space', NULL);
		INSERT INTO mesh.member (id, mesh_id, peer_pubkey, display_name)
			SELECT 'crowd' || lpad(i::text, 2, '0'), 'm', repeat('a', 64), 'crowd' FROM generate_series(1, 40) i;
		INSERT INTO mesh.member (id, mesh_id, peer_pubkey, display_name)
			SELECT 'n' || lpad(i::text, 2, '0'), 'm', repeat('a', 64), 'n' || i FROM generate_series(1, 20) i;
		INSERT INTO mesh.topic (id, mesh_id, name) VALUES ('t', 'm', 'general');`)
	v1 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tokens := ""
	for i := 1; i <= 20; i++ {
		tokens += fmt.Sprintf(" @n%d", i)
	}
	msgs := []struct {
		id, sender, body string
		version          int
	}{
		{"01", "s", v1("hi @alice and @BOB, @alice again"), 1},
		{"02", "s", v1("@a.b is not a name; @Sender is me; @revoked is gone"), 1},
		{"03", "s", v1("@with space"), 1},
		{"04", "s", v1("all of @crowd"), 1},
		{"05", "s", v1(tokens), 1},
		{"06", "s", "secretbox+ciphertext==", 2},
		{"07", "s", "not base64!", 1},
		{"08", "s", base64.StdEncoding.EncodeToString([]byte{'@', 'b', 'o', 'b', ' ', 0xff, 0xfe}), 1},
		{"09", "s", v1(strings.Repeat("@bob ", 14000)), 1},
		{"10", "al", v1("mail me@bob.com, x@alice, -@bob, _@bob, (@bob), @bob-ok, @" + strings.Repeat("z", 65)), 1},
		{"11", "bo", v1("@bob @alice"), 1},
	}
	for _, m := range msgs {
		exec(t, db, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, body_version, created_at)
			VALUES ($1, 't', $2, '', $3, $4, '2026-01-02 03:04:05.678'::timestamp + $5 * interval '1 second')`, m.id, m.sender, m.body, m.version, atoi(m.id))
	}
}

func TestNotifications(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMessages(t, db)
	c := connect(t, db)
	dry := run(t, c, backfill.Notifications{}, backfill.Options{DryRun: true, BatchSize: 3})
	res := run(t, c, backfill.Notifications{}, backfill.Options{BatchSize: 3})
	got := rows(t, db, `SELECT message_id, recipient_member_id, sender_member_id, kind, created_at, read_at IS NULL FROM mesh.notification`)
	var want []string
	add := func(msg, sender string, recipients ...string) {
		for _, r := range recipients {
			want = append(want, fmt.Sprintf("%s %s %s mention 2026-01-02 03:04:%02d.678 +0000 UTC true", msg, r, sender, 5+atoi(msg)))
		}
	}
	add("01", "s", "al", "bo")
	// 02: "@a.b" matches "a" only; the sender and revoked members are never notified.
	add("03", "s") // "with space" cannot be a token
	var crowd []string
	for i := 1; i <= 32; i++ {
		crowd = append(crowd, fmt.Sprintf("crowd%02d", i))
	}
	add("04", "s", crowd...)
	var first16 []string
	for i := 1; i <= 16; i++ {
		first16 = append(first16, fmt.Sprintf("n%02d", i))
	}
	add("05", "s", first16...)
	// 09 decodes to more than 64 KiB: skipped. In 10 only "(@bob)" is a
	// mention: me@bob, x@alice, -@bob and _@bob have a name character
	// before the '@', @bob-ok names bob-ok, and 65 characters are too many.
	add("10", "al", "bo")
	add("11", "bo", "al")
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if res.Written != int64(len(want)) || dry.Written != res.Written {
		t.Errorf("written %d, dry run %d, want %d", res.Written, dry.Written, len(want))
	}
	for reason, n := range map[string]int64{backfill.SkipEncrypted: 1, backfill.SkipInvalidBase64: 1, backfill.SkipInvalidUTF8: 1, backfill.SkipOversized: 1} {
		if res.Skipped[reason] != n {
			t.Errorf("skipped[%s] = %d, want %d (all: %v)", reason, res.Skipped[reason], n, res.Skipped)
		}
	}
	if again := run(t, c, backfill.Notifications{}, backfill.Options{Restart: true}); again.Written != 0 {
		t.Errorf("rerun wrote %d", again.Written)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// A run stopped between batches continues from its stored cursor and ends
// with the same rows as a run that was never stopped.
func TestResume(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMessages(t, db)
	c := connect(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	res, err := backfill.Run(ctx, c, backfill.Notifications{}, backfill.Options{BatchSize: 2, Progress: func(e backfill.Event) {
		if e.Kind == backfill.EventBatch {
			if batches++; batches == 2 {
				cancel()
			}
		}
	}})
	if err != nil || !res.Stopped || res.Scanned != 4 {
		t.Fatalf("stopped run: %+v, %v", res, err)
	}
	st := rows(t, db, `SELECT name, cursor, status, scanned FROM mesh.meshctl_backfill`)
	if diff := cmp.Diff([]string{"notifications 04 running 4"}, st); diff != "" {
		t.Errorf("stored state (-want +got):\n%s", diff)
	}
	res2 := run(t, c, backfill.Notifications{}, backfill.Options{BatchSize: 2})
	if !res2.Resumed || res2.Scanned != 7 || !res2.Done {
		t.Errorf("resumed run %+v", res2)
	}
	resumed := rows(t, db, `SELECT message_id, recipient_member_id FROM mesh.notification`)
	exec(t, db, `DELETE FROM mesh.notification`)
	run(t, c, backfill.Notifications{}, backfill.Options{Restart: true})
	if diff := cmp.Diff(rows(t, db, `SELECT message_id, recipient_member_id FROM mesh.notification`), resumed); diff != "" {
		t.Errorf("resumed vs one-shot (-one-shot +resumed):\n%s", diff)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := backfill.Lookup("nope"); err == nil || !strings.Contains(err.Error(), "general, owner-member, notifications") {
		t.Errorf("unknown name: %v", err)
	}
	db := pgtest.NewEmptyDB(t)
	c := connect(t, db)
	_, err := backfill.Run(context.Background(), c, backfill.General{}, backfill.Options{})
	var se *backfill.SchemaError
	if !errorsAs(err, &se) {
		t.Errorf("no schema: %v", err)
	}
	// A role that may read but not create the state table.
	mdb := pgtest.NewDB(t)
	exec(t, mdb, `CREATE ROLE bf_reader LOGIN PASSWORD 'pw'; GRANT USAGE ON SCHEMA mesh TO bf_reader; GRANT SELECT ON ALL TABLES IN SCHEMA mesh TO bf_reader`)
	u, _ := url.Parse(mdb.URL)
	u.User = url.UserPassword("bf_reader", "pw")
	rc, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatalf("log in as the test role: %v", err)
	}
	defer rc.Close(context.Background())
	_, err = backfill.Run(context.Background(), rc, backfill.General{}, backfill.Options{})
	var pe *backfill.PrivilegeError
	if !errorsAs(err, &pe) || !strings.Contains(err.Error(), "CREATE on schema mesh") {
		t.Errorf("missing privilege: %v", err)
	}
	if pgtest.RelExists(t, mdb.Pool, "mesh.meshctl_backfill") {
		t.Error("state table created without the privilege")
	}
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
