package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// timelinePage: panic()'s steps in order with a cursor; enter expands a
// step into its evidence, and an evidence row with a log record leads to
// that line of the Log page.
type timelinePage struct {
	c    *common
	keys timelineKeys
	s    views.TimelineState
	w, h int
}

type timelineKeys struct {
	Expand    key.Binding
	ExpandAll key.Binding
	JumpLog   key.Binding
}

func newTimeline(c *common) Page {
	b := func(k, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(k), key.WithHelp(help, desc))
	}
	return &timelinePage{
		c: c,
		keys: timelineKeys{
			Expand:    b("enter", "enter", "expand / jump"),
			ExpandAll: b("e", "e", "expand all"),
			JumpLog:   b("l", "l", "log line"),
		},
		s: views.TimelineState{Expanded: map[int]bool{}},
	}
}

func (p *timelinePage) Title() string { return "Timeline" }

func (p *timelinePage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.followCursor()
}

func (p *timelinePage) rows() []views.TimelineRow {
	if p.c.data.Report == nil {
		return nil
	}
	return views.TimelineRows(p.c.data.Report.Timeline, p.s.Expanded)
}

func (p *timelinePage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.stage == stageAnalyse {
			// Start on the step panic() was in when the dump was taken;
			// no step is expanded yet, so row i is step i.
			p.s.Cursor = max(views.RunningStep(p.c.data), 0)
		}
		p.followCursor()
	case tea.MouseWheelMsg:
		p.moveCursor(wheelDelta(msg))
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return nil
}

func (p *timelinePage) key(msg tea.KeyPressMsg) tea.Cmd {
	k, tk := p.c.keys, p.keys
	rows := p.rows()
	switch {
	case key.Matches(msg, k.Up):
		p.moveCursor(-1)
	case key.Matches(msg, k.Down):
		p.moveCursor(1)
	case key.Matches(msg, k.PageUp):
		p.moveCursor(-max(p.h-2, 1))
	case key.Matches(msg, k.PageDown):
		p.moveCursor(max(p.h-2, 1))
	case key.Matches(msg, k.Top):
		p.moveCursor(-len(rows))
	case key.Matches(msg, k.Bottom):
		p.moveCursor(len(rows))
	case key.Matches(msg, tk.ExpandAll):
		p.expandAll()
	case key.Matches(msg, tk.Expand):
		if len(rows) == 0 {
			return nil
		}
		r := rows[p.s.Cursor]
		if r.Kind == views.RowStep {
			p.s.Expanded[r.Step] = !p.s.Expanded[r.Step]
			p.followCursor()
			return nil
		}
		return p.jumpFromRow(r)
	case key.Matches(msg, tk.JumpLog):
		if len(rows) > 0 {
			return p.jumpFromRow(rows[p.s.Cursor])
		}
	}
	return nil
}

// jumpFromRow asks the Log page to show the row's log record.
func (p *timelinePage) jumpFromRow(r views.TimelineRow) tea.Cmd {
	if r.Seq == nil {
		p.c.note = "no log line for this row"
		return nil
	}
	return showLog(*r.Seq)
}

// expandAll expands every step, or collapses them all when all are
// expanded; the cursor stays on its step.
func (p *timelinePage) expandAll() {
	rows := p.rows()
	n := views.StepCount(p.c.data)
	if len(rows) == 0 {
		return
	}
	step := rows[p.s.Cursor].Step
	all := true
	for i := range n {
		all = all && p.s.Expanded[i]
	}
	for i := range n {
		p.s.Expanded[i] = !all
	}
	for i, r := range p.rows() {
		if r.Step == step && r.Kind == views.RowStep {
			p.s.Cursor = i
		}
	}
	p.followCursor()
}

func (p *timelinePage) moveCursor(d int) {
	n := len(p.rows())
	if n == 0 {
		return
	}
	p.s.Cursor = min(max(p.s.Cursor+d, 0), n-1)
	p.followCursor()
}

// followCursor scrolls so the cursor's row, and as much of an expanded
// step's details as fit, are on screen.
func (p *timelinePage) followCursor() {
	if p.c.data.Report == nil {
		return
	}
	if n := len(p.rows()); p.s.Cursor >= n {
		p.s.Cursor = max(n-1, 0)
	}
	lines, first, last := views.TimelineLines(p.c.data, p.s, p.w, p.c.st)
	off := p.s.Offset
	if last >= off+p.h {
		off = last - p.h + 1
	}
	if first < off {
		off = first
	}
	if first == 1 {
		off = 0 // the first row: show the legend too
	}
	p.s.Offset = views.ClampOffset(off, len(lines), p.h)
}

func (p *timelinePage) View() string {
	return views.Timeline(p.c.data, p.s, p.w, p.h, p.c.st)
}

func (p *timelinePage) Position() string {
	if n := len(p.rows()); n > 0 {
		return fmt.Sprintf("row %d/%d", p.s.Cursor+1, n)
	}
	return ""
}

func (p *timelinePage) ShortHelp() []key.Binding {
	k := p.c.keys
	return []key.Binding{k.Up, k.Down, withDesc(p.keys.Expand, "expand"), withDesc(p.keys.JumpLog, "log")}
}

func (p *timelinePage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.keys.Expand, p.keys.ExpandAll, p.keys.JumpLog}}
}

func (p *timelinePage) HelpNote() string {
	return "Timeline: enter expands a step; on an evidence row with a log record it goes to that line of the Log page, as l does."
}
