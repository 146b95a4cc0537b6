package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/claudemesh/meshctl/internal/pgtest"
)

// Differential testing against JavaScript itself: generated documents go
// through a jsonb round trip in real PostgreSQL (so the input is what the
// verifier reads), then through Canonical and through node running
// testdata/js_canonical.js (JSON.parse, recursive Object.keys().sort(),
// JSON.stringify: what the upstream broker hashes). Any difference fails.
//
// The seed corpus runs in every test run. A longer run:
//
//	MESHCTL_AUDIT_JSDIFF_DOCS=1000000 go test ./audit -run TestCanonicalMatchesNode -timeout 60m -v

const jsdiffSeedDocs = 4000

// nodeOracle is a running node process answering one line per line.
type nodeOracle struct {
	cmd *osexec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startNodeOracle(t testing.TB) *nodeOracle {
	t.Helper()
	node, err := osexec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true: it is the JavaScript oracle for the canonical form")
		}
		t.Skip("node not installed: cannot compare the canonical form with JavaScript")
	}
	cmd := osexec.Command(node, "testdata/js_canonical.js")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o := &nodeOracle{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	t.Cleanup(func() {
		o.in.Close()
		_ = o.cmd.Wait()
	})
	return o
}

// canon returns node's answer for each document ("!..." for a parse error).
func (o *nodeOracle) canon(docs []string) ([]string, error) {
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(o.in, 1<<20)
		for _, d := range docs {
			if strings.ContainsAny(d, "\n") {
				werr <- fmt.Errorf("document holds a newline: %q", d)
				return
			}
			w.WriteString(d)
			w.WriteByte('\n')
		}
		werr <- w.Flush()
	}()
	res := make([]string, len(docs))
	for i := range docs {
		line, err := o.out.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading node's answer %d: %w", i, err)
		}
		res[i] = line[:len(line)-1]
	}
	return res, <-werr
}

