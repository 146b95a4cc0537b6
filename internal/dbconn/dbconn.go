// Package dbconn opens PostgreSQL connections the way meshctl's verbs and
// the reference broker need them: an application_name the caller chooses
// (meshctl, claudemesh-broker) so operators can find each program in
// pg_stat_activity, a bounded connect timeout, cancel requests when a
// context ends, and errors that are one clear line with the password
// removed. Nothing in this package prints.
package dbconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds how long a connection attempt may take when
// the DSN sets no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// CancelGrace is how long a cancelled call waits for the server to confirm
// the cancel before the socket is closed.
const CancelGrace = 5 * time.Second

// Kind classifies why a connection could not be made.
type Kind int

const (
	KindOther       Kind = iota
	KindBadDSN           // the DSN cannot be parsed
	KindMissingDSN       // no DSN given at all
	KindUnreachable      // nothing answers at the address, or DNS failed
	KindTimeout          // the connect timeout ran out
	KindAuth             // wrong password or no such role
	KindNoDatabase       // the database does not exist
	KindTLS              // TLS negotiation failed
	KindNotPostgres      // something answers at the address, but not PostgreSQL
)

// Error is a connection failure. Its message is one line, safe to print:
// it never contains the password.
type Error struct {
	Kind   Kind
	Target string // host:port/database, no credentials
	Detail string // short cause, credentials removed
}

func (e *Error) Error() string {
	var what, hint string
	switch e.Kind {
	case KindMissingDSN:
		return "no database given"
	case KindBadDSN:
		return fmt.Sprintf("invalid database URL: %s; use postgres://user:password@host:5432/dbname or key=value form (host=... dbname=...)", e.Detail)
	case KindUnreachable:
		what, hint = "cannot reach the database server", "check the host and port, and that PostgreSQL is running"
	case KindTimeout:
		what, hint = "timed out connecting to the database", "check the host and port, firewalls, or raise connect_timeout"
	case KindAuth:
		what, hint = "the database refused the login", "check the user name and password"
	case KindNoDatabase:
		what, hint = "the database does not exist", "check the database name in the URL"
	case KindTLS:
		what, hint = "TLS negotiation with the database failed", "check sslmode and the server's certificate"
	case KindNotPostgres:
		return fmt.Sprintf("the server at %s does not speak the PostgreSQL protocol: check the host and port", e.Target)
	default:
		what, hint = "cannot connect to the database", "check the connection settings"
	}
	msg := fmt.Sprintf("%s at %s", what, e.Target)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + ": " + hint
}

// ParseConfig parses a DSN in URL or key=value form and applies the
// defaults: application_name app unless the DSN names one, the connect
// timeout, cancel requests. An empty DSN is an error (never a guessed
// database).
func ParseConfig(dsn, app string) (*pgxpool.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, &Error{Kind: KindMissingDSN}
	}
	cfg, err := pgxpool.ParseConfig(normalizeURL(dsn))
	if err != nil {
		return nil, &Error{Kind: KindBadDSN, Detail: scrub(parseDetail(err), dsn)}
	}
	cc := cfg.ConnConfig
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = app
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	// A cancelled context (Ctrl-C) sends a cancel request, so the server
	// stops the running statement before the call returns and the
	// connection stays usable for cleanup (unlock, rollback). pgx's default
	// only closes the socket: the server would go on running the query
	// (e.g. the rest of a migration batch) after meshctl has returned.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: CancelGrace}
	}
	return cfg, nil
}

// OpenPool parses dsn, connects, and pings once so that a bad address,
// password or database name is reported now, as an *Error.
func OpenPool(ctx context.Context, dsn, app string) (*pgxpool.Pool, error) {
	cfg, err := ParseConfig(dsn, app)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify(err, cfg.ConnConfig, dsn)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, classify(err, cfg.ConnConfig, dsn)
	}
	return pool, nil
}

// Connect opens one connection (for work that must stay on a single
// backend, such as holding a session-level advisory lock).
func Connect(ctx context.Context, dsn, app string) (*pgx.Conn, error) {
	cfg, err := ParseConfig(dsn, app)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, classify(err, cfg.ConnConfig, dsn)
	}
	return conn, nil
}

// Redact returns dsn with any password replaced by "xxxxx", in URL and
// key=value forms. Use it whenever a DSN must appear in output.
func Redact(dsn string) string {
	if u, err := url.Parse(normalizeURL(dsn)); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			}
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		// A URL too broken to parse: everything between the user's ':'
		// and the last '@' may be password (it may itself hold '@').
		rest := dsn[strings.Index(dsn, "://")+3:]
		at := strings.LastIndexByte(rest, '@')
		colon := strings.IndexByte(rest, ':')
		if at < 0 || colon < 0 || colon > at {
			return dsn
		}
		return dsn[:len(dsn)-len(rest)] + rest[:colon+1] + "xxxxx" + rest[at:]
	}
	return redactKV(dsn)
}

