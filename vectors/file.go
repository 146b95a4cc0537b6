package vectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Result is a test's expected verdict.
type Result string

const (
	Valid      Result = "valid"
	Invalid    Result = "invalid"
	Acceptable Result = "acceptable"
	// Either is only a policy verdict: both outcomes pass (the behaviour
	// is not pinned in that mode), and the outcome is still reported.
	Either Result = "either"
)

// Note explains one flag: which bug class its vectors catch. Policy is
// required for flags carried by acceptable tests.
type Note struct {
	BugType     string  `json:"bugType,omitempty"`
	Description string  `json:"description"`
	Effect      string  `json:"effect,omitempty"`
	Policy      *Policy `json:"policy,omitempty"`
}

// Policy decides an acceptable test carrying the flag: the verdict meshctl
// requires by default and under --strict (empty Strict = same as Default),
// and why. When a test carries several flags with policies, invalid wins
// over either, and either over valid.
type Policy struct {
	Default Result `json:"default"`
	Strict  Result `json:"strict,omitempty"`
	Reason  string `json:"reason"`
}

func (p Policy) verdict(strict bool) Result {
	if strict && p.Strict != "" {
		return p.Strict
	}
	return p.Default
}

// Case is one test vector, decoded and ready to run.
type Case struct {
	File      string
	TcID      int
	Comment   string
	Flags     []string
	Result    Result // as written in the file
	Generated string // for generated negatives: what was changed
	Input     Input
	policies  []Policy
}

// Want is the verdict the case requires in the given mode.
func (c Case) Want(strict bool) Result {
	if c.Result != Acceptable {
		return c.Result
	}
	want := Valid
	for _, p := range c.policies {
		switch p.verdict(strict) {
		case Invalid:
			return Invalid
		case Either:
			want = Either
		}
	}
	return want
}

// Suite is one loaded vector file.
type Suite struct {
	File      string
	Algorithm string
	Schema    string
	Notes     map[string]Note
	Cases     []Case
}

// MalformedError says what is wrong with a vector file. TcID is 0 when the
// problem is not in one test.
type MalformedError struct {
	File   string
	TcID   int
	Field  string
	Reason string
}

