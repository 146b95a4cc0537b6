package dbconn

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:s3cret@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgresql://u:s3cret@h/db?sslmode=disable", "postgresql://u:xxxxx@h/db?sslmode=disable"},
		{"postgres://u@h/db?password=s3cret", "postgres://u@h/db?password=xxxxx"},
		{"postgres://h/db", "postgres://h/db"},
		{"host=h user=u password=s3cret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password='s3 cret' dbname=d", "host=h password=xxxxx dbname=d"},
		{"host=h password = s3cret", "host=h password = xxxxx"},
		{"host=h passwordfile=/x", "host=h passwordfile=/x"},
		// URLs too broken to parse still lose their password.
		{"postgres://u:s3cret@[::1/x", "postgres://u:xxxxx@[::1/x"},
		{"postgresql://u:s3cret@h:port/x", "postgresql://u:xxxxx@h:port/x"},
		{"postgres://u:s3@cr:et@h:port/x", "postgres://u:xxxxx@h:port/x"},
		{"postgres://u@h:port/x", "postgres://u@h:port/x"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBadDSNNeverShowsPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:s3cret@[::1/x",
		"postgres://u:s3cret@h/x?sslmode=bogus",
		"host=h password=s3cret connect_timeout=zz",
		"host=h password='s3cret' port=notaport",
	} {
		_, err := ParseConfig(dsn, "meshctl")
		if err == nil {
			t.Fatalf("ParseConfig(%q) succeeded", dsn)
		}
		e, ok := err.(*Error)
		if !ok || e.Kind != KindBadDSN {
			t.Fatalf("ParseConfig(%q) error %T %v, want KindBadDSN", dsn, err, err)
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("error for %q leaks the password or spans lines: %q", dsn, err)
		}
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("postgres://u:p@h/db", "meshctl")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "meshctl" {
		t.Errorf("application_name = %q, want %q", got, "meshctl")
	}
	if cfg.ConnConfig.ConnectTimeout != DefaultConnectTimeout {
		t.Errorf("connect timeout = %v", cfg.ConnConfig.ConnectTimeout)
	}
	cfg, err = ParseConfig("postgres://u:p@h/db?application_name=mine&connect_timeout=3", "meshctl")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "mine" {
		t.Errorf("explicit application_name overridden: %q", got)
	}
	if cfg.ConnConfig.ConnectTimeout.Seconds() != 3 {
		t.Errorf("explicit connect_timeout overridden: %v", cfg.ConnConfig.ConnectTimeout)
	}
	if _, err := ParseConfig("  ", "meshctl"); err == nil || err.(*Error).Kind != KindMissingDSN {
		t.Errorf("empty DSN: %v", err)
	}
}
