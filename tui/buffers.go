package tui

import "github.com/panicscope/panicscope/views"

// buffersLines: kmsg dumpers, pstore, the printk ring and the consoles.
func (m Model) buffersLines() []string { return views.BuffersLines(m.data, m.w, m.st) }
