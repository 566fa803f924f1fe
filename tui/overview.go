package tui

import "github.com/panicscope/panicscope/views"

// newOverview: kernel, panic, capture and the verdict; it fills in as the
// load stages arrive.
func newOverview(c *common) Page {
	return &docPage{c: c, title: "Overview", lines: views.OverviewLines}
}
