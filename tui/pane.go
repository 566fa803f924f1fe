package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// pane is a scrolling text a page opens over itself (a CPU's backtrace,
// the pstore records); esc closes it. Its text is drawn again for each
// width, so a resize rewraps it.
type pane struct {
	c       *common
	title   string
	content func(w int) []string
	lines   []string
	w, h    int
	off     int
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
		}
	}
	p.off = views.ClampOffset(p.off+d, len(p.lines), p.body())
	return false
}

func (p *pane) View() string {
	st := p.c.st
	head := st.Heading.Render(p.title) + st.Glyphs.Sep + st.Dim.Render("esc closes")
	return views.Window(st, []string{head}, 0, p.w, 1) + "\n" + views.Window(st, p.lines, p.off, p.w, p.body())
}

func (p *pane) Position() string {
	if len(p.lines) <= p.body() {
		return ""
	}
	return fmt.Sprintf("line %d/%d", p.off+1, len(p.lines))
}

func (p *pane) ShortHelp() []key.Binding {
	k := p.c.keys
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
