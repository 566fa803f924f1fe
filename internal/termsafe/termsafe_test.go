package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Kernel panic - not syncing: Fatal exception", "Kernel panic - not syncing: Fatal exception"},
		{"résumé — 日本語 ✓", "résumé — 日本語 ✓"},
		{"\x1b[2J\x1b[Hpwned", `\x1b[2J\x1b[Hpwned`},
		{"title\x1b]0;evil\x07", `title\x1b]0;evil\x07`},
		{"clip\x1b]52;c;ZXZpbA==\x1b\\", `clip\x1b]52;c;ZXZpbA==\x1b\`},
		{"a\nb\tc\rd", `a\nb\tc\rd`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{"bidi\u202eevil\u2066x\u2069", `bidi\u202eevil\u2066x\u2069`},
		{"zw\u200bj\ufeff", `zw\u200bj\ufeff`},
		{`back\slash`, `back\slash`},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzString: the result is valid UTF-8 with no control byte, no C1 or
// bidi control, and unchanged when nothing needed escaping.
func FuzzString(f *testing.F) {
	f.Add("\x1b[31mred\x1b[0m")
	f.Add("comm\x00\xff\u202e")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || unsafeRune(r) {
				t.Fatalf("String(%q) = %q holds %U", s, out, r)
			}
		}
		if firstUnsafe(s) < 0 && out != s {
			t.Fatalf("String(%q) changed a safe string to %q", s, out)
		}
		if !strings.Contains(out, "\\") && out != s {
			t.Fatalf("String(%q) = %q changed without escaping", s, out)
		}
	})
}
