package dbconn

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Passwords with every character that has a meaning in a URL or a
// key=value DSN never appear in an error, in part or whole, and the
// message around them is not garbled.
func TestPasswordsWithSpecialCharacters(t *testing.T) {
	addr := silentRefuser(t)
	host, port, _ := net.SplitHostPort(addr)
	for _, pw := range []string{"p@ssw0rd", "pa:ss", "pa/ss", "pa#ss", "pa?ss", "pa%ss", "pa ss", "pa'ss", `pa"ss`, "e", "unexpected"} {
		dsns := []string{
			"postgres://u:" + url.PathEscape(pw) + "@" + addr + "/db?connect_timeout=2",
			"host=" + host + " port=" + port + " user=u dbname=db connect_timeout=2 password='" + strings.ReplaceAll(pw, "'", `\'`) + "'",
		}
		if !strings.ContainsAny(pw, "/#?") {
			// Raw in the URL: only characters that cannot end the authority.
			dsns = append(dsns, "postgres://u:"+pw+"@"+addr+"/db?connect_timeout=2")
		}
		for _, dsn := range dsns {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := Connect(ctx, dsn, "meshctl")
			cancel()
			if err == nil {
				t.Fatalf("%q: connected to a refusing listener", dsn)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: error %T %v", dsn, err, err)
			}
			msg := err.Error()
			if len(pw) > 2 && strings.Contains(msg, pw) || strings.Contains(msg, "ssw0rd") {
				t.Errorf("%q: error leaks the password: %s", dsn, msg)
			}
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "does not speak the PostgreSQL protocol") {
				t.Errorf("%q: want one line about the protocol, got %q", dsn, msg)
			}
			if red := Redact(dsn); strings.Contains(red, pw) && len(pw) > 2 {
				t.Errorf("Redact(%q) = %q keeps the password", dsn, red)
			}
		}
	}
}

// A raw '@' in a URL password: the credentials end at the last '@' before
// the host, so the password is the whole "p@ssw0rd".
func TestRawAtInURLPassword(t *testing.T) {
	cfg, err := ParseConfig("postgres://u:p@ssw0rd@db.example:5433/app", "meshctl")
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.ConnConfig
	if cc.User != "u" || cc.Password != "p@ssw0rd" || cc.Host != "db.example" || cc.Port != 5433 || cc.Database != "app" {
		t.Errorf("parsed user=%q password=%q host=%q port=%d db=%q", cc.User, cc.Password, cc.Host, cc.Port, cc.Database)
	}
	if got, want := Redact("postgres://u:p@ssw0rd@db.example:5433/app"), "postgres://u:xxxxx@db.example:5433/app"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	// An '@' in the query does not move the end of the credentials.
	cfg, err = ParseConfig("postgres://u:p@ss@h/app?application_name=a@b", "meshctl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.Password != "p@ss" || cfg.ConnConfig.Host != "h" {
		t.Errorf("with '@' in the query: password=%q host=%q", cfg.ConnConfig.Password, cfg.ConnConfig.Host)
	}
	// A raw '%' that starts no escape is literal.
	cfg, err = ParseConfig("postgres://u:50%off@h/app", "meshctl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.Password != "50%off" {
		t.Errorf("raw %%: password=%q", cfg.ConnConfig.Password)
	}
}

// Something that is not PostgreSQL on the port: one line saying so, for
// every sslmode, whether it talks first (SSH), answers (HTTP) or closes.
func TestNotPostgres(t *testing.T) {
	for name, reply := range map[string]string{
		"http": "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"ssh":  "SSH-2.0-OpenSSH_9.2\r\n",
	} {
		addr := replier(t, reply)
		for _, mode := range []string{"prefer", "disable", "require"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := Connect(ctx, "postgres://u:s3cret@"+addr+"/db?connect_timeout=2&sslmode="+mode, "meshctl")
			cancel()
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindNotPostgres {
				t.Errorf("%s sslmode=%s: got %v, want KindNotPostgres", name, mode, err)
				continue
			}
			if want := "the server at " + addr + "/db does not speak the PostgreSQL protocol"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s sslmode=%s: %q, want prefix %q", name, mode, err, want)
			}
		}
	}
}

// replier accepts connections, answers each read with reply and closes.
func replier(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 512)
				for i := 0; i < 2; i++ {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func silentRefuser(t *testing.T) string {
	return replier(t, "HTTP/1.1 400 Bad Request\r\n\r\n")
}

// A '?' in a raw URL password, before an '@': what follows is not a query
// of connection parameters, so the credentials still end at the last '@'.
// (Splitting at the earlier '@' would take part of the password as the
// host, put it in the error, and send the rest as a password to it.)
func TestRawQuestionMarkInURLPassword(t *testing.T) {
	for _, c := range []struct{ dsn, pass, host string }{
		{"postgres://ops:Tr0ub@dor?x1@db.example/app", "Tr0ub@dor?x1", "db.example"},
		{"postgres://ops:Tr0ub@dor?x1=2@db.example/app", "Tr0ub@dor?x1=2", "db.example"},
		{"postgres://ops:a?b@c@db.example:5433/app?sslmode=disable", "a?b@c", "db.example"},
		// A real query with an '@' keeps the earlier '@'.
		{"postgres://ops:pw@h?options=-c%20search_path%3Da@b", "pw", "h"},
		{"postgres://ops:pw@h/app?sslmode=disable&user=x@y", "pw", "h"},
	} {
		cfg, err := ParseConfig(c.dsn, "meshctl")
		if err != nil {
			t.Errorf("%q: %v", Redact(c.dsn), err)
			continue
		}
		if cc := cfg.ConnConfig; cc.Password != c.pass || cc.Host != c.host {
			t.Errorf("%q: password %q host %q; want %q and %q", Redact(c.dsn), cc.Password, cc.Host, c.pass, c.host)
		}
		if red := Redact(c.dsn); strings.Contains(red, "Tr0ub") || strings.Contains(red, "dor?") {
			t.Errorf("Redact(%q) keeps part of the password: %q", c.dsn, red)
		}
	}
}

// A short password is scrubbed where it stands alone, not inside the
// message's own words: "nohost.invalid" stays readable with password
// "in", and the message does not spell out the password's letters.
func TestShortPasswordDoesNotGarbleMessages(t *testing.T) {
	secrets := []string{"in"}
	if got := scrubAll("cannot reach the database server at nohost.invalid:5432/db (unknown host nohost.invalid)", secrets); strings.Contains(got, "xxxxx") {
		t.Errorf("garbled: %q", got)
	}
	if got := scrubAll("password in was refused; password=in", secrets); got != "password xxxxx was refused; password=xxxxx" {
		t.Errorf("standalone short secret kept: %q", got)
	}
	if got := scrubAll("token S3cretPW99 and xS3cretPW99y", []string{"S3cretPW99"}); strings.Contains(got, "S3cretPW99") {
		t.Errorf("long secret kept inside a word: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Connect(ctx, "postgres://ops:in@nohost.invalid/db?connect_timeout=2", "meshctl")
	if err == nil || !strings.Contains(err.Error(), "nohost.invalid") {
		t.Errorf("error %v: want the host named as given", err)
	}
}
