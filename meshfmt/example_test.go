package meshfmt_test

import (
	"fmt"

	"github.com/claudemesh/meshctl/meshfmt"
)

func ExampleMentionTokens() {
	fmt.Println(meshfmt.MentionTokens("hi @Bob and @alice (cc @BOB); mail ops@example.com"))
	// Output: [bob alice]
}

func ExampleMentionRecipients() {
	members := []meshfmt.MentionCandidate{{ID: "m1", DisplayName: "Bob"}, {ID: "m2", DisplayName: "alice"}, {ID: "m3", DisplayName: "a.b"}}
	tokens := meshfmt.MentionTokens("@bob @alice @ab")
	for _, r := range meshfmt.MentionRecipients(tokens, "m2", members) { // m2 sent the message
		fmt.Println(r.ID, r.DisplayName)
	}
	// Output: m1 Bob
}
