package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/views"
)

// pane is a scrolling text opened over a page (a CPU's backtrace, the
// pstore records, a command's output); esc closes it. Its text is drawn
// again for each width, so a resize rewraps it; text that is not wrapped
// (cut) scrolls sideways instead.
type pane struct {
	c       *common
	title   string
	content func(w int) []string
	cut     bool // lines are not wrapped: left/right scroll them
	lines   []string
	w, h    int
	off     int
	xoff    int
}

func newPane(c *common, title string, content func(w int) []string, w, h int) *pane {
	p := &pane{c: c, title: title, content: content}
	p.SetSize(w, h)
	return p
}

// body is the room for the text: the page less the title line.
func (p *pane) body() int { return max(p.h-1, 1) }

func (p *pane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.lines = p.content(w)
	p.off = views.ClampOffset(p.off, len(p.lines), p.body())
}

// update handles a key or a wheel turn; closed is true after esc.
func (p *pane) update(msg tea.Msg) (closed bool) {
	k := p.c.keys
	d := 0
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		d = wheelDelta(msg) * 3
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Cancel):
			return true
		case key.Matches(msg, k.Up):
			d = -1
		case key.Matches(msg, k.Down):
			d = 1
		case key.Matches(msg, k.PageUp):
			d = -max(p.body()-1, 1)
		case key.Matches(msg, k.PageDown):
			d = max(p.body()-1, 1)
		case key.Matches(msg, k.Top):
			d = -len(p.lines)
		case key.Matches(msg, k.Bottom):
			d = len(p.lines)
		case p.cut && key.Matches(msg, k.Left):
			p.xoff = max(p.xoff-16, 0)
		case p.cut && key.Matches(msg, k.Right):
			p.xoff = min(p.xoff+16, max(p.widest()-p.w+16, 0))
		}
	}
	p.off = views.ClampOffset(p.off+d, len(p.lines), p.body())
	return false
}

// widest is the widest line, in cells.
func (p *pane) widest() int {
	w := 0
	for _, l := range p.lines {
		w = max(w, ansi.StringWidth(l))
	}
	return w
}

func (p *pane) View() string {
	st := p.c.st
	head := st.Heading.Render(p.title) + st.Glyphs.Sep + st.Dim.Render("esc closes")
	if p.xoff > 0 {
		head += st.Glyphs.Sep + st.Dim.Render(fmt.Sprintf("column %d", p.xoff+1))
	}
	lines := p.lines
	if p.xoff > 0 {
		lines = make([]string, len(p.lines))
		for i, l := range p.lines {
			lines[i] = ansi.Cut(l, p.xoff, p.xoff+p.w+1)
		}
	}
	return views.Window(st, []string{head}, 0, p.w, 1) + "\n" + views.Window(st, lines, p.off, p.w, p.body())
}

func (p *pane) Position() string {
	if len(p.lines) <= p.body() {
		return ""
	}
	return fmt.Sprintf("line %d/%d", p.off+1, len(p.lines))
}

func (p *pane) ShortHelp() []key.Binding {
	k := p.c.keys
	if p.cut {
		return []key.Binding{k.Up, k.Down, withDesc(k.Right, "scroll"), withDesc(k.Cancel, "close")}
	}
	return []key.Binding{k.Up, k.Down, withDesc(k.Cancel, "close")}
}

// wheelDelta is -1 for the wheel turned up, 1 down, 0 for other buttons.
func wheelDelta(msg tea.MouseWheelMsg) int {
	switch msg.Button {
	case tea.MouseWheelUp:
		return -1
	case tea.MouseWheelDown:
		return 1
	}
	return 0
}
