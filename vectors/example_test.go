package vectors_test

import (
	"context"
	"fmt"
	"log"

	"github.com/claudemesh/meshctl/vectors"
)

// Run decides every embedded vector with meshctl's implementations; a
// reviewer's tool checks Failed (wrong verdicts) and each suite's result.
func ExampleRun() {
	suites, err := vectors.Embedded()
	if err != nil {
		log.Fatal(err)
	}
	rep, err := vectors.Run(context.Background(), suites, vectors.Options{Strict: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrong verdicts:", rep.Failed)
	fmt.Println("every vector ran or was left to --long:", rep.Passed+rep.Skipped == rep.Vectors)
	// Output:
	// wrong verdicts: 0
	// every vector ran or was left to --long: true
}
