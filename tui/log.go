package tui

import (
	"fmt"
	"sort"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// searchInput is the "/" prompt on the status line.
type searchInput struct{ text string }

// logLoaded filters the new log and puts the panic message in view.
func (m *Model) logLoaded() {
	m.log.Visible = views.FilterLog(m.data.Log, m.log.MaxLevel)
	if i := views.PanicLine(m.data.Log); i >= 0 {
		m.showLine(i)
		return
	}
	m.log.Offset = views.LogLastOffset(m.data, m.log, m.w, m.pageHeight())
}

func (m *Model) logKey(msg tea.KeyPressMsg) {
	k := m.keys
	body := views.LogBodyHeight(m.pageHeight())
	switch {
	case key.Matches(msg, k.Up):
		m.scrollLog(-1)
	case key.Matches(msg, k.Down):
		m.scrollLog(1)
	case key.Matches(msg, k.PageUp):
		m.scrollLog(-max(body-1, 1))
	case key.Matches(msg, k.PageDown):
		m.scrollLog(max(body-1, 1))
	case key.Matches(msg, k.Top):
		m.log.Offset = 0
	case key.Matches(msg, k.Bottom):
		m.log.Offset = views.LogLastOffset(m.data, m.log, m.w, m.pageHeight())
	case key.Matches(msg, k.Left):
		m.log.XOffset = max(m.log.XOffset-16, 0)
	case key.Matches(msg, k.Right):
		if !m.log.Wrap {
			m.log.XOffset += 16
		}
	case key.Matches(msg, k.Wrap):
		m.log.Wrap, m.log.XOffset = !m.log.Wrap, 0
		m.clampLog()
	case key.Matches(msg, k.Level):
		m.setLevel(m.log.MaxLevel - 1)
	case key.Matches(msg, k.Panic):
		m.gotoPanic()
	case key.Matches(msg, k.Search):
		m.input = &searchInput{}
	case key.Matches(msg, k.NextMatch):
		m.nextMatch(1)
	case key.Matches(msg, k.PrevMatch):
		m.nextMatch(-1)
	case key.Matches(msg, k.Cancel):
		m.log.Query, m.log.Matches, m.log.Mark = "", nil, -1
	}
}

// searchKey edits the search prompt; enter searches, esc cancels.
func (m Model) searchKey(msg tea.KeyPressMsg) Model {
	switch msg.String() {
	case "enter":
		q := m.input.text
		m.input = nil
		m.search(q)
	case "esc":
		m.input = nil
	case "ctrl+c":
		m.input = nil
	case "backspace", "ctrl+h":
		if r := []rune(m.input.text); len(r) > 0 {
			m.input = &searchInput{string(r[:len(r)-1])}
		}
	case "ctrl+u":
		m.input = &searchInput{}
	default:
		if msg.Text != "" {
			m.input = &searchInput{m.input.text + msg.Text}
		}
	}
	return m
}

// search finds q and shows the first hit at or after the top of the page.
func (m *Model) search(q string) {
	m.log.Query = q
	m.log.Matches = views.SearchLog(m.data.Log, m.log.Visible, q)
	if q == "" {
		m.log.Mark = -1
		return
	}
	if len(m.log.Matches) == 0 {
		m.note = fmt.Sprintf("no line holds %q", q)
		return
	}
	m.log.Mark = m.log.Offset - 1
	m.nextMatch(1)
}

// nextMatch goes to the next (d=1) or previous (d=-1) hit after the marked
// line, wrapping around the log.
func (m *Model) nextMatch(d int) {
	ms := m.log.Matches
	if len(ms) == 0 {
		if m.log.Query == "" {
			m.note = "no search: press / first"
		}
		return
	}
	from := m.log.Mark
	if from < 0 {
		from = m.log.Offset - 1
	}
	var i int
	if d > 0 {
		i = sort.SearchInts(ms, from+1)
		if i == len(ms) {
			i, m.note = 0, "search wrapped to the top"
		}
	} else {
		i = sort.SearchInts(ms, from) - 1
		if i < 0 {
			i, m.note = len(ms)-1, "search wrapped to the bottom"
		}
	}
	m.markVisible(ms[i])
}

// gotoPanic shows the panic message: the analysis' record, else the last
// "Kernel panic - not syncing" line.
func (m *Model) gotoPanic() {
	if r := m.data.Report; r != nil && r.Panic.Seq != nil {
		if i := views.LineForSeq(m.data.Log, *r.Panic.Seq); i >= 0 {
			m.showLine(i)
			return
		}
	}
	if i := views.PanicLine(m.data.Log); i >= 0 {
		m.showLine(i)
		return
	}
	m.note = "no \"Kernel panic - not syncing\" line in the log"
}

// jumpToSeq shows the first line of log record seq on the Log page.
func (m *Model) jumpToSeq(seq uint64) {
	i := views.LineForSeq(m.data.Log, seq)
	if i < 0 {
		m.note = fmt.Sprintf("log record %d is not in the log that was read", seq)
		return
	}
	m.page = pageLog
	m.showLine(i)
}

// showLine marks line i of the log and scrolls to it, widening the level
// filter when the line is hidden.
func (m *Model) showLine(i int) {
	vi := sort.SearchInts(m.log.Visible, i)
	if vi == len(m.log.Visible) || m.log.Visible[vi] != i {
		m.setLevel(7)
		m.note = "level filter off to show the line"
		vi = sort.SearchInts(m.log.Visible, i)
	}
	m.markVisible(vi)
}

// markVisible marks entry vi of the visible lines and scrolls it into view,
// a third down the page when it was off screen.
func (m *Model) markVisible(vi int) {
	m.log.Mark = vi
	first, last := views.LogShown(m.data, m.log, m.w, m.pageHeight())
	if vi < first || vi > last {
		m.log.Offset = vi - views.LogBodyHeight(m.pageHeight())/3
	}
	m.clampLog()
}

// setLevel filters the log at level (cycling from emerg back to all),
// keeping the top line and the marked line where they were.
func (m *Model) setLevel(level int) {
	if level < 0 {
		level = 7
	}
	top, mark := -1, -1
	if o := m.log.Offset; o >= 0 && o < len(m.log.Visible) {
		top = m.log.Visible[o]
	}
	if mk := m.log.Mark; mk >= 0 && mk < len(m.log.Visible) {
		mark = m.log.Visible[mk]
	}
	m.log.MaxLevel = level
	m.log.Visible = views.FilterLog(m.data.Log, level)
	m.log.Matches = views.SearchLog(m.data.Log, m.log.Visible, m.log.Query)
	m.log.Offset = sort.SearchInts(m.log.Visible, max(top, 0))
	m.log.Mark = -1
	if vi := sort.SearchInts(m.log.Visible, mark); mark >= 0 && vi < len(m.log.Visible) && m.log.Visible[vi] == mark {
		m.log.Mark = vi
	}
	if level == 7 {
		m.note = "showing every level"
	} else {
		m.note = "showing " + views.LevelNames[level] + " and more severe"
	}
	m.clampLog()
}

func (m *Model) scrollLog(d int) {
	m.log.Offset += d
	m.clampLog()
}

func (m *Model) clampLog() {
	last := views.LogLastOffset(m.data, m.log, m.w, m.pageHeight())
	m.log.Offset = min(max(m.log.Offset, 0), last)
}
