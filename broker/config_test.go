package broker

import (
	"errors"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{"DATABASE_URL": "postgres://x@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7900 || c.MaxMessageBytes != 65536 || c.SkipMigrate || c.RateBurst != 10 || c.RatePerMin != 60 ||
		c.StartupTimeout != 2*time.Minute || c.AdminToken != "" {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = ConfigFromEnv(env(map[string]string{"DATABASE_URL": "postgres://x@h/db", "BROKER_PORT": "8000",
		"MAX_MESSAGE_BYTES": "1000", "BROKER_SKIP_MIGRATE": "1", "EXPECTED_MIGRATION": "0004_notifications.sql"}))
	if err != nil || c.Port != 8000 || c.MaxMessageBytes != 1000 || !c.SkipMigrate || c.ExpectedMigration != "0004_notifications.sql" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{},
		{"DATABASE_URL": " "},
		{"DATABASE_URL": "x", "BROKER_PORT": "0"},
		{"DATABASE_URL": "x", "BROKER_PORT": "http"},
		{"DATABASE_URL": "x", "MAX_MESSAGE_BYTES": "-1"},
		{"DATABASE_URL": "x", "BROKER_SKIP_MIGRATE": "true"}, // only "1" skips; anything else but 0 is a typo
		{"DATABASE_URL": "x", "BROKER_ADMIN_TOKEN": "short"},
		{"DATABASE_URL": "x", "BROKER_DRAIN_DELAY": "soon"},
	} {
		_, err := ConfigFromEnv(env(bad))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%v: want a *ConfigError, got %v", bad, err)
		}
	}
}
