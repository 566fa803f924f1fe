package views

import (
	"fmt"
	"strings"
)

// Tabs is the top bar: the program name, the page tabs (names, in tab
// order; page i is chosen with key i+1) with the active one in brackets,
// and the dump's name on the right when it fits.
func Tabs(names []string, active, w int, dump string, st Styles) string {
	var b strings.Builder
	b.WriteString(st.App.Render("panicscope"))
	b.WriteString(" ")
	for i, n := range names {
		label := fmt.Sprintf("%d %s", i+1, n)
		if i == active {
			b.WriteString(st.TabActive.Render("[" + label + "]"))
		} else {
			b.WriteString(st.Tab.Render(" " + label + " "))
		}
	}
	bar := b.String()
	if dump != "" {
		if room := w - cellWidth(bar) - 2; room >= 12 {
			name := st.truncate(dump, room)
			bar += strings.Repeat(" ", w-cellWidth(bar)-cellWidth(name)) + st.Dim.Render(name)
		}
	}
	return st.truncate(bar, w)
}
