package tui

import "github.com/panicscope/panicscope/views"

// chainsLines: the notifier chains in call order, marked with what ran.
func (m Model) chainsLines() []string { return views.ChainsLines(m.data, m.w, m.st) }
