package tierup

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// TextProblem says why s cannot be kept as one line of a person's free text
// (a name, an email address), or "" when it can. Such text is shown back in
// the dashboard, emails, receipts and support tools, so it may not carry:
//   - bytes that are not UTF-8;
//   - control characters (NUL, escape sequences, line breaks), which end
//     or corrupt lines of logs, tables and PDFs;
//   - Unicode's bidirectional embeddings, overrides and isolates
//     (U+202A–U+202E, U+2066–U+2069), which reorder what follows them so
//     that shown text differs from stored text ("Trojan Source");
//   - line and paragraph separators (U+2028, U+2029).
//
// Letters of every script, marks and ordinary punctuation are accepted.
func TextProblem(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return "is not valid UTF-8 text"
		case unicode.IsControl(r):
			return fmt.Sprintf("cannot contain control characters such as U+%04X", r)
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return fmt.Sprintf("cannot contain the invisible text-direction character U+%04X", r)
		case r == 0x2028 || r == 0x2029:
			return "must be a single line"
		}
	}
	return ""
}

// validRuneAt tells a U+FFFD written in s from one that stands for a byte
// that is not UTF-8.
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}