// jsonbRoundTrip returns each document as jsonb gives it back (jsonb::text,
// the text the binary COPY of a jsonb column carries), or ok=false where
// PostgreSQL refuses it.
func jsonbRoundTrip(ctx context.Context, conn *pgx.Conn, docs []string) ([]string, []bool, error) {
	rows, err := conn.Query(ctx, `SELECT jsdiff_rt(d) FROM unnest($1::text[]) WITH ORDINALITY AS u(d, n) ORDER BY n`, docs)
	if err != nil {
		return nil, nil, err
	}
	out := make([]string, 0, len(docs))
	ok := make([]bool, 0, len(docs))
	for rows.Next() {
		var s *string
		if err := rows.Scan(&s); err != nil {
			return nil, nil, err
		}
		if s == nil {
			out, ok = append(out, ""), append(ok, false)
		} else {
			out, ok = append(out, *s), append(ok, true)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(out) != len(docs) {
		return nil, nil, fmt.Errorf("round trip gave %d documents for %d", len(out), len(docs))
	}
	return out, ok, nil
}

func TestCanonicalMatchesNode(t *testing.T) {
	n := jsdiffSeedDocs
	if v := os.Getenv("MESHCTL_AUDIT_JSDIFF_DOCS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("MESHCTL_AUDIT_JSDIFF_DOCS=%q: want a positive count", v)
		}
	}
	seed := uint64(20260415)
	if v := os.Getenv("MESHCTL_AUDIT_JSDIFF_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MESHCTL_AUDIT_JSDIFF_SEED=%q: %v", v, err)
		}
		seed = s
	}
	oracle := startNodeOracle(t)
	db := pgtest.NewEmptyDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION jsdiff_rt(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN t::jsonb::text;
EXCEPTION WHEN others THEN
	RETURN NULL;
END $$`); err != nil {
		t.Fatal(err)
	}

	g := newDocGen(seed)
	var c Canonicalizer
	var stats struct{ docs, stored, refused, compared, astralPairs, diffs int }
	start := time.Now()
	const batch = 2000
	for done := 0; done < n; {
		m := min(batch, n-done)
		docs := make([]string, m)
		for i := range docs {
			if done == 0 && i < len(jsdiffFixed) {
				docs[i] = jsdiffFixed[i]
			} else {
				docs[i] = g.doc()
			}
		}
		back, ok, err := jsonbRoundTrip(ctx, conn, docs)
		if err != nil {
			t.Fatal(err)
		}
		// Node answers for the stored form and, where jsonb refuses a
		// document, for the document itself (Canonical must agree with
		// JavaScript on any input, even one that never reaches a row).
		ask := make([]string, m)
		for i := range docs {
			if ok[i] {
				ask[i] = back[i]
				stats.stored++
			} else {
				ask[i] = docs[i]
				stats.refused++
			}
		}
		want, err := oracle.canon(ask)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range ask {
			got, err := c.Append(nil, []byte(in))
			w := want[i]
			switch {
			case strings.HasPrefix(w, "!") && err != nil:
				continue // both refuse it
			case strings.HasPrefix(w, "!"):
				t.Errorf("node refuses %q (%s); Canonical gives %q", in, w[1:], got)
			case err != nil:
				t.Errorf("Canonical(%q): %v; node gives %q", in, err, w)
			case string(got) != w:
				t.Errorf("Canonical(%q)\n got %q\nwant %q (node)", in, got, w)
			default:
				stats.compared++
				if sameLeadKeys(in) {
					stats.astralPairs++
				}
				continue
			}
			stats.diffs++
			if stats.diffs >= 20 {
				t.Fatalf("stopping after %d differences", stats.diffs)
			}
		}
		done += m
		stats.docs = done
	}
	t.Logf("%d documents (seed %d) in %s: %d stored by jsonb, %d refused; %d compared equal with node (%d with two keys sharing a lead surrogate), %d differences",
		stats.docs, seed, time.Since(start).Round(time.Second), stats.stored, stats.refused, stats.compared, stats.astralPairs, stats.diffs)
	if stats.stored < n/2 || stats.astralPairs < n/20 {
		t.Fatalf("the generator is not exercising the stored form or the astral keys: %+v", stats)
	}
}

// sameLeadKeys reports whether a document holds two distinct astral
// characters with the same lead surrogate (a rough measure of coverage).
func sameLeadKeys(doc string) bool {
	seen := map[rune]rune{}
	for _, r := range doc {
		if r < 0x10000 {
			continue
		}
		lead := (r - 0x10000) >> 10
		if prev, ok := seen[lead]; ok && prev != r {
			return true
		}
		seen[lead] = r
	}
	return false
}

// jsdiffFixed are documents every run starts with.
var jsdiffFixed = []string{
	`{"😂":1,"😃":2,"note":3}`, `{"😃":1,"😀":2}`, `{"𝒵":1,"𝒜":2}`,
	`{"\ud83d\ude03":1,"\uD83D\uDE02":2,"\ue000":3,"\uffff":4,"a":5}`,
	`{"a":{"😃":[{"😂":1,"😃":2}],"😂":0}}`,
	`{"\ud83d":1}`, `{"\u0000":1}`, `"\udc00"`,
	`[1e21,999999999999999999999,1e-7,1e-6,0.000001,5e-324,1.7976931348623157e308,1e309,-0,9007199254740993]`,
}

// docGen generates JSON texts aimed at the places canonicalisers differ.
type docGen struct {
	r      *rand.Rand
	buf    strings.Builder
	refuse bool // this document may hold what jsonb refuses (\u0000, lone surrogates)
}

func newDocGen(seed uint64) *docGen {
	return &docGen{r: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))}
}

func (g *docGen) doc() string {
	g.buf.Reset()
	g.refuse = g.r.IntN(10) == 0
	switch g.r.IntN(20) {
	case 0:
		g.deep(50 + g.r.IntN(800))
	case 1:
		g.value(0)
	default:
		g.object(0)
	}
	return g.buf.String()
}

// Characters at the edges of the UTF-16 and UTF-8 orders.
var (
	sameLead = []rune{0x1F600, 0x1F602, 0x1F603, 0x1F4A9, 0x1F7FF, 0x1F400}   // lead D83D
	mathLead = []rune{0x1D49C, 0x1D4B5, 0x1D400, 0x1D7FF}                     // lead D835
	astral   = []rune{0x10000, 0x103FF, 0x10400, 0x10FFFF, 0x10FC00, 0x20000} // first/last trail, leads
	bmpHigh  = []rune{0xE000, 0xF8FF, 0xFB33, 0xFFFD, 0xFFFF, 0xFEFF, 0xD7FF} // sort after astral in UTF-16
	bmpLow   = []rune{0x80, 0xE9, 0x7FF, 0x800, 0x20AC, 0x2028, 0x2029, 0xFF}
	ascii    = []rune{'a', 'b', 'z', 'A', '0', ' ', '~', 0x7F, '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', 0x1F, 0x01}
	lone     = []rune{0xD83D, 0xDE02, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xD835}
)

func (g *docGen) pick(rs []rune) rune { return rs[g.r.IntN(len(rs))] }

func (g *docGen) char() rune {
	switch n := g.r.IntN(100); {
	case n < 30:
		return g.pick(sameLead)
	case n < 40:
		return g.pick(mathLead)
	case n < 48:
		return g.pick(astral)
	case n < 52:
		return 0x10000 + g.r.Int32N(0x100000)
	case n < 62:
		return g.pick(bmpHigh)
	case n < 70:
		return g.pick(bmpLow)
	case n < 72:
		return 0x80 + g.r.Int32N(0xD800-0x80)
	case n < 74 && g.refuse:
		return g.pick(lone)
	case n < 76 && g.refuse:
		return 0 // \u0000: jsonb refuses it
	default:
		return g.pick(ascii)
	}
}

// writeChar writes r raw or as an escape, as a JSON writer might.
func (g *docGen) writeChar(r rune) {
	b := &g.buf
	switch {
	case r >= 0xD800 && r <= 0xDFFF: // a lone surrogate: only as an escape
		fmt.Fprintf(b, `\u%04x`, r)
		return
	case r == '"' || r == '\\':
		b.WriteByte('\\')
		b.WriteRune(r)
		return
	case r < 0x20:
		if g.r.IntN(2) == 0 {
			switch r {
			case '\n':
				b.WriteString(`\n`)
				return
			case '\t':
				b.WriteString(`\t`)
				return
			}
		}
		fmt.Fprintf(b, `\u%04X`, r)
		return
	case r == '/' && g.r.IntN(2) == 0:
		b.WriteString(`\/`)
		return
	}
	if g.r.IntN(4) == 0 {
		if r >= 0x10000 {
			hi, lo := 0xD800+(r-0x10000)>>10, 0xDC00+(r-0x10000)&0x3FF
			if g.r.IntN(2) == 0 {
				fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
			} else {
				fmt.Fprintf(b, `\u%04X\u%04X`, hi, lo)
			}
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
		return
	}
	b.WriteRune(r)
}

var keyPrefixes = []string{"", "", "", "a", "note", "x", "targetSpec", "é", "😂", "\uE000"}

// key writes a key; keys in one object share prefixes so that they first
// differ at an interesting character.
func (g *docGen) key() {
	g.buf.WriteByte('"')
	p := keyPrefixes[g.r.IntN(len(keyPrefixes))]
	for _, r := range p {
		g.writeChar(r)
	}
	for i, n := 0, g.r.IntN(3); i < n; i++ {
		g.writeChar(g.char())
	}
	g.buf.WriteByte('"')
}

func (g *docGen) str() {
	g.buf.WriteByte('"')
	for i, n := 0, g.r.IntN(6); i < n; i++ {
		g.writeChar(g.char())
	}
	g.buf.WriteByte('"')
}

func (g *docGen) space() {
	if g.r.IntN(8) == 0 {
		g.buf.WriteString([]string{" ", "\t", "  ", " \t"}[g.r.IntN(4)])
	}
}

func (g *docGen) object(depth int) {
	g.buf.WriteByte('{')
	n := g.r.IntN(7)
	if depth == 0 {
		n += 2
	}
	var keys []string
	for i := 0; i < n; i++ {
		if i > 0 {
			g.buf.WriteByte(',')
		}
		g.space()
		at := g.buf.Len()
		if len(keys) > 0 && g.r.IntN(10) == 0 {
			g.buf.WriteString(keys[g.r.IntN(len(keys))]) // a repeated key: the last one wins
		} else {
			g.key()
			keys = append(keys, g.buf.String()[at:])
		}
		g.space()
		g.buf.WriteByte(':')
		g.space()
		g.value(depth + 1)
	}
	g.space()
	g.buf.WriteByte('}')
}

func (g *docGen) array(depth int) {
	g.buf.WriteByte('[')
	for i, n := 0, g.r.IntN(5); i < n; i++ {
		if i > 0 {
			g.buf.WriteByte(',')
		}
		g.space()
		g.value(depth + 1)
	}
	g.buf.WriteByte(']')
}

func (g *docGen) value(depth int) {
	n := g.r.IntN(10)
	if depth > 5 {
		n = 4 + g.r.IntN(6)
	}
	switch n {
	case 0, 1:
		g.object(depth)
	case 2, 3:
		g.array(depth)
	case 4, 5:
		g.str()
	case 6, 7, 8:
		g.number()
	default:
		g.buf.WriteString([]string{"true", "false", "null"}[g.r.IntN(3)])
	}
}

// deep writes a chain of nested arrays and objects.
func (g *docGen) deep(levels int) {
	for i := 0; i < levels; i++ {
		if g.r.IntN(2) == 0 {
			g.buf.WriteByte('[')
		} else {
			g.buf.WriteString(`{"`)
			g.writeChar(g.char())
			g.buf.WriteString(`":`)
		}
	}
	g.number()
	s := g.buf.String()
	for i := len(s) - 1; i >= 0; i-- {
		// Close in reverse order of opening.
		switch s[i] {
		case '[':
			g.buf.WriteByte(']')
		case '{':
			g.buf.WriteByte('}')
		}
	}
}

