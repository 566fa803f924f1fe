// Package termsafe renders strings that come from a crash dump (a panic
// message, a task's comm, console and module names, pstore text) so that
// printing them cannot drive the terminal: a kernel string may hold escape
// sequences (ESC [ ... to move the cursor, ESC ] ... to set the title or
// write the clipboard), other control bytes, bytes that are not UTF-8, or
// Unicode controls that reorder what is shown (bidi overrides).
package termsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// String returns s with every byte or character a terminal would act on
// shown escaped, Go-style: C0 controls (newline and tab included) and DEL
// as \n, \t, \x1b ...; C1 controls and Unicode format characters that
// reorder or hide text (bidi embeddings, overrides and isolates, zero-width
// joiners, the BOM) as \u009b, \u202e ...; bytes that are not UTF-8 as
// \xff. Printable text, including non-ASCII letters, is kept, and a string
// with nothing to escape is returned as is.
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			switch r {
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			case '\r':
				b.WriteString(`\r`)
			default:
				fmt.Fprintf(&b, `\x%02x`, r)
			}
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstUnsafe is the index of the first byte String would escape, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafeRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// unsafeRune: C1 controls (U+0080..U+009F: U+009B is CSI to terminals that
// take 8-bit controls) and the format characters that reorder or hide text
// (U+200B..U+200F, U+202A..U+202E, U+2060..U+2069, U+FEFF).
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x200b && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2060 && r <= 0x2069, r == 0xfeff:
		return true
	}
	return false
}
