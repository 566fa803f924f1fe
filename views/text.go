package views

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// width is the number of terminal cells s takes, escape sequences excluded.
func cellWidth(s string) int { return ansi.StringWidth(s) }

// truncate cuts s to at most w cells, ending it with the ellipsis glyph when
// something was cut.
func (st Styles) truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if cellWidth(s) <= w {
		return s
	}
	tail := st.Glyphs.Ellipsis
	if cellWidth(tail) >= w {
		tail = ""
	}
	return ansi.Truncate(s, w, tail)
}

// pad fills s with spaces to exactly w cells (truncating when longer).
func (st Styles) pad(s string, w int) string {
	s = st.truncate(s, w)
	if n := w - cellWidth(s); n > 0 {
		s += strings.Repeat(" ", n)
	}
	return s
}

// wrap breaks plain text into lines of at most w cells, at spaces when it can.
func wrapCells(s string, w int) []string {
	if w < 1 {
		w = 1
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		if para == "" {
			out = append(out, "")
			continue
		}
		// Text from the dump is shown with escape sequences and control
		// bytes escaped (styles are applied after wrapping).
		out = append(out, strings.Split(ansi.Wrap(termsafe.String(para), w, ""), "\n")...)
	}
	return out
}

// pageDoc collects the lines of a page.
type pageDoc struct {
	st    Styles
	w     int
	lines []string
}

func (d *pageDoc) add(lines ...string) { d.lines = append(d.lines, lines...) }

func (d *pageDoc) blank() {
	if n := len(d.lines); n > 0 && d.lines[n-1] != "" {
		d.lines = append(d.lines, "")
	}
}

func (d *pageDoc) heading(s string) {
	d.blank()
	d.add(d.st.Heading.Render(d.st.truncate(s, d.w)))
}

// kv adds a label/value row; the value wraps under itself.
func (d *pageDoc) kv(label string, labelW int, value string, style func(...string) string) {
	ind := strings.Repeat(" ", labelW+1)
	for i, l := range wrapCells(value, max(d.w-labelW-1, 10)) {
		if style != nil {
			l = style(l)
		}
		if i == 0 {
			d.add(d.st.Label.Render(d.st.pad(label, labelW)) + " " + l)
		} else {
			d.add(ind + l)
		}
	}
}

// para adds wrapped text, each line indented by ind spaces.
func (d *pageDoc) para(ind int, text string, style func(...string) string) {
	for _, l := range wrapCells(text, d.w-ind) {
		if style != nil {
			l = style(l)
		}
		d.add(strings.Repeat(" ", ind) + l)
	}
}

// Window shows height lines of lines starting at offset (clamped to the
// range that keeps the page full), each cut to w cells; short pages are
// padded with empty lines so the page is always height lines tall.
func Window(st Styles, lines []string, offset, w, height int) string {
	if height <= 0 {
		return ""
	}
	offset = ClampOffset(offset, len(lines), height)
	end := min(offset+height, len(lines))
	out := make([]string, 0, height)
	for _, l := range lines[offset:end] {
		out = append(out, st.truncate(l, w))
	}
	for len(out) < height {
		out = append(out, "")
	}
	return strings.Join(out, "\n")
}

// ClampOffset keeps a scroll offset between the top and the last offset
// that still fills a page of height lines.
func ClampOffset(offset, n, height int) int {
	return max(0, min(offset, n-height))
}

// asciiFor are width-preserving stand-ins for characters the kernel and the
// analysis text use.
var asciiFor = map[rune]rune{
	'→': '>', '←': '<', '—': '-', '–': '-', '…': '.', '·': '.', '≥': '>', '≤': '<',
	'“': '"', '”': '"', '‘': '\'', '’': '\'', '•': '*', '×': 'x',
}

// ToASCII replaces every non-ASCII character by a one-cell ASCII stand-in
// ('?' when there is none), keeping escape sequences, so a serial console
// shows the same layout.
func ToASCII(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case asciiFor[r] != 0:
			b.WriteRune(asciiFor[r])
		default:
			w := ansi.StringWidth(string(r))
			b.WriteString(strings.Repeat("?", w))
		}
	}
	return b.String()
}
