package tui

import "github.com/panicscope/panicscope/views"

// overviewLines: kernel, panic, capture and the verdict; it fills in as the
// load stages arrive.
func (m Model) overviewLines() []string { return views.OverviewLines(m.data, m.w, m.st) }
