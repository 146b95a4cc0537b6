package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

func TestHashV1Pin(t *testing.T) {
	// SPEC §3 pin.
	actor := "actor"
	created := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	got, err := HashV1(Genesis, "mesh1", "peer_joined", &actor, []byte(`{"restored":true,"pubkey":"abc","groups":[]}`), created)
	if err != nil {
		t.Fatal(err)
	}
	if want := "73bad757dad9b1fee95c3eb00f4a72e7a6d188d8c765d9bcdef4625f267a0a6c"; got != want {
		t.Fatalf("HashV1 = %s, want %s", got, want)
	}
	// The same payload as jsonb gives it back (other key order, spaces), and
	// the same instant in another zone, hash the same.
	again, err := HashV1(Genesis, "mesh1", "peer_joined", &actor, []byte(`{"groups": [], "pubkey": "abc", "restored": true}`),
		created.In(time.FixedZone("x", -7*3600)).Add(999*time.Microsecond))
	if err != nil || again != got {
		t.Fatalf("HashV1 of the jsonb form = %s, %v; want %s", again, err, got)
	}
}

func TestHashV1NullActor(t *testing.T) {
	created := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	got, err := HashV1(Genesis, "m", "peer_left", nil, []byte(`{}`), created)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("genesis|m|peer_left|null|{}|2026-04-15T12:00:00.000Z"))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("HashV1 = %s, want %s", got, want)
	}
}

func TestFormatISO(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC), "2026-04-15T12:00:00.000Z"},
		{time.Date(2026, 4, 15, 12, 0, 0, 123999999, time.UTC), "2026-04-15T12:00:00.123Z"},
		{time.Date(2026, 4, 15, 14, 0, 0, 5e6, time.FixedZone("CEST", 2*3600)), "2026-04-15T12:00:00.005Z"},
		{time.Date(1969, 12, 31, 23, 59, 59, 999500000, time.UTC), "1969-12-31T23:59:59.999Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00.000Z"},
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00.000Z"},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "-000001-01-01T00:00:00.000Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "+010000-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		got, err := FormatISO(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("FormatISO(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := FormatISO(time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrTimeRange) {
		t.Errorf("FormatISO(year 300000) error = %v, want ErrTimeRange", err)
	}
}

type goldenCase struct{ In, Out string }

// jsGolden loads testdata/js_golden.json: inputs and what node made of them.
func jsGolden(t testing.TB) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/js_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestJSGolden compares with what node's JSON.parse + sorted JSON.stringify
// produced (testdata/gen_js_golden.js).
func TestJSGolden(t *testing.T) {
	cases := jsGolden(t)
	if len(cases) < 60 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		got, err := Canonical([]byte(c.In))
		if err != nil {
			t.Errorf("Canonical(%s): %v", c.In, err)
			continue
		}
		if string(got) != c.Out {
			t.Errorf("Canonical(%s)\n got %s\nwant %s", c.In, got, c.Out)
		}
	}
}

