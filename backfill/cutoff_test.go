package backfill_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/claudemesh/meshctl/backfill"
	"github.com/claudemesh/meshctl/internal/pgtest"
)

// lateMessage writes message "late", created now (after the template's
// migrations were applied), mentioning @bob: as the broker stores a
// message sent with an explicit, empty mentions[] list, i.e. with no
// notification.
func lateMessage(t *testing.T, db *pgtest.DB) {
	exec(t, db, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, body_version, created_at)
		VALUES ('late', 't', 's', '', $1, 1, now() AT TIME ZONE 'UTC')`, base64.StdEncoding.EncodeToString([]byte("@bob see above")))
}

// The broker wrote the notifications of messages from after the
// notifications migration; the backfill must not add to them.
func TestNotificationsCutoff(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMessages(t, db)
	lateMessage(t, db)
	c := connect(t, db)
	var applied time.Time
	if err := db.Pool.QueryRow(context.Background(), `SELECT applied_at FROM mesh.__cmh_migrations WHERE filename = '0004_notifications.sql'`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	res := run(t, c, backfill.Notifications{}, backfill.Options{})
	if n := rows(t, db, `SELECT count(*) FROM mesh.notification WHERE message_id = 'late'`); n[0] != "0" {
		t.Errorf("the backfill notified %s members of a message from after the cutoff", n[0])
	}
	if res.Skipped[backfill.SkipAfterCutoff] != 1 || res.Written == 0 {
		t.Errorf("result %+v, want the late message skipped as %s and the older ones written", res, backfill.SkipAfterCutoff)
	}
	// The template's row was written by meshctl: UTC wall time.
	if res.Until == nil || !res.Until.Equal(applied) {
		t.Errorf("cutoff %v, want the migration's applied_at %v", res.Until, applied)
	}

	// An explicit cutoff overrides it: here one that takes in "late", and
	// then one before every message (nothing more to write either way).
	exec(t, db, `DELETE FROM mesh.notification`)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	res = run(t, c, backfill.Notifications{}, backfill.Options{Restart: true, Until: until})
	if n := rows(t, db, `SELECT recipient_member_id FROM mesh.notification WHERE message_id = 'late'`); len(n) != 1 || n[0] != "bo" {
		t.Errorf("with --until after it, the late message notified %v, want [bo]", n)
	}
	if res.Until == nil || !res.Until.Equal(until) || res.Skipped[backfill.SkipAfterCutoff] != 0 {
		t.Errorf("with --until %v: result %+v", until, res)
	}
	exec(t, db, `DELETE FROM mesh.notification`)
	res = run(t, c, backfill.Notifications{}, backfill.Options{Restart: true, Until: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if n := rows(t, db, `SELECT count(*) FROM mesh.notification`); n[0] != "0" || res.Skipped[backfill.SkipAfterCutoff] != res.Scanned {
		t.Errorf("a cutoff before every message: %s notifications, result %+v", n[0], res)
	}
}

// Without a cutoff the run refuses, typed, before it writes or stores
// anything.
func TestNotificationsNoCutoff(t *testing.T) {
	for name, setup := range map[string]string{
		"no row":   `DELETE FROM mesh.__cmh_migrations WHERE filename = '0004_notifications.sql'`,
		"no table": `DROP TABLE mesh.__cmh_migrations`,
	} {
		t.Run(name, func(t *testing.T) {
			db := pgtest.NewDB(t)
			seedMessages(t, db)
			exec(t, db, setup)
			c := connect(t, db)
			_, err := backfill.Run(context.Background(), c, backfill.Notifications{}, backfill.Options{})
			var ce *backfill.CutoffError
			if !errorsAs(err, &ce) {
				t.Fatalf("err = %v, want a *CutoffError", err)
			}
			if pgtest.RelExists(t, db.Pool, "mesh.meshctl_backfill") {
				t.Error("the refused run created the state table")
			}
			if n := rows(t, db, `SELECT count(*) FROM mesh.notification`); n[0] != "0" {
				t.Errorf("the refused run wrote %s notifications", n[0])
			}
			// Given one, it runs.
			run(t, c, backfill.Notifications{}, backfill.Options{Until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)})
		})
	}
}

// An upstream tracking row holds applied_at as the wall time of the
// server's zone: in a database in America/New_York, 08:00 is 12:00 UTC
// (daylight time), and created_at is UTC wall time.
func TestNotificationsCutoffTimeZone(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMessages(t, db)
	exec(t, db, `DELETE FROM mesh.topic_message`)
	exec(t, db, `INSERT INTO mesh.topic_message (id, topic_id, sender_member_id, nonce, ciphertext, created_at) VALUES
		('a', 't', 's', '', $1, '2026-06-01 11:59:00'), ('b', 't', 's', '', $1, '2026-06-01 12:01:00')`,
		base64.StdEncoding.EncodeToString([]byte("@bob")))
	// As upstream writes it: no extras, the server's wall time.
	if pgtest.RelExists(t, db.Pool, "mesh.__cmh_migrations_meshctl") {
		exec(t, db, `DELETE FROM mesh.__cmh_migrations_meshctl WHERE filename = '0004_notifications.sql'`)
	}
	exec(t, db, `UPDATE mesh.__cmh_migrations SET applied_at = '2026-06-01 08:00:00' WHERE filename = '0004_notifications.sql'`)
	exec(t, db, `ALTER DATABASE `+db.Name+` SET timezone = 'America/New_York'`)
	c := connect(t, db) // a new session: the database's zone
	res := run(t, c, backfill.Notifications{}, backfill.Options{})
	if want := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC); res.Until == nil || !res.Until.Equal(want) {
		t.Errorf("cutoff %v, want %v", res.Until, want)
	}
	if n := rows(t, db, `SELECT message_id FROM mesh.notification`); len(n) != 1 || n[0] != "a" {
		t.Errorf("notified messages %v, want [a] (11:59 UTC before the cutoff, 12:01 after)", n)
	}
}

// MaxBody follows the broker's MAX_MESSAGE_BYTES: message 09 decodes to
// 70,000 bytes, over the default 65,536 but within a broker set higher.
func TestNotificationsMaxBody(t *testing.T) {
	db := pgtest.NewDB(t)
	seedMessages(t, db)
	c := connect(t, db)
	res := run(t, c, backfill.Notifications{}, backfill.Options{})
	if n := rows(t, db, `SELECT count(*) FROM mesh.notification WHERE message_id = '09'`); n[0] != "0" || res.Skipped[backfill.SkipOversized] != 1 {
		t.Errorf("default: 09 notified %s, skipped %v", n[0], res.Skipped)
	}
	res = run(t, c, backfill.Notifications{}, backfill.Options{Restart: true, MaxBody: 100000})
	if n := rows(t, db, `SELECT recipient_member_id FROM mesh.notification WHERE message_id = '09'`); len(n) != 1 || n[0] != "bo" || res.Skipped[backfill.SkipOversized] != 0 {
		t.Errorf("MaxBody 100000: 09 notified %v, skipped %v", n, res.Skipped)
	}
	// A smaller limit skips more (and fetches less).
	exec(t, db, `DELETE FROM mesh.notification`)
	res = run(t, c, backfill.Notifications{}, backfill.Options{Restart: true, MaxBody: 10})
	if res.Skipped[backfill.SkipOversized] < 2 {
		t.Errorf("MaxBody 10: skipped %v, want more bodies oversized", res.Skipped)
	}
}
