package tui

import "github.com/panicscope/panicscope/views"

// newBuffers: kmsg dumpers, pstore, the printk ring and the consoles;
// enter shows the text of the pstore records.
func newBuffers(c *common) Page {
	return &docPage{c: c, title: "Buffers", lines: views.BuffersLines, open: pstorePane, help: "pstore text"}
}

func pstorePane(p *docPage) (*pane, string) {
	if !views.PstoreHasText(p.c.data) {
		return nil, "no pstore record text was read"
	}
	c := p.c
	return newPane(c, "pstore records", func(w int) []string {
		return views.PstoreText(c.data, w, c.st)
	}, p.w, p.h), ""
}
