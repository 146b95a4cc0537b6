package meshfmt

import (
	"strconv"
	"strings"
)

// jsString quotes s exactly as JavaScript's JSON.stringify does: only '"',
// '\\' and U+0000..U+001F are escaped (\b \f \n \r \t, others \u00xx);
// '<', '>', '&', U+2028/2029 and non-ASCII stay raw. encoding/json differs
// on the HTML characters and U+2028/2029, which would change signed bytes.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				h := strconv.FormatInt(int64(r), 16)
				if len(h) < 2 {
					b.WriteByte('0')
				}
				b.WriteString(h)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
