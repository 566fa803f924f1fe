package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// docLines is the whole text of a scrolling document page (Overview,
// Chains, Buffers, CPUs); nil for the Timeline and Log pages, which keep
// their own cursor and offsets.
func (m Model) docLines(page int) []string {
	switch page {
	case pageOverview:
		return m.overviewLines()
	case pageChains:
		return m.chainsLines()
	case pageBuffers:
		return m.buffersLines()
	case pageCPUs:
		return m.cpusLines()
	}
	return nil
}

// scrollKey moves a document page.
func (m *Model) scrollKey(msg tea.KeyPressMsg) {
	k, h := m.keys, m.pageHeight()
	switch {
	case key.Matches(msg, k.Up):
		m.scrollBy(-1)
	case key.Matches(msg, k.Down):
		m.scrollBy(1)
	case key.Matches(msg, k.PageUp):
		m.scrollBy(-max(h-1, 1))
	case key.Matches(msg, k.PageDown):
		m.scrollBy(max(h-1, 1))
	case key.Matches(msg, k.Top):
		m.scroll[m.page] = 0
	case key.Matches(msg, k.Bottom):
		m.scrollBy(1 << 30)
	}
}

func (m *Model) scrollBy(d int) {
	lines := m.docLines(m.page)
	m.scroll[m.page] = views.ClampOffset(m.scroll[m.page]+d, len(lines), m.pageHeight())
}
