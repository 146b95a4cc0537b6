package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// Severity of a finding.
type Severity string

const (
	SeverityError   Severity = "error"   // the dashboard is broken or misleading; lint fails
	SeverityWarning Severity = "warning" // worth fixing; lint still passes
)

// Rule names, stable words a pipeline may filter on.
const (
	RuleJSON         = "json"
	RuleUID          = "uid"
	RulePanelID      = "panel-id"
	RuleGridPos      = "grid-pos"
	RuleDatasource   = "datasource"
	RuleUnit         = "unit"
	RuleDescription  = "description"
	RulePromQL       = "promql"
	RuleCounterRate  = "counter-rate"
	RuleRateGauge    = "rate-non-counter"
	RuleMetricExists = "metric-exists"
	RuleLabelExists  = "label-exists"
)

// Finding is one problem in one dashboard.
type Finding struct {
	File     string   `json:"file"`
	Panel    string   `json:"panel,omitempty"` // panel title; "" for the dashboard itself
	PanelID  int      `json:"panel_id,omitempty"`
	RefID    string   `json:"ref_id,omitempty"` // the target, for query rules
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

func (f Finding) String() string {
	where := f.File
	if f.Panel != "" {
		where += fmt.Sprintf(": panel %q", f.Panel)
		if f.RefID != "" {
			where += " query " + f.RefID
		}
	}
	return fmt.Sprintf("%s: %s [%s] %s; fix: %s", where, f.Severity, f.Rule, f.Message, f.Fix)
}

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// File is a dashboard to lint: its name (for findings) and its bytes.
type File struct {
	Name string
	Data []byte
}

// Options for Lint.
type Options struct {
	// Metrics, when set, is the exposition queries are checked against
	// (rules metric-exists and label-exists).
	Metrics *Catalog
}

// Dashboard is the part of Grafana's dashboard model the rules read.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Inputs []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"__inputs"`
}

// Variable is a templating variable.
type Variable struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Query   json.RawMessage `json:"query"`
	Current struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// Panel is a Grafana panel (a row's collapsed panels are in Panels).