// TestJCSCorpus runs the cyberphone RFC 8785 test data (vendored, pinned).
func TestJCSCorpus(t *testing.T) {
	pins := map[string]string{
		"LICENSE":                "6821faaddedf2d78c95bb6d98b127e9e616097afd2f6bcc34389f000d13ab12d",
		"input/arrays.json":      "e503b6d71d1afa595b1c74b1016445c944cd89f90418066b23de1aeda7d17563",
		"input/french.json":      "03676a951cd8753ac62589f72eb2105cc782c33425418cfe1d517c111f6e5d5a",
		"input/structures.json":  "d66893805be1784116af50af3110d08766c70a6b4aad93374723f72346e7aaa6",
		"input/unicode.json":     "4621864e014d4a805a563f55b9ea20aba4a2d2dc09c7394f625496998c00702c",
		"input/values.json":      "c4a041b503d6bc236036ef44db4dac499272f60fc22c40dc3b7a54870ba6f1c3",
		"input/weird.json":       "a3a905266bd4a49a969274ea69baa14ee0c4af0ead926d6fa2b7612b4af75387",
		"output/arrays.json":     "099601b171cafed97c333f8878d68e7f8c8f795412adb34b2fdcf0e7c7beac42",
		"output/french.json":     "d99d0ebdcb0033cb858cfa830ae46bc0fb3309413b271f1da828c89901a27ed5",
		"output/structures.json": "605f65004ec2db7692522a0852c22f1c989e036d547e88963d1a3143cf3195d5",
		"output/unicode.json":    "0d99aad92a125196ff887876643fd3206786a84ddce2cee52ba4ad256d2381d3",
		"output/values.json":     "2d5e01a318d0f0879ab568c4be289c8b1f64ef8921a53c6277d5e069978baacb",
		"output/weird.json":      "6af595a9aa80110b964b4de3f82a05fa6ae7423005019bacfa2620dddc4e94d1",
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata/jcs", name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != pins[name] {
			t.Fatalf("testdata/jcs/%s: sha256 %s, want %s (vendored file changed)", name, got, pins[name])
		}
		return b
	}
	read("LICENSE")
	for _, name := range []string{"arrays", "french", "structures", "unicode", "values", "weird"} {
		t.Run(name, func(t *testing.T) {
			in := read("input/" + name + ".json")
			want := read("output/" + name + ".json")
			got, err := Canonical(in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Canonical mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	bad := []string{
		``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`,
		`"abc`, `"\x"`, `"\u12"`, "\"a\x01\"", `tru`, `nul`, `[1] 2`, `NaN`, `Infinity`, "\"\xff\"",
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	}
	for _, in := range bad {
		if got, err := Canonical([]byte(in)); err == nil {
			t.Errorf("Canonical(%q) = %q, want an error", in, got)
		} else if !errors.As(err, new(*SyntaxError)) {
			t.Errorf("Canonical(%q) error %v is not a *SyntaxError", in, err)
		}
	}
}

func TestCanonicalDeep(t *testing.T) {
	in := strings.Repeat(`{"b":[`, 2000) + `{"z":1,"a":2}` + strings.Repeat(`],"a":0}`, 2000)
	want := strings.Repeat(`{"a":0,"b":[`, 2000) + `{"a":2,"z":1}` + strings.Repeat(`]}`, 2000)
	got, err := Canonical([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("deep nesting canonicalised wrongly (len %d, want %d)", len(got), len(want))
	}
}

func TestAppendNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1e21, "1e+21"}, {1e-7, "1e-7"}, {0.1, "0.1"},
		{math.Inf(1), "null"}, {math.NaN(), "null"}, {5e-324, "5e-324"}, {-1.5e-10, "-1.5e-10"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {1 << 53, "9007199254740992"}, {123e18, "123000000000000000000"},
	}
	for _, tt := range tests {
		if got := string(AppendNumber(nil, tt.in)); got != tt.want {
			t.Errorf("AppendNumber(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// jcsReference canonicalises with go-json-experiment's jsontext (RFC 8785),
// the maintained implementation our canonicaliser is checked against. It
// reports ok=false where the two knowingly differ from JavaScript's reading:
// repeated keys (jsontext rejects them; JSON.parse keeps the last) and
// numbers beyond the double range (jsontext clamps; JSON.parse gives
// Infinity, which stringifies as null).
func jcsReference(in []byte) ([]byte, bool) {
	v := jsontext.Value(append([]byte(nil), in...))
	if err := v.Canonicalize(); err != nil {
		return nil, false
	}
	if strings.Contains(string(v), "1.7976931348623157e+308") {
		return nil, false
	}
	return v, true
}

func TestCanonicalMatchesJSONText(t *testing.T) {
	var inputs []string
	for _, name := range []string{"arrays", "french", "structures", "unicode", "values", "weird"} {
		b, err := os.ReadFile("testdata/jcs/input/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	for _, c := range jsGolden(t) {
		inputs = append(inputs, c.In)
	}
	compared := 0
	for _, in := range inputs {
		want, ok := jcsReference([]byte(in))
		if !ok {
			continue
		}
		compared++
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != string(want) {
			t.Errorf("Canonical(%s) = %s, %v; jsontext gives %s", in, got, err, want)
		}
	}
	if compared < 50 {
		t.Fatalf("only %d inputs compared with jsontext", compared)
	}
}

// FuzzCanonical checks that canonical form is a fixed point, never panics,
// and agrees with jsontext wherever JavaScript and RFC 8785 agree.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"restored":true,"pubkey":"abc","groups":[]}`, `[1e21,0.1,-0,1e-7,9007199254740993]`,
		`{"\u20ac":1,"\r":2,"\ud83d\ude02":3,"\ufb33":4}`, `"\ud800\u0000<>&\u2028"`, `{"a":1,"a":2}`,
		`{"b":{"d":[{"f":null,"e":true}],"c":"x"},"a":-1.25e-300}`, `1e400`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Canonicalizer
		out, err := c.Append(nil, in)
		if err != nil {
			return
		}
		again, err := c.Append(nil, out)
		if err != nil {
			t.Fatalf("canonical output %q does not parse: %v", out, err)
		}
		if string(again) != string(out) {
			t.Fatalf("not a fixed point: %q -> %q -> %q", in, out, again)
		}
		if !json.Valid(out) {
			t.Fatalf("canonical output %q is not valid JSON", out)
		}
		if want, ok := jcsReference(in); ok && string(want) != string(out) {
			t.Fatalf("Canonical(%q) = %q; jsontext gives %q", in, out, want)
		}
	})
}
