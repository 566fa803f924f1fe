package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// docPage is a page that is a scrolling document drawn by views (Overview,
// Chains, Buffers). A page that has more to show behind enter gives open.
type docPage struct {
	c     *common
	title string
	lines func(d views.Data, w int, st views.Styles) []string
	open  func(p *docPage) (*pane, string) // the pane, or why there is none
	help  string                           // what enter opens, for the help

	w, h int
	off  int
	pane *pane
}

func (p *docPage) Title() string { return p.title }

func (p *docPage) doc() []string { return p.lines(p.c.data, p.w, p.c.st) }

func (p *docPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.off = views.ClampOffset(p.off, len(p.doc()), h)
	if p.pane != nil {
		p.pane.SetSize(w, h)
	}
}

func (p *docPage) Update(msg tea.Msg) tea.Cmd {
	if p.pane != nil {
		switch msg.(type) {
		case tea.KeyPressMsg, tea.MouseWheelMsg:
			if p.pane.update(msg) {
				p.pane = nil
			}
			return nil
		}
	}
	k := p.c.keys
	switch msg := msg.(type) {
	case loadedMsg:
		p.scrollBy(0)
	case tea.MouseWheelMsg:
		p.scrollBy(3 * wheelDelta(msg))
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			p.scrollBy(-1)
		case key.Matches(msg, k.Down):
			p.scrollBy(1)
		case key.Matches(msg, k.PageUp):
			p.scrollBy(-max(p.h-1, 1))
		case key.Matches(msg, k.PageDown):
			p.scrollBy(max(p.h-1, 1))
		case key.Matches(msg, k.Top):
			p.off = 0
		case key.Matches(msg, k.Bottom):
			p.scrollBy(1 << 30)
		case p.open != nil && key.Matches(msg, k.Open):
			pn, why := p.open(p)
			if pn == nil {
				p.c.note = why
			}
			p.pane = pn
		}
	}
	return nil
}

func (p *docPage) scrollBy(d int) {
	p.off = views.ClampOffset(p.off+d, len(p.doc()), p.h)
}

func (p *docPage) View() string {
	if p.pane != nil {
		return p.pane.View()
	}
	return views.Window(p.c.st, p.doc(), p.off, p.w, p.h)
}

func (p *docPage) Position() string {
	if p.pane != nil {
		return p.pane.Position()
	}
	if n := len(p.doc()); n > p.h {
		return fmt.Sprintf("%d%%", 100*(p.off+p.h)/n)
	}
	return ""
}

func (p *docPage) ShortHelp() []key.Binding {
	if p.pane != nil {
		return p.pane.ShortHelp()
	}
	k := p.c.keys
	if p.open != nil {
		return []key.Binding{k.Up, k.Down, withDesc(k.Open, p.help)}
	}
	return []key.Binding{k.NextPage, k.Up, k.Down}
}

func (p *docPage) FullHelp() [][]key.Binding {
	if p.open == nil {
		return nil
	}
	return [][]key.Binding{{withDesc(p.c.keys.Open, p.help)}}
}