type Panel struct {
	ID          *int            `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  json.RawMessage `json:"datasource"`
	GridPos     *GridPos        `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// GridPos is a panel's place on Grafana's 24-column grid.
type GridPos struct {
	H, W, X, Y int
}

// Target is one query of a panel.
type Target struct {
	RefID        string          `json:"refId"`
	Expr         string          `json:"expr"`
	LegendFormat string          `json:"legendFormat"`
	Datasource   json.RawMessage `json:"datasource"`
	Hide         bool            `json:"hide"`
}

// Parse decodes a dashboard. A file exported for sharing, with the
// dashboard under "dashboard", is accepted too.
func Parse(data []byte) (*Dashboard, error) {
	var wrapped struct {
		Dashboard *json.RawMessage `json:"dashboard"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return nil, err
	}
	if wrapped.Dashboard != nil {
		data = *wrapped.Dashboard
	}
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// AllPanels returns the dashboard's panels in order, rows' nested panels
// after their row.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Query is one panel target's expression, before and after substitution.
type Query struct {
	Panel    string
	PanelID  int
	RefID    string
	Expr     string // as written in the dashboard
	Expanded string // with macros and variables substituted
}

// Queries returns every visible PromQL query of the dashboard, with
// Grafana's macros and the dashboard's variables substituted by the values
// Expand uses.
func (d *Dashboard) Queries() []Query {
	vars := d.variableValues()
	var out []Query
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			if t.Hide || strings.TrimSpace(t.Expr) == "" {
				continue
			}
			id := 0
			if p.ID != nil {
				id = *p.ID
			}
			out = append(out, Query{Panel: p.Title, PanelID: id, RefID: t.RefID, Expr: t.Expr, Expanded: Expand(t.Expr, vars)})
		}
	}
	return out
}

// variableValues maps each non-datasource variable to its current value,
// or a regular expression matching anything when it has none.
func (d *Dashboard) variableValues() map[string]string {
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		val := ".*"
		var s string
		var ss []string
		if json.Unmarshal(v.Current.Value, &s) == nil && s != "" && s != "$__all" {
			val = s
		} else if json.Unmarshal(v.Current.Value, &ss) == nil && len(ss) > 0 && ss[0] != "$__all" {
			val = strings.Join(ss, "|")
		}
		vars[v.Name] = val
	}
	return vars
}

// Macro values used for parsing and evaluating: any valid duration works
// for parsing; these are Grafana's usual values at a 15 s scrape interval.
var macros = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "30s",
	"__interval_ms":   "30000",
	"__range":         "5m",
	"__range_s":       "300",
	"__range_ms":      "300000",
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]|\$([A-Za-z0-9_]+)`)

// Expand substitutes Grafana's macros ($__rate_interval, $__interval,
// $__range and their _ms/_s forms) and the variables in vars, in the forms
// $var, ${var}, ${var:format} and [[var]]. Unknown variables are left as
// written (the parser then reports them).
func Expand(expr string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := macros[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// Lint checks files and returns every finding, in file order.
func Lint(files []File, opts Options) []Finding {
	var out []Finding
	uids := map[string]string{} // uid -> first file
	for _, f := range files {
		d, err := Parse(f.Data)
		if err != nil {
			out = append(out, Finding{File: f.Name, Rule: RuleJSON, Severity: SeverityError,
				Message: "not a valid dashboard JSON object: " + err.Error(), Fix: "export the dashboard again from Grafana (Share > Export) or fix the JSON syntax"})
			continue
		}
		l := &linter{file: f.Name, d: d, opts: opts}
		l.dashboard(uids)
		out = append(out, l.findings...)
	}
	return out
}

type linter struct {
	file     string
	d        *Dashboard
	opts     Options
	findings []Finding
}

func (l *linter) add(p *Panel, refID, rule string, sev Severity, fix, format string, args ...any) {
	f := Finding{File: l.file, RefID: refID, Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...), Fix: fix}
	if p != nil {
		f.Panel = p.Title
		if f.Panel == "" {
			f.Panel = "(untitled " + p.Type + ")"
		}
		if p.ID != nil {
			f.PanelID = *p.ID
		}
	}
	l.findings = append(l.findings, f)
}

func (l *linter) dashboard(uids map[string]string) {
	d := l.d
	switch {
	case strings.TrimSpace(d.UID) == "":
		l.add(nil, "", RuleUID, SeverityError, `set a stable "uid" (at most 40 characters) so links and provisioning survive re-imports`, "the dashboard has no uid")
	case len(d.UID) > 40:
		l.add(nil, "", RuleUID, SeverityError, "shorten the uid to at most 40 characters", "uid %q is longer than Grafana's 40 characters", d.UID)
	case uids[d.UID] != "":
		l.add(nil, "", RuleUID, SeverityError, "give each dashboard its own uid", "uid %q is also used by %s", d.UID, uids[d.UID])
	default:
		uids[d.UID] = l.file
	}
	dsVars := map[string]bool{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			dsVars[v.Name] = true
		}
	}
	for _, in := range d.Inputs {
		if in.Type == "datasource" {
			dsVars[in.Name] = true
		}
	}
	vars := d.variableValues()
	ids := map[int]string{}
	for _, p := range d.AllPanels() {
		p := p
		l.panel(&p, ids, dsVars, vars)
	}
}

func (l *linter) panel(p *Panel, ids map[int]string, dsVars map[string]bool, vars map[string]string) {
	if p.ID == nil {
		l.add(p, "", RulePanelID, SeverityError, `give the panel a numeric "id" unique in the dashboard`, "the panel has no id")
	} else if other, dup := ids[*p.ID]; dup {
		l.add(p, "", RulePanelID, SeverityError, "renumber one of the panels", "panel id %d is also used by panel %q", *p.ID, other)
	} else {
		ids[*p.ID] = p.Title
	}
	if g := p.GridPos; g == nil {
		l.add(p, "", RuleGridPos, SeverityError, `add "gridPos": {"h", "w", "x", "y"}`, "the panel has no gridPos")
	} else if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
		l.add(p, "", RuleGridPos, SeverityError, "keep x >= 0, w >= 1, h >= 1 and x + w <= 24",
			"gridPos x=%d w=%d h=%d y=%d does not fit Grafana's 24 columns", g.X, g.W, g.H, g.Y)
	}
	if p.Type == "row" {
		return
	}
	if strings.TrimSpace(p.Description) == "" {
		l.add(p, "", RuleDescription, SeverityWarning, "say what the panel shows and what to do when it looks wrong", "the panel has no description")
	}
	if len(p.Targets) > 0 && p.FieldConfig.Defaults.Unit == "" {
		sev := SeverityWarning
		if p.Type == "timeseries" || p.Type == "graph" {
			sev = SeverityError
		}
		l.add(p, "", RuleUnit, sev, `set fieldConfig.defaults.unit (e.g. "reqps", "s", "short", "none")`, "the %s panel has no unit", p.Type)
	}
	if len(p.Targets) > 0 {
		l.datasource(p, "", p.Datasource, dsVars, len(p.Datasource) == 0)
	}
	for _, t := range p.Targets {
		if len(t.Datasource) > 0 {
			l.datasource(p, t.RefID, t.Datasource, dsVars, false)
		}
		l.query(p, t, vars)
	}
}

// datasource checks one datasource reference: a string or {type, uid}.
func (l *linter) datasource(p *Panel, refID string, raw json.RawMessage, dsVars map[string]bool, missingOK bool) {
	const fix = `use {"type": "prometheus", "uid": "${datasource}"} with a templating variable of type datasource named datasource`
	if len(raw) == 0 || string(raw) == "null" {
		if missingOK {
			// Targets may carry it; Grafana otherwise uses its default datasource.
			for _, t := range p.Targets {
				if len(t.Datasource) == 0 {
					l.add(p, t.RefID, RuleDatasource, SeverityError, fix, "no datasource: Grafana would pick its default datasource")
					return
				}
			}
		}
		return
	}
	var ref string
	var obj struct {
		UID  string `json:"uid"`
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &ref) != nil {
		if err := json.Unmarshal(raw, &obj); err != nil {
			l.add(p, refID, RuleDatasource, SeverityError, fix, "datasource is neither a string nor an object")
			return
		}
		ref = obj.UID
	}
	if ref == "-- Mixed --" || ref == "-- Dashboard --" {
		return
	}
	name := ""
	if m := varRef.FindStringSubmatch(ref); m != nil && m[0] == ref {
		name = m[1] + m[2] + m[3]
	}
	switch {
	case name == "":
		l.add(p, refID, RuleDatasource, SeverityError, fix, "datasource %q is hard-coded", ref)
	case !dsVars[name]:
		l.add(p, refID, RuleDatasource, SeverityError, fix, "datasource variable $%s is not defined as a datasource variable in templating", name)
	}
}

var promqlParser = parser.NewParser(parser.Options{})

// counterFuncs are the functions a counter may be used in.
var counterFuncs = map[string]bool{"rate": true, "irate": true, "increase": true}

func (l *linter) query(p *Panel, t Target, vars map[string]string) {
	if strings.TrimSpace(t.Expr) == "" {
		if !t.Hide {
			l.add(p, t.RefID, RulePromQL, SeverityError, "write the query or delete the target", "the query is empty")
		}
		return
	}
	expr, err := promqlParser.ParseExpr(Expand(t.Expr, vars))
	if err != nil {
		l.add(p, t.RefID, RulePromQL, SeverityError, "fix the expression (try it in Prometheus's expression browser)",
			"does not parse: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	cat := l.opts.Metrics
	reported := map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			name := n.Name
			if name == "" {
				for _, m := range n.LabelMatchers {
					if m.Name == "__name__" && m.Type == 0 {
						name = m.Value
					}
				}
			}
			if name == "" {
				return nil
			}
			if isCounter(name, cat) && !insideCounterFunc(path) && !reported["rate:"+name] {
				reported["rate:"+name] = true
				l.add(p, t.RefID, RuleCounterRate, SeverityError, fmt.Sprintf("wrap it: rate(%s[$__rate_interval])", name),
					"counter %s is used without rate, irate or increase (its raw value only grows and resets on restart)", name)
			}
			if insideCounterFunc(path) && !counterLike(name) && !reported["gauge:"+name] {
				if _, known := cat.lookup(name); cat == nil || known && !cat.counter[name] {
					reported["gauge:"+name] = true
					sev, why := SeverityWarning, "is not named like a counter (*_total)"
					if cat != nil {
						sev, why = SeverityError, "is not a counter in the exposition"
					}
					l.add(p, t.RefID, RuleRateGauge, sev, "rate, irate and increase need a counter: use the counter's *_total name, or drop the function for a gauge",
						"%s %s: a rate over it is meaningless, or the name is misspelt", name, why)
				}
			}
			if cat == nil {
				return nil
			}
			labelsOf, ok := cat.lookup(name)
			if !ok {
				if !reported["metric:"+name] {
					reported["metric:"+name] = true
					l.add(p, t.RefID, RuleMetricExists, SeverityError, "use a metric the target exposes (see its /metrics)",
						"metric %s does not exist in the exposition%s", name, cat.suggest(name))
				}
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name == "__name__" || labelsOf[m.Name] || targetLabels[m.Name] || reported["label:"+name+":"+m.Name] {
					continue
				}
				reported["label:"+name+":"+m.Name] = true
				l.add(p, t.RefID, RuleLabelExists, SeverityError, "use one of its labels: "+strings.Join(sortedKeys(labelsOf), ", "),
					"metric %s has no label %q", name, m.Name)
			}
		case *parser.AggregateExpr:
			if cat == nil {
				return nil
			}
			have := map[string]bool{}
			for _, name := range selectorNames(n.Expr) {
				if ls, ok := cat.lookup(name); ok {
					for k := range ls {
						have[k] = true
					}
				} else {
					return nil // reported as a missing metric
				}
			}
			if len(have) == 0 {
				return nil
			}
			for _, g := range n.Grouping {
				if !have[g] && !targetLabels[g] && !reported["group:"+g] {
					reported["group:"+g] = true
					l.add(p, t.RefID, RuleLabelExists, SeverityError, "group by one of: "+strings.Join(sortedKeys(have), ", "),
						"grouping label %q is on none of the metrics aggregated", g)
				}
			}
		}
		return nil
	})
}

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = map[string]bool{"job": true, "instance": true}

func insideCounterFunc(path []parser.Node) bool {
	for _, n := range path {
		if c, ok := n.(*parser.Call); ok && counterFuncs[c.Func.Name] {
			return true
		}
	}
	return false
}

// counterLike reports whether name follows the naming of series that only
// grow: counters (_total) and histogram or summary parts.
func counterLike(name string) bool {
	for _, suf := range []string{"_total", "_count", "_sum", "_bucket"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

func isCounter(name string, cat *Catalog) bool {
	if strings.HasSuffix(name, "_total") {
		return true
	}
	return cat != nil && cat.counter[name]
}

// selectorNames returns the metric names selected under e.
func selectorNames(e parser.Node) []string {
	var out []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok && vs.Name != "" {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