// Numbers at ECMAScript Number::toString's formatting boundaries.
var boundaryNumbers = []string{
	"0", "-0", "-0.0", "0e5", "0.0e-5", "1e21", "1E+21", "1e+21", "999999999999999999999", "999999999999999934463",
	"999999999999999934464", "100000000000000000000", "1e20", "1e-7", "1e-6", "0.000001", "0.0000001",
	"0.0000009999999999999999", "0.00000099999999999999999999", "5e-324", "2.4703282292062327e-324",
	"2.4703282292062328e-324", "1e-400", "1.7976931348623157e308", "1.7976931348623158e308",
	"1.7976931348623159e308", "1e309", "-1e309", "9007199254740991", "9007199254740992", "9007199254740993",
	"-9007199254740993", "123456789012345678", "18446744073709551616", "0.1", "0.30000000000000004",
	"1.0", "100e-2", "12e-1", "4.50", "2e-3", "1e2", "123456789012345", "1234567890123456", "1e400",
	"0.1e1", "1.5e300", "4.9406564584124654e-324", "2.2250738585072014e-308", "2.2250738585072011e-308",
	"1e1000", "-1e-1000",
}

func (g *docGen) number() {
	b := &g.buf
	switch g.r.IntN(6) {
	case 0:
		b.WriteString(boundaryNumbers[g.r.IntN(len(boundaryNumbers))])
	case 1: // a random double, in any of Go's spellings
		var f float64
		for {
			f = math.Float64frombits(g.r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				break
			}
		}
		b.WriteString(g.spell(f))
	case 2: // near a power of ten: where exponent form starts and ends
		e := -9 + g.r.IntN(32)
		f := math.Pow10(e) * (1 + (g.r.Float64()-0.5)*1e-15*float64(g.r.IntN(3)))
		if g.r.IntN(2) == 0 {
			f = -f
		}
		b.WriteString(g.spell(f))
	case 3: // long integers
		if g.r.IntN(3) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(byte('1' + g.r.IntN(9)))
		for i, n := 0, g.r.IntN(25); i < n; i++ {
			b.WriteByte(byte('0' + g.r.IntN(10)))
		}
	case 4: // many digits, a decimal point and an exponent
		b.WriteByte(byte('0' + g.r.IntN(10)))
		b.WriteByte('.')
		for i, n := 0, 1+g.r.IntN(30); i < n; i++ {
			b.WriteByte(byte('0' + g.r.IntN(10)))
		}
		fmt.Fprintf(b, "%s%d", []string{"e", "E", "e+", "e-", "E-"}[g.r.IntN(5)], g.r.IntN(330))
	default:
		fmt.Fprintf(b, "%d", g.r.IntN(2000)-1000)
	}
}

func (g *docGen) spell(f float64) string {
	switch g.r.IntN(4) {
	case 0:
		return strconv.FormatFloat(f, 'e', -1, 64)
	case 1:
		return strconv.FormatFloat(f, 'g', 17+g.r.IntN(4), 64)
	case 2:
		return strings.ToUpper(strconv.FormatFloat(f, 'e', g.r.IntN(20), 64))
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if len(s) > 400 {
		s = strconv.FormatFloat(f, 'e', -1, 64)
	}
	return s
}