func (e *MalformedError) Error() string {
	s := e.File
	if e.TcID != 0 {
		s += ": tcId " + strconv.Itoa(e.TcID)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Reason
}

// ErrMalformed is wrapped by every MalformedError (errors.Is).
var ErrMalformed = errors.New("malformed vector file")

func (e *MalformedError) Unwrap() error { return ErrMalformed }

// rawFile is the on-disk shape. Groups and tests stay raw: their fields
// depend on the schema.
type rawFile struct {
	Algorithm     *string                      `json:"algorithm"`
	Schema        *string                      `json:"schema"`
	NumberOfTests *int                         `json:"numberOfTests"`
	Notes         map[string]Note              `json:"notes"`
	TestGroups    []map[string]json.RawMessage `json:"testGroups"`
}

// Load decodes one vector file. name is used in errors only.
func Load(name string, data []byte) (*Suite, error) {
	l := &loader{name: name, seen: map[int]bool{}}
	if err := l.header(data); err != nil {
		return nil, err
	}
	s := &Suite{File: name, Algorithm: *l.rf.Algorithm, Schema: *l.rf.Schema, Notes: l.rf.Notes}
	for gi, g := range l.rf.TestGroups {
		cases, err := l.group(gi, g)
		if err != nil {
			return nil, err
		}
		s.Cases = append(s.Cases, cases...)
	}
	if n := l.rf.NumberOfTests; n != nil && *n != len(s.Cases) {
		return nil, l.bad(0, "numberOfTests", "says %d, file has %d tests", *n, len(s.Cases))
	}
	return s, nil
}

// loader holds what reading one file needs across its groups.
type loader struct {
	name string
	rf   rawFile
	sd   schemaDef
	seen map[int]bool // tcIds so far
}

func (l *loader) bad(tc int, field, format string, args ...any) error {
	return &MalformedError{File: l.name, TcID: tc, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// header decodes the file and checks its top level: one JSON object with
// a known schema, the algorithm that schema needs, and test groups.
func (l *loader) header(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&l.rf); err != nil {
		return l.bad(0, "", "invalid JSON: %s", jsonErr(data, err))
	}
	if dec.More() {
		return l.bad(0, "", "invalid JSON: data after the top-level object")
	}
	rf := &l.rf
	if rf.Algorithm == nil || *rf.Algorithm == "" {
		return l.bad(0, "algorithm", "missing")
	}
	if rf.Schema == nil || *rf.Schema == "" {
		return l.bad(0, "schema", "missing")
	}
	sd, ok := schemas[*rf.Schema]
	if !ok {
		return l.bad(0, "schema", "unknown schema %q (known: %s)", *rf.Schema, knownSchemas())
	}
	if sd.algorithm != *rf.Algorithm {
		return l.bad(0, "algorithm", "schema %s needs algorithm %q, file says %q", *rf.Schema, sd.algorithm, *rf.Algorithm)
	}
	if len(rf.TestGroups) == 0 {
		return l.bad(0, "testGroups", "missing or empty")
	}
	l.sd = sd
	return nil
}

// group reads test group gi: its type names the decoder of its tests.
func (l *loader) group(gi int, g map[string]json.RawMessage) ([]Case, error) {
	where := fmt.Sprintf("testGroups[%d]", gi)
	var typ string
	if err := json.Unmarshal(g["type"], &typ); err != nil || typ == "" {
		return nil, l.bad(0, where+".type", "missing or not a string")
	}
	decode, ok := l.sd.groups[typ]
	if !ok {
		return nil, l.bad(0, where+".type", "unknown group type %q for schema %s", typ, *l.rf.Schema)
	}
	var tests []map[string]json.RawMessage
	if err := json.Unmarshal(g["tests"], &tests); err != nil || len(tests) == 0 {
		return nil, l.bad(0, where+".tests", "missing, empty or not a list of objects")
	}
	cases := make([]Case, 0, len(tests))
	for ti, t := range tests {
		c, err := l.testCase(fmt.Sprintf("%s.tests[%d]", where, ti), g, t, decode)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// testCase reads one test: its common fields (tcId, comment, flags,
// result), the policies of an acceptable result, and the schema's input.
func (l *loader) testCase(where string, g, t map[string]json.RawMessage, decode decodeFunc) (Case, error) {
	c := Case{File: l.name}
	if err := json.Unmarshal(t["tcId"], &c.TcID); err != nil || c.TcID < 1 {
		return c, l.bad(0, where+".tcId", "missing or not a positive integer")
	}
	if l.seen[c.TcID] {
		return c, l.bad(c.TcID, "tcId", "duplicate tcId")
	}
	l.seen[c.TcID] = true
	if raw, ok := t["comment"]; ok {
		if err := json.Unmarshal(raw, &c.Comment); err != nil {
			return c, l.bad(c.TcID, "comment", "not a string")
		}
	}
	if raw, ok := t["flags"]; ok {
		if err := json.Unmarshal(raw, &c.Flags); err != nil {
			return c, l.bad(c.TcID, "flags", "not a list of strings")
		}
	}
	var res string
	if err := json.Unmarshal(t["result"], &res); err != nil {
		return c, l.bad(c.TcID, "result", "missing (want valid, invalid or acceptable)")
	}
	c.Result = Result(res)
	if c.Result != Valid && c.Result != Invalid && c.Result != Acceptable {
		return c, l.bad(c.TcID, "result", "%q is not valid, invalid or acceptable", res)
	}
	if err := l.flagPolicies(&c); err != nil {
		return c, err
	}
	in, err := decode(&reader{group: g, test: t})
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return c, l.bad(c.TcID, fe.field, "%s", fe.reason)
		}
		return c, l.bad(c.TcID, "", "%v", err)
	}
	c.Input = in
	return c, nil
}

// flagPolicies checks that every flag of c has a note and, when c is
// acceptable, a policy that decides it; the policies are kept on c.
func (l *loader) flagPolicies(c *Case) error {
	for _, f := range c.Flags {
		if _, ok := l.rf.Notes[f]; !ok {
			return l.bad(c.TcID, "flags", "flag %q has no entry in notes", f)
		}
	}
	if c.Result != Acceptable {
		return nil
	}
	if len(c.Flags) == 0 {
		return l.bad(c.TcID, "flags", "an acceptable test needs a flag with a policy")
	}
	for _, f := range c.Flags {
		p := policyFor(*l.rf.Schema, f, l.rf.Notes[f])
		if p == nil {
			return l.bad(c.TcID, "flags", "acceptable flag %q has no policy (add notes.%s.policy)", f, f)
		}
		if err := p.check(); err != nil {
			return l.bad(c.TcID, "notes."+f+".policy", "%v", err)
		}
		c.policies = append(c.policies, *p)
	}
	return nil
}

func (p *Policy) check() error {
	ok := func(r Result) bool { return r == Valid || r == Invalid || r == Either }
	if !ok(p.Default) {
		return fmt.Errorf("default must be valid, invalid or either, got %q", p.Default)
	}
	if p.Strict != "" && !ok(p.Strict) {
		return fmt.Errorf("strict must be valid, invalid or either, got %q", p.Strict)
	}
	if p.Reason == "" {
		return errors.New("reason is empty")
	}
	return nil
}

func knownSchemas() string {
	var names []string
	for n := range schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// jsonErr turns a decoding error into one line with a line number.
func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		return fmt.Sprintf("%s has the wrong type (want %s) near line %d", te.Field, te.Type, lineOf(data, off))
	}
	if off >= 0 {
		return fmt.Sprintf("%v (line %d)", err, lineOf(data, off))
	}
	return err.Error()
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
