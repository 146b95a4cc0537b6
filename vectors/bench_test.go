package vectors

import (
	"context"
	"testing"
)

// BenchmarkVerifyDefaultSuites: load and run every embedded suite, as
// `meshctl vectors verify` does (issue budget: under 3 s).
func BenchmarkVerifyDefaultSuites(b *testing.B) {
	for _, strict := range []bool{false, true} {
		name := "default"
		if strict {
			name = "strict"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				suites, err := Embedded()
				if err != nil {
					b.Fatal(err)
				}
				rep, err := Run(context.Background(), suites, Options{Strict: strict})
				if err != nil || !rep.OK() {
					b.Fatalf("run: %v, %d failed", err, rep.Failed)
				}
				b.ReportMetric(float64(rep.Vectors), "vectors/op")
			}
		})
	}
}
