package broker

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the broker's configuration, read from the environment.
type Config struct {
	DatabaseURL       string // DATABASE_URL, required
	Port              int    // BROKER_PORT, default 7900
	MaxMessageBytes   int    // MAX_MESSAGE_BYTES, default 65536
	ExpectedMigration string // EXPECTED_MIGRATION: readiness requires this file in the tracking table
	SkipMigrate       bool   // BROKER_SKIP_MIGRATE, exactly "1"
	AdminToken        string // BROKER_ADMIN_TOKEN; empty disables POST /v1/meshes

	RateBurst  int // BROKER_RATE_BURST, default 10
	RatePerMin int // BROKER_RATE_PER_MIN, default 60

	// StartupTimeout bounds how long the broker waits for PostgreSQL to
	// accept connections before the startup migration (BROKER_STARTUP_TIMEOUT).
	StartupTimeout time.Duration
	// DrainDelay is how long readiness reports 503 before connections are
	// closed on SIGTERM (BROKER_DRAIN_DELAY), so load balancers notice.
	DrainDelay time.Duration
	// ProbeInterval is the background database probe's period.
	ProbeInterval time.Duration

	Version string // set by the binary (-ldflags)
	Commit  string
}

// Defaults.
const (
	DefaultPort            = 7900
	DefaultMaxMessageBytes = 65536
	DefaultRateBurst       = 10
	DefaultRatePerMin      = 60
	DefaultStartupTimeout  = 2 * time.Minute
	DefaultDrainDelay      = time.Second
	DefaultProbeInterval   = time.Second
)

// ConfigError is an invalid or missing setting.
type ConfigError struct {
	Var string
	Msg string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Msg }

// ConfigFromEnv reads the configuration through getenv (os.Getenv).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:       getenv("DATABASE_URL"),
		ExpectedMigration: strings.TrimSpace(getenv("EXPECTED_MIGRATION")),
		SkipMigrate:       getenv("BROKER_SKIP_MIGRATE") == "1",
		AdminToken:        getenv("BROKER_ADMIN_TOKEN"),
		ProbeInterval:     DefaultProbeInterval,
	}
	if strings.TrimSpace(c.DatabaseURL) == "" {
		return c, &ConfigError{"DATABASE_URL", "required (postgres://user:password@host:5432/dbname)"}
	}
	if _, err := PoolConfig(c.DatabaseURL); err != nil {
		return c, &ConfigError{"DATABASE_URL", err.Error()} // dbconn's errors never hold the password
	}
	var err error
	if c.Port, err = intVar(getenv, "BROKER_PORT", DefaultPort, 1, 65535); err != nil {
		return c, err
	}
	if c.MaxMessageBytes, err = intVar(getenv, "MAX_MESSAGE_BYTES", DefaultMaxMessageBytes, 1, 64<<20); err != nil {
		return c, err
	}
	if c.RateBurst, err = intVar(getenv, "BROKER_RATE_BURST", DefaultRateBurst, 1, 1<<20); err != nil {
		return c, err
	}
	if c.RatePerMin, err = intVar(getenv, "BROKER_RATE_PER_MIN", DefaultRatePerMin, 1, 1<<30); err != nil {
		return c, err
	}
	if c.StartupTimeout, err = durVar(getenv, "BROKER_STARTUP_TIMEOUT", DefaultStartupTimeout); err != nil {
		return c, err
	}
	if c.DrainDelay, err = durVar(getenv, "BROKER_DRAIN_DELAY", DefaultDrainDelay); err != nil {
		return c, err
	}
	if v := getenv("BROKER_SKIP_MIGRATE"); v != "" && v != "1" && v != "0" {
		return c, &ConfigError{"BROKER_SKIP_MIGRATE", fmt.Sprintf("must be exactly \"1\" to skip (got %q)", v)}
	}
	if t := c.AdminToken; t != "" && len(t) < 16 {
		return c, &ConfigError{"BROKER_ADMIN_TOKEN", "must be at least 16 characters"}
	}
	return c, nil
}

func intVar(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &ConfigError{name, fmt.Sprintf("want an integer from %d to %d, got %q", lo, hi, v)}
	}
	return n, nil
}

func durVar(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &ConfigError{name, fmt.Sprintf("want a duration such as 30s, got %q", v)}
	}
	return d, nil
}
