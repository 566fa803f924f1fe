package views

import (
	"charm.land/lipgloss/v2"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
)

// Glyphs are the characters the pages draw with. ASCIIGlyphs are for dumb and
// serial terminals that cannot show Unicode marks or box characters.
type Glyphs struct {
	ASCII bool // data text is transliterated to ASCII too (see ToASCII)

	Ran, Running, Skipped, NotReached, Unknown string // step and member marks

	Cursor   string // the selected row
	Rule     string // one cell of a horizontal rule
	Ellipsis string // tail of a truncated line
	Sep      string // between items on one line
	Spinner  []string
}

// UnicodeGlyphs draw with Unicode marks.
func UnicodeGlyphs() Glyphs {
	return Glyphs{
		Ran: "✓", Running: "▶", Skipped: "–", NotReached: "·", Unknown: "?",
		Cursor: "›", Rule: "─", Ellipsis: "…", Sep: " · ",
		Spinner: []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"},
	}
}

// ASCIIGlyphs draw with 7-bit characters only.
func ASCIIGlyphs() Glyphs {
	return Glyphs{
		ASCII: true,
		Ran:   "+", Running: ">", Skipped: "-", NotReached: ".", Unknown: "?",
		Cursor: ">", Rule: "-", Ellipsis: "~", Sep: " - ",
		Spinner: []string{"|", "/", "-", "\\"},
	}
}

// Styles are every style the pages and the TUI use, by meaning. There are no
// package-level styles: build one with DefaultStyles or PlainStyles and pass
// it down.
type Styles struct {
	Glyphs Glyphs

	App       lipgloss.Style // program name in the tab bar
	Tab       lipgloss.Style // an inactive page tab
	TabActive lipgloss.Style // the page shown

	Heading lipgloss.Style // section heading on a page
	Label   lipgloss.Style // the key tableColumn of key/value rows
	Value   lipgloss.Style
	Dim     lipgloss.Style // secondary text: sources, notes, addresses
	Verdict lipgloss.Style // the one-line summary on the Overview
	Cursor  lipgloss.Style // the selected row

	Ran, Running, Skipped, NotReached, Unknown lipgloss.Style // by timeline status

	Error   lipgloss.Style
	Warning lipgloss.Style

	Timestamp lipgloss.Style    // "[    1.234567]" in the log
	Level     [8]lipgloss.Style // log text by level, KERN_EMERG (0) .. KERN_DEBUG (7)
	Match     lipgloss.Style    // a search hit in the log
	Marked    lipgloss.Style    // the log line jumped to or the current hit

	Status   lipgloss.Style // the status line
	HelpKey  lipgloss.Style
	HelpDesc lipgloss.Style
	HelpSep  lipgloss.Style
}

// DefaultStyles uses the 16 ANSI colours, so the terminal's own palette
// decides how they look on a dark or light background.
func DefaultStyles(g Glyphs) Styles {
	fg := func(c string) lipgloss.Style { return lipgloss.NewStyle().Foreground(lipgloss.Color(c)) }
	s := Styles{
		Glyphs:    g,
		App:       fg("6").Bold(true),
		Tab:       fg("8"),
		TabActive: lipgloss.NewStyle().Bold(true),

		Heading: fg("6").Bold(true),
		Label:   lipgloss.NewStyle().Bold(true),
		Value:   lipgloss.NewStyle(),
		Dim:     fg("8"),
		Verdict: fg("3").Bold(true),
		Cursor:  lipgloss.NewStyle().Reverse(true),

		Ran:        fg("2"),
		Running:    fg("3").Bold(true),
		Skipped:    fg("8"),
		NotReached: fg("5"),
		Unknown:    fg("4"),

		Error:   fg("1").Bold(true),
		Warning: fg("3"),

		Timestamp: fg("2"),
		Match:     lipgloss.NewStyle().Background(lipgloss.Color("3")).Foreground(lipgloss.Color("0")),
		Marked:    lipgloss.NewStyle().Bold(true).Underline(true),

		Status:   fg("8"),
		HelpKey:  fg("8").Bold(true),
		HelpDesc: fg("8"),
		HelpSep:  fg("8"),
	}
	s.Level = [8]lipgloss.Style{
		fg("1").Bold(true), fg("1").Bold(true), fg("1").Bold(true), // emerg, alert, crit
		fg("1"),                        // err
		fg("3"),                        // warning
		lipgloss.NewStyle().Bold(true), // notice
		lipgloss.NewStyle(),            // info
		fg("8"),                        // debug
	}
	return s
}

// PlainStyles use no colour at all (NO_COLOR): only bold, underline and
// reverse video, which every terminal that can run the TUI shows.
func PlainStyles(g Glyphs) Styles {
	n := lipgloss.NewStyle
	bold := n().Bold(true)
	s := Styles{
		Glyphs: g, App: bold, Tab: n(), TabActive: bold,
		Heading: bold, Label: bold, Value: n(), Dim: n(), Verdict: bold, Cursor: n().Reverse(true),
		Ran: n(), Running: bold, Skipped: n(), NotReached: n(), Unknown: n(),
		Error: bold, Warning: n(),
		Timestamp: n(), Match: n().Reverse(true), Marked: bold.Underline(true),
		Status: n(), HelpKey: bold, HelpDesc: n(), HelpSep: n(),
	}
	for i := range s.Level {
		s.Level[i] = n()
	}
	s.Level[0], s.Level[1], s.Level[2] = bold, bold, bold
	return s
}

// Mark is the glyph for a status.
func (st Styles) Mark(s timeline.Status) string {
	g := st.Glyphs
	switch s {
	case timeline.Ran:
		return g.Ran
	case timeline.Running:
		return g.Running
	case timeline.Skipped:
		return g.Skipped
	case timeline.NotReached:
		return g.NotReached
	}
	return g.Unknown
}

// StatusStyle is the style for a status.
func (st Styles) StatusStyle(s timeline.Status) lipgloss.Style {
	switch s {
	case timeline.Ran:
		return st.Ran
	case timeline.Running:
		return st.Running
	case timeline.Skipped:
		return st.Skipped
	case timeline.NotReached:
		return st.NotReached
	}
	return st.Unknown
}

// StatusWord is a status as the pages write it.
func StatusWord(s timeline.Status) string {
	switch s {
	case timeline.NotReached:
		return "not reached"
	case "":
		return "unknown"
	}
	return string(s)
}
