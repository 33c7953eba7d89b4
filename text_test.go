package tierup_test

import (
	"testing"

	"github.com/tierup/tierup"
)

func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"plain", "Ada Lovelace", true},
		{"accents and other scripts", "Zoë Ødegård 山田太郎 محمد", true},
		{"apostrophe and hyphen", "Jean-Luc O'Brien", true},
		{"empty", "", true},
		{"a written replacement character", "a\uFFFDb", true},
		{"NUL", "a\x00b", false},
		{"tab", "a\tb", false},
		{"newline", "Ada\nLovelace", false},
		{"escape sequence", "\x1b[31mred", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u0085b", false},
		{"right-to-left override", "abc\u202Etxt.exe", false},
		{"left-to-right embedding", "\u202Aabc", false},
		{"first strong isolate", "a\u2068b", false},
		{"pop directional isolate", "a\u2069b", false},
		{"line separator", "a\u2028b", false},
		{"invalid UTF-8", "a\xffb", false},
		{"overlong encoding", "\xc0\xae", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tierup.TextProblem(tc.in)
			if (got == "") != tc.ok {
				t.Errorf("TextProblem(%q) = %q, want ok=%v", tc.in, got, tc.ok)
			}
		})
	}
}
