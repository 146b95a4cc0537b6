package broker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the SPEC §6 series plus HTTP and audit counters, on a
// registry of their own (no globals: two Servers in one process, as in
// tests, do not collide).
type metrics struct {
	reg *prometheus.Registry

	connTotal      prometheus.Counter
	connRejected   *prometheus.CounterVec // reason
	connActive     prometheus.Gauge
	msgRouted      *prometheus.CounterVec // priority
	msgRejected    *prometheus.CounterVec // reason
	msgDropped     *prometheus.CounterVec // cap
	legacyAuthHits prometheus.Counter
	queueDepth     prometheus.Gauge
	dbHealthy      prometheus.Gauge

	httpRequests *prometheus.CounterVec   // route, method, code
	httpDuration *prometheus.HistogramVec // route
	auditAppends *prometheus.CounterVec   // event
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.connTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "broker_connections_total", Help: "WebSocket connections accepted (hello verified)."})
	m.connRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "broker_connections_rejected_total", Help: "WebSocket connections refused, by reason."}, []string{"reason"})
	m.connActive = prometheus.NewGauge(prometheus.GaugeOpts{Name: "broker_connections_active", Help: "Open WebSocket connections on this replica."})
	m.msgRouted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "broker_messages_routed_total", Help: "Messages accepted and stored, by priority."}, []string{"priority"})
	m.msgRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "broker_messages_rejected_total", Help: "Messages refused, by reason (rate_limit, too_large, no_recipient)."}, []string{"reason"})
	m.msgDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "broker_messages_dropped_by_grant_total", Help: "Messages dropped because a grant (capability) was missing, by capability."}, []string{"cap"})
	m.legacyAuthHits = prometheus.NewCounter(prometheus.CounterOpts{Name: "broker_legacy_auth_hits_total", Help: "Requests using a legacy authentication form."})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "broker_queue_depth", Help: "Undelivered mesh.message_queue rows."})
	m.dbHealthy = prometheus.NewGauge(prometheus.GaugeOpts{Name: "broker_db_healthy", Help: "1 when the last database probe succeeded."})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "broker_http_requests_total", Help: "HTTP requests, by route pattern, method and status code."}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "broker_http_request_duration_seconds", Help: "HTTP request latency, by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	m.auditAppends = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "broker_audit_appends_total", Help: "Audit rows appended (committed), by event type."}, []string{"event"})
	for _, c := range []prometheus.Collector{m.connTotal, m.connRejected, m.connActive, m.msgRouted, m.msgRejected,
		m.msgDropped, m.legacyAuthHits, m.queueDepth, m.dbHealthy, m.httpRequests, m.httpDuration, m.auditAppends} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Label values that exist from the start, so dashboards see zeros.
	for _, p := range []string{"now", "next", "low"} {
		m.msgRouted.WithLabelValues(p)
	}
	for _, r := range []string{"rate_limit", "too_large", "no_recipient"} {
		m.msgRejected.WithLabelValues(r)
	}
	for _, r := range wsRejectReasons {
		m.connRejected.WithLabelValues(r)
	}
	m.msgDropped.WithLabelValues("topic_scope")
	for _, e := range auditEvents {
		m.auditAppends.WithLabelValues(e)
	}
	return m
}

// Label values known in advance.
var (
	wsRejectReasons = []string{"not_ready", "handshake", "no_hello", "bad_hello", "unknown_member", "wrong_pubkey",
		"bad_signature", "stale_hello", "revoked", "unavailable"}
	auditEvents = []string{"peer_joined", "message_sent", "apikey_created", "apikey_revoked", "member_banned", "member_unbanned"}
)
