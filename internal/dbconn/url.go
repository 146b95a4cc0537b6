package dbconn

import (
	"net/url"
	"strings"
)

// normalizeURL makes a postgres:// URL whose user name or password holds
// characters a URL may not carry raw (an '@', a '%' that starts no escape, a
// space or a quote) parseable: the credentials end at the last '@' before
// the host, and are re-encoded as one unit (valid escapes are kept as they
// were meant). A key=value DSN is returned unchanged.
//
// This is what an operator means by postgres://u:p@ssw0rd@host/db. (libpq
// 15 splits at the first '@' instead and then reports the password's tail
// as an unknown host name; pgx refuses the URL. Neither is what was meant,
// and both put part of the password into an error message. pgx, like
// libpq, ends the credentials at the first '@'.)
func normalizeURL(dsn string) string {
	scheme, rest, ok := splitScheme(dsn)
	if !ok {
		return dsn
	}
	at := credentialsEnd(rest)
	if at < 0 {
		return dsn
	}
	user, pass, hasPass := strings.Cut(rest[:at], ":")
	var ui *url.Userinfo
	if hasPass {
		ui = url.UserPassword(unescapeLoose(user), unescapeLoose(pass))
	} else {
		ui = url.User(unescapeLoose(user))
	}
	return scheme + ui.String() + rest[at:]
}

// splitScheme splits "postgres://rest" into "postgres://" and rest.
func splitScheme(dsn string) (scheme, rest string, ok bool) {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if strings.HasPrefix(dsn, p) {
			return p, dsn[len(p):], true
		}
	}
	return "", "", false
}

// credentialsEnd returns the index in rest (a URL after "scheme://") of
// the '@' that ends the credentials, or -1 when there are none. A host
// never holds an '@', so it is the last one; but an '@' inside the query
// (options=..., user=a@b) is not a candidate when an earlier one exists
// and what follows the '?' reads as a query of connection parameters.
// Otherwise the '?' is the password's (postgres://u:Tr0ub@dor?x1@db/app
// is user u, password Tr0ub@dor?x1, host db): never a host taken from
// inside a password.
func credentialsEnd(rest string) int {
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return -1
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 && q < at {
		if before := strings.LastIndexByte(rest[:q], '@'); before >= 0 && connectionQuery(rest[q+1:]) {
			return before
		}
	}
	return at
}

// connectionQuery reports whether q is key=value pairs joined by '&',
// every key a connection parameter libpq or pgx knows (or a common
// run-time setting).
func connectionQuery(q string) bool {
	for _, kv := range strings.Split(q, "&") {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !queryKeys[k] {
			return false
		}
	}
	return true
}

var queryKeys = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`host hostaddr port dbname user password passfile options
		application_name fallback_application_name connect_timeout client_encoding keepalives
		keepalives_idle keepalives_interval keepalives_count tcp_user_timeout replication gssencmode
		sslmode sslcompression sslcert sslkey sslpassword sslrootcert sslcrl sslcrldir sslsni
		sslnegotiation ssl_min_protocol_version ssl_max_protocol_version requirepeer krbsrvname
		gsslib gssdelegation service target_session_attrs load_balance_hosts channel_binding
		require_auth min_read_buffer_size statement_cache_capacity description_cache_capacity
		default_query_exec_mode pool_max_conns pool_min_conns pool_min_idle_conns pool_max_conn_lifetime
		pool_max_conn_lifetime_jitter pool_max_conn_idle_time pool_health_check_period
		search_path timezone TimeZone datestyle DateStyle standard_conforming_strings
		statement_timeout lock_timeout idle_in_transaction_session_timeout`) {
		queryKeys[k] = true
	}
}

// unescapeLoose decodes percent-escapes when s holds only valid ones, and
// otherwise takes s as the literal text (a raw '%' in a password).
func unescapeLoose(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