// redactKV replaces password=... in a key=value DSN, honouring quotes.
func redactKV(dsn string) string {
	var b strings.Builder
	i := 0
	for i < len(dsn) {
		j := strings.Index(dsn[i:], "password")
		if j < 0 {
			b.WriteString(dsn[i:])
			break
		}
		j += i
		k := j + len("password")
		for k < len(dsn) && dsn[k] == ' ' {
			k++
		}
		if k >= len(dsn) || dsn[k] != '=' || (j > 0 && dsn[j-1] != ' ') {
			b.WriteString(dsn[i:k])
			i = k
			continue
		}
		k++
		for k < len(dsn) && dsn[k] == ' ' {
			k++
		}
		b.WriteString(dsn[i:k])
		b.WriteString("xxxxx")
		// skip the value
		if k < len(dsn) && dsn[k] == '\'' {
			k++
			for k < len(dsn) && dsn[k] != '\'' {
				if dsn[k] == '\\' {
					k++
				}
				k++
			}
			k++
		} else {
			for k < len(dsn) && dsn[k] != ' ' {
				k++
			}
		}
		i = min(k, len(dsn))
	}
	return b.String()
}

// secrets lists the strings that must never appear in an error, longest
// first, so that a password is replaced whole and never piecewise.
func secrets(dsn string, cc *pgx.ConnConfig) []string {
	var s []string
	add := func(p string) {
		if p != "" {
			s = append(s, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	if cc != nil {
		add(cc.Password)
	}
	add(os.Getenv("PGPASSWORD"))
	norm := normalizeURL(dsn)
	if u, err := url.Parse(norm); err == nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		add(u.Query().Get("password"))
	} else if _, rest, ok := splitScheme(dsn); ok {
		// Too broken to parse: everything between the user's ':' and the
		// '@' that ends the credentials, as one unit.
		if at := credentialsEnd(rest); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok {
				add(p)
			}
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		add(strings.Trim(m[1], "'"))
	}
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

var kvPassword = regexp.MustCompile(`(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

func scrub(msg, dsn string) string {
	return scrubAll(msg, secrets(dsn, nil))
}

// scrubAll replaces each secret in msg with "xxxxx"; secrets come longest
// first, so a password is never replaced piecewise. A short secret (under
// 8 bytes) is replaced only where it stands as a whole word: inside a word
// ("in" of "invalid") it is text of the message, and replacing it there
// would garble the message and show which letters the password holds.
func scrubAll(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 8 {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			continue
		}
		msg = replaceWords(msg, s)
	}
	return msg
}

// replaceWords replaces the occurrences of s in msg that are not part of
// a longer word (letters and digits).
func replaceWords(msg, s string) string {
	if s == "" {
		return msg
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, s)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(s)
		inWord := i > 0 && wordByte(msg[i-1]) && wordByte(s[0]) ||
			end < len(msg) && wordByte(msg[end]) && wordByte(s[len(s)-1])
		b.WriteString(msg[:i])
		if inWord {
			b.WriteString(s)
		} else {
			b.WriteString("xxxxx")
		}
		msg = msg[end:]
	}
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func parseDetail(err error) string {
	// pgconn says "cannot parse `DSN`: reason (cause)"; keep the reason.
	msg := err.Error()
	if strings.HasPrefix(msg, "cannot parse `") {
		if i := strings.Index(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
	}
	return msg
}

func target(cc *pgx.ConnConfig) string {
	host := cc.Host
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("%s (socket, port %d)/%s", host, cc.Port, cc.Database)
	}
	return fmt.Sprintf("%s/%s", net.JoinHostPort(host, fmt.Sprint(cc.Port)), cc.Database)
}

func classify(err error, cc *pgx.ConnConfig, dsn string) error {
	e := &Error{Kind: KindOther, Target: target(cc)}
	var pgErr *pgconn.PgError
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "28P01", "28000":
			e.Kind = KindAuth
			e.Detail = "user " + cc.User
		case "3D000":
			e.Kind = KindNoDatabase
			e.Detail = "database " + cc.Database
		default:
			e.Detail = pgErr.Code + " " + pgErr.Message
		}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Kind = KindTimeout
	case errors.As(err, &dnsErr):
		e.Kind = KindUnreachable
		e.Detail = "unknown host " + dnsErr.Name
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind = KindUnreachable
		e.Detail = "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		e.Kind = KindUnreachable
		e.Detail = "no route to host"
	case notPostgres(err.Error()):
		e.Kind = KindNotPostgres
	case strings.Contains(err.Error(), "server refused TLS connection") && !answersSSLRequest(cc):
		e.Kind = KindNotPostgres
	case strings.Contains(err.Error(), "tls"):
		e.Kind = KindTLS
	default:
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) && ce.Unwrap() != nil {
			e.Detail = lastPart(ce.Unwrap().Error())
		} else {
			e.Detail = lastPart(err.Error())
		}
	}
	e.Detail = scrubAll(e.Detail, secrets(dsn, cc))
	return e
}

// notPostgres recognises pgx's reports of bytes that no PostgreSQL server
// sends: a message length out of range (an HTTP or SSH banner read as a
// message header), or a TLS record that is not one.
func notPostgres(msg string) bool {
	for _, s := range []string{"invalid body length", "does not look like a TLS handshake", "unknown message type"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// answersSSLRequest sends PostgreSQL's SSLRequest to the configured host
// and reports whether the single-byte answer is one a PostgreSQL server
// gives ('S' or 'N'). pgx says "server refused TLS connection" for any other
// byte too, which would blame TLS for a web server on the port.
func answersSSLRequest(cc *pgx.ConnConfig) bool {
	if strings.HasPrefix(cc.Host, "/") {
		return true
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", net.JoinHostPort(cc.Host, fmt.Sprint(cc.Port)))
	if err != nil {
		return true // cannot tell: keep the TLS reading
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		return true
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		return false
	}
	return b[0] == 'S' || b[0] == 'N'
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
