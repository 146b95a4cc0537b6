// Package dashboards checks Grafana dashboards that query Prometheus.
//
// Lint reads dashboard JSON files and returns typed findings, each naming
// the file, the panel, the rule and the fix. It never prints. The rules:
//
//   - json: the file is a JSON object.
//   - uid: the dashboard has a uid (at most 40 characters) and no two files
//     share one.
//   - panel-id: panel ids are present and unique within a dashboard (rows'
//     nested panels included).
//   - grid-pos: every panel's gridPos lies within Grafana's 24 columns.
//   - datasource: panels and targets name the datasource through a
//     template variable (${datasource}), never a hard-coded uid or name,
//     and the variable is defined in templating.
//   - unit: time-series panels set fieldConfig.defaults.unit (error); other
//     panels with queries should (warning).
//   - description: every panel has a description (warning).
//   - promql: every target's expr parses with Prometheus's own parser after
//     Grafana's macros ($__rate_interval, $__interval, $__range, ...) and
//     template variables (${var}, $var, [[var]]) are substituted.
//   - counter-rate: a counter (a metric named *_total, or a counter or
//     histogram series by the exposition's types) is used only inside
//     rate, irate or increase.
//   - rate-non-counter: rate, irate or increase applied to a series that is
//     not a counter (an error when the exposition says so; a warning when
//     only its name, not ending in _total, _count, _sum or _bucket, does).
//   - metric-exists and label-exists (with a Catalog from a /metrics
//     exposition): every metric name and every label a query names exists
//     there. Prometheus's own series (up, scrape_*) and target labels (job,
//     instance) are always known.
package dashboards
