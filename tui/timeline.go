package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
)

func (m Model) timelineRows() []views.TimelineRow {
	if m.data.Report == nil {
		return nil
	}
	return views.TimelineRows(m.data.Report.Timeline, m.timeline.Expanded)
}

// timelineLoaded puts the cursor on the step panic() was in when the dump
// was taken.
func (m *Model) timelineLoaded() {
	for i, s := range m.data.Report.Timeline {
		if s.Status == timeline.Running {
			m.timeline.Cursor = i // no step is expanded yet: row i is step i
			break
		}
	}
	m.clampAll()
}

func (m *Model) timelineKey(msg tea.KeyPressMsg) {
	k, h := m.keys, m.pageHeight()
	rows := m.timelineRows()
	switch {
	case key.Matches(msg, k.Up):
		m.moveCursor(-1)
	case key.Matches(msg, k.Down):
		m.moveCursor(1)
	case key.Matches(msg, k.PageUp):
		m.moveCursor(-max(h-2, 1))
	case key.Matches(msg, k.PageDown):
		m.moveCursor(max(h-2, 1))
	case key.Matches(msg, k.Top):
		m.moveCursor(-len(rows))
	case key.Matches(msg, k.Bottom):
		m.moveCursor(len(rows))
	case key.Matches(msg, k.ExpandAll):
		m.expandAll()
	case key.Matches(msg, k.Expand):
		if len(rows) == 0 {
			return
		}
		r := rows[m.timeline.Cursor]
		if r.Kind == views.RowStep {
			m.timeline.Expanded[r.Step] = !m.timeline.Expanded[r.Step]
			m.followCursor()
			return
		}
		m.jumpFromRow(r)
	case key.Matches(msg, k.JumpLog):
		if len(rows) > 0 {
			m.jumpFromRow(rows[m.timeline.Cursor])
		}
	}
}

// jumpFromRow shows the row's log record on the Log page.
func (m *Model) jumpFromRow(r views.TimelineRow) {
	if r.Seq == nil {
		m.note = "no log line for this row"
		return
	}
	m.jumpToSeq(*r.Seq)
}

// expandAll expands every step, or collapses them all when all are
// expanded; the cursor stays on its step.
func (m *Model) expandAll() {
	rows := m.timelineRows()
	if m.data.Report == nil || len(rows) == 0 {
		return
	}
	step := rows[m.timeline.Cursor].Step
	all := true
	for i := range m.data.Report.Timeline {
		all = all && m.timeline.Expanded[i]
	}
	for i := range m.data.Report.Timeline {
		m.timeline.Expanded[i] = !all
	}
	for i, r := range m.timelineRows() {
		if r.Step == step && r.Kind == views.RowStep {
			m.timeline.Cursor = i
		}
	}
	m.followCursor()
}

func (m *Model) moveCursor(d int) {
	n := len(m.timelineRows())
	if n == 0 {
		return
	}
	m.timeline.Cursor = min(max(m.timeline.Cursor+d, 0), n-1)
	m.followCursor()
}

// followCursor scrolls the Timeline so the cursor's row, and as much of an
// expanded step's details as fit, are on screen.
func (m *Model) followCursor() {
	if m.data.Report == nil {
		return
	}
	if n := len(m.timelineRows()); m.timeline.Cursor >= n {
		m.timeline.Cursor = max(n-1, 0)
	}
	lines, first, last := views.TimelineLines(m.data, m.timeline, m.w, m.st)
	h := m.pageHeight()
	off := m.timeline.Offset
	if last >= off+h {
		off = last - h + 1
	}
	if first < off {
		off = first
	}
	if first == 1 {
		off = 0 // the first row: show the legend too
	}
	m.timeline.Offset = views.ClampOffset(off, len(lines), h)
}
