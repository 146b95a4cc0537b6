package vectors

import (
	"slices"

	"github.com/claudemesh/meshctl/meshfmt"
)

// MentionCase: the tokens of Body must be Tokens (in order) and the
// recipients among Members, Sender excluded, must be Recipients (ids, in
// order).
type MentionCase struct {
	Body, Sender string
	Members      []struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	}
	Tokens, Recipients []string
}

func (in MentionCase) Accept(Options) (bool, string) {
	tokens := meshfmt.MentionTokens(in.Body)
	if !slices.Equal(tokens, in.Tokens) && !(len(tokens) == 0 && len(in.Tokens) == 0) {
		return false, "tokens differ"
	}
	cands := make([]meshfmt.MentionCandidate, len(in.Members))
	for i, m := range in.Members {
		cands[i] = meshfmt.MentionCandidate{ID: m.ID, DisplayName: m.DisplayName}
	}
	var ids []string
	for _, r := range meshfmt.MentionRecipients(tokens, in.Sender, cands) {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, in.Recipients) && !(len(ids) == 0 && len(in.Recipients) == 0) {
		return false, "recipients differ"
	}
	return true, ""
}
