package vectors

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Report is the outcome of Run: one SuiteResult per file, and one more per
// file for its generated negatives.
type Report struct {
	Suites   []SuiteResult `json:"suites"`
	Vectors  int           `json:"vectors"`
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Strict   bool          `json:"strict"`
	Long     bool          `json:"long"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for JSON.
	DurationMS float64 `json:"duration_ms"`
}

// OK reports whether no vector failed.
func (r Report) OK() bool { return r.Failed == 0 }

// SuiteResult counts one file's vectors (or its generated negatives).
type SuiteResult struct {
	File      string    `json:"file"`
	Algorithm string    `json:"algorithm"`
	Schema    string    `json:"schema"`
	Generated bool      `json:"generated"` // the single-byte flip negatives
	Vectors   int       `json:"vectors"`
	Passed    int       `json:"passed"`
	Failed    int       `json:"failed"`
	Skipped   int       `json:"skipped"`
	Failures  []Failure `json:"failures,omitempty"`
	Skips     []Skip    `json:"skips,omitempty"`
}

// Name is the suite's display name.
func (s SuiteResult) Name() string {
	if s.Generated {
		return s.File + " (flips)"
	}
	return s.File
}

// Failure is one vector whose verdict differs from the expected one.
type Failure struct {
	File      string   `json:"file"`
	TcID      int      `json:"tc_id"`
	Generated string   `json:"generated,omitempty"`
	Comment   string   `json:"comment,omitempty"`
	Flags     []string `json:"flags"`
	Expected  Result   `json:"expected"`
	Got       Result   `json:"got"`
	Detail    string   `json:"detail,omitempty"`
}

// Skip is one vector that was not run, and why.
type Skip struct {
	File   string `json:"file"`
	TcID   int    `json:"tc_id"`
	Reason string `json:"reason"`
	// Long: a long vector, skipped because Options.Long is off.
	Long bool `json:"long"`
}

// Expand returns the suite's generated negatives: for every valid case
// whose input has an authenticated part, one case per flipped byte, each
// required to be invalid. Files that carry their flips (a ByteFlip note:
// the generated mesh_*.json) get none here. (Acceptable cases get none: a flip of a
// small-order R can legitimately still verify under some rules.)
func Expand(s *Suite) []Case {
	if _, ok := s.Notes[byteFlipFlag]; ok {
		return nil // the file carries its flips as tests
	}
	var out []Case
	for _, c := range s.Cases {
		f, ok := c.Input.(flipper)
		if !ok || c.Result != Valid {
			continue
		}
		for _, fl := range f.flips() {
			out = append(out, Case{File: c.File, TcID: c.TcID, Comment: c.Comment, Flags: c.Flags,
				Result: Invalid, Generated: fl.label, Input: fl.input})
		}
	}
	return out
}

// Run checks every case of every suite, and the generated negatives, with
// meshctl's Go implementation, suites in parallel (GOMAXPROCS workers);
// the report lists them in the order given. It stops early only when ctx is
// done.
func Run(ctx context.Context, suites []*Suite, o Options) (Report, error) {
	start := time.Now()
	rep := Report{Strict: o.Strict, Long: o.Long}
	per := make([][]SuiteResult, len(suites))
	errs := make([]error, len(suites))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				per[i], errs[i] = runSuite(ctx, suites[i], o)
			}
		}()
	}
	for i := range suites {
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range suites {
		if errs[i] != nil {
			return rep, errs[i]
		}
		for _, sr := range per[i] {
			rep.Suites = append(rep.Suites, sr)
			rep.Vectors += sr.Vectors
			rep.Passed += sr.Passed
			rep.Failed += sr.Failed
			rep.Skipped += sr.Skipped
		}
	}
	rep.Duration = time.Since(start)
	rep.DurationMS = float64(rep.Duration.Microseconds()) / 1000
	return rep, nil
}

// runSuite checks one suite's cases and then its generated negatives.
func runSuite(ctx context.Context, s *Suite, o Options) ([]SuiteResult, error) {
	var out []SuiteResult
	for _, gen := range []bool{false, true} {
		cases := s.Cases
		if gen {
			cases = Expand(s)
			if len(cases) == 0 {
				continue
			}
		}
		sr := SuiteResult{File: s.File, Algorithm: s.Algorithm, Schema: s.Schema, Generated: gen}
		for _, c := range cases {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sr.Vectors++
			if sl, ok := c.Input.(slowInput); ok && !o.Long {
				if long, why := sl.slow(); long {
					sr.Skipped++
					sr.Skips = append(sr.Skips, Skip{File: c.File, TcID: c.TcID, Reason: why, Long: true})
					continue
				}
			}
			want := c.Want(o.Strict)
			ok, detail := c.Input.Accept(o)
			got := Invalid
			if ok {
				got = Valid
			}
			if got == want || want == Either {
				sr.Passed++
				continue
			}
			sr.Failed++
			sr.Failures = append(sr.Failures, Failure{File: c.File, TcID: c.TcID, Generated: c.Generated,
				Comment: c.Comment, Flags: c.Flags, Expected: want, Got: got, Detail: detail})
		}
		out = append(out, sr)
	}
	return out, nil
}
