package tui

import "github.com/panicscope/panicscope/views"

// cpusLines: each CPU's role, instruction pointer, task and registers.
func (m Model) cpusLines() []string { return views.CPUsLines(m.data, m.w, m.st) }
