package tui

import (
	"fmt"
	"sort"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// logPage: the kernel log with a level filter, search and a mark (›) on
// the line jumped to or found.
type logPage struct {
	c     *common
	keys  logKeys
	s     views.LogState
	input *string // the "/" prompt's text while typing
	w, h  int
}

type logKeys struct {
	Search    key.Binding
	NextMatch key.Binding
	PrevMatch key.Binding
	Level     key.Binding
	Panic     key.Binding
	Wrap      key.Binding
}

// showLogMsg asks the Log page to show the first line of record seq.
type showLogMsg struct{ seq uint64 }

func showLog(seq uint64) tea.Cmd {
	return func() tea.Msg { return showLogMsg{seq} }
}

const logTitle = "Log"

func newLog(c *common) Page {
	b := func(k, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(k), key.WithHelp(help, desc))
	}
	return &logPage{
		c: c,
		keys: logKeys{
			Search:    b("/", "/", "search"),
			NextMatch: b("n", "n/N", "next/prev match"),
			PrevMatch: b("N", "N", "previous match"),
			Level:     b("L", "L", "level filter"),
			Panic:     b("p", "p", "panic message"),
			Wrap:      b("w", "w", "wrap lines"),
		},
		s: views.LogState{MaxLevel: 7, Wrap: true, Mark: -1},
	}
}

func (p *logPage) Title() string { return logTitle }

func (p *logPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.clamp()
}

// Prompt implements prompter.
func (p *logPage) Prompt() (string, bool) {
	if p.input == nil {
		return "", false
	}
	return "/" + *p.input, true
}

func (p *logPage) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.stage == stageLog {
			p.logLoaded()
		}
		p.clamp()
	case showLogMsg:
		return p.jumpToSeq(msg.seq)
	case tea.MouseWheelMsg:
		p.scroll(3 * wheelDelta(msg))
	case tea.KeyPressMsg:
		if p.input != nil {
			p.promptKey(msg)
			return nil
		}
		p.key(msg)
	}
	return nil
}

// logLoaded filters the new log and puts the panic message in view.
func (p *logPage) logLoaded() {
	d := p.c.data
	p.s.Visible = views.FilterLog(d.Log, p.s.MaxLevel)
	if i := views.PanicLine(d.Log); i >= 0 {
		p.showLine(i)
		return
	}
	p.s.Offset = views.LogLastOffset(d, p.s, p.w, p.h)
}

func (p *logPage) key(msg tea.KeyPressMsg) {
	k, lk := p.c.keys, p.keys
	body := views.LogBodyHeight(p.h)
	switch {
	case key.Matches(msg, k.Up):
		p.scroll(-1)
	case key.Matches(msg, k.Down):
		p.scroll(1)
	case key.Matches(msg, k.PageUp):
		p.scroll(-max(body-1, 1))
	case key.Matches(msg, k.PageDown):
		p.scroll(max(body-1, 1))
	case key.Matches(msg, k.Top):
		p.s.Offset = 0
	case key.Matches(msg, k.Bottom):
		p.s.Offset = views.LogLastOffset(p.c.data, p.s, p.w, p.h)
	case key.Matches(msg, k.Left):
		p.s.XOffset = max(p.s.XOffset-16, 0)
	case key.Matches(msg, k.Right):
		if !p.s.Wrap {
			p.s.XOffset += 16
		}
	case key.Matches(msg, lk.Wrap):
		p.s.Wrap, p.s.XOffset = !p.s.Wrap, 0
		p.clamp()
	case key.Matches(msg, lk.Level):
		p.setLevel(p.s.MaxLevel - 1)
	case key.Matches(msg, lk.Panic):
		p.gotoPanic()
	case key.Matches(msg, lk.Search):
		p.input = new(string)
	case key.Matches(msg, lk.NextMatch):
		p.nextMatch(1)
	case key.Matches(msg, lk.PrevMatch):
		p.nextMatch(-1)
	case key.Matches(msg, k.Cancel):
		p.s.Query, p.s.Matches, p.s.Mark = "", nil, -1
	}
}

// promptKey edits the search prompt; enter searches, esc cancels.
func (p *logPage) promptKey(msg tea.KeyPressMsg) {
	text := *p.input
	switch msg.String() {
	case "enter":
		p.input = nil
		p.search(text)
	case "esc", "ctrl+c":
		p.input = nil
	case "backspace", "ctrl+h":
		if r := []rune(text); len(r) > 0 {
			text = string(r[:len(r)-1])
		}
	case "ctrl+u":
		text = ""
	default:
		text += msg.Text
	}
	if p.input != nil {
		p.input = &text
	}
}

// cursor is the marked entry when it is on screen, else -1: searching
// starts from it, and the status line shows it.
func (p *logPage) cursor() int {
	first, last := views.LogShown(p.c.data, p.s, p.w, p.h)
	if m := p.s.Mark; m >= first && m <= last {
		return m
	}
	return -1
}

// search finds q and goes to the first hit after the marked line when it
// is on screen, else to the first hit at or after the top of the page.
func (p *logPage) search(q string) {
	p.s.Query = q
	p.s.Matches = views.SearchLog(p.c.data.Log, p.s.Visible, q)
	if q == "" {
		p.s.Mark = -1
		return
	}
	if len(p.s.Matches) == 0 {
		p.c.note = fmt.Sprintf("no line holds %q", q)
		return
	}
	p.nextMatch(1)
}

// nextMatch goes to the next (d=1) or previous (d=-1) hit from the marked
// line when it is on screen, else from the top of the page, wrapping
// around the log.
func (p *logPage) nextMatch(d int) {
	ms := p.s.Matches
	if len(ms) == 0 {
		if p.s.Query == "" {
			p.c.note = "no search: press / first"
		}
		return
	}
	from := p.cursor()
	var i int
	if d > 0 {
		if from < 0 {
			from = p.s.Offset - 1
		}
		i = sort.SearchInts(ms, from+1)
		if i == len(ms) {
			i, p.c.note = 0, "search wrapped to the top"
		}
	} else {
		if from < 0 {
			from = p.s.Offset
		}
		i = sort.SearchInts(ms, from) - 1
		if i < 0 {
			i, p.c.note = len(ms)-1, "search wrapped to the bottom"
		}
	}
	p.markVisible(ms[i])
}

// gotoPanic shows the panic message: the analysis' record, else the last
// "Kernel panic - not syncing" line.
func (p *logPage) gotoPanic() {
	if i := views.PanicIndex(p.c.data); i >= 0 {
		p.showLine(i)
		return
	}
	p.c.note = "no \"Kernel panic - not syncing\" line in the log"
}

// jumpToSeq shows the first line of log record seq and brings the page up.
func (p *logPage) jumpToSeq(seq uint64) tea.Cmd {
	i := views.LineForSeq(p.c.data.Log, seq)
	if i < 0 {
		p.c.note = fmt.Sprintf("log record %d is not in the log that was read", seq)
		return nil
	}
	p.showLine(i)
	return focus(logTitle)
}

// showLine marks line i of the log and scrolls to it, widening the level
// filter when the line is hidden.
func (p *logPage) showLine(i int) {
	vi := sort.SearchInts(p.s.Visible, i)
	if vi == len(p.s.Visible) || p.s.Visible[vi] != i {
		p.setLevel(7)
		p.c.note = "level filter off to show the line"
		vi = sort.SearchInts(p.s.Visible, i)
	}
	p.markVisible(vi)
}

// markVisible marks entry vi of the visible lines and scrolls it into view,
// a third down the page when it was off screen.
func (p *logPage) markVisible(vi int) {
	p.s.Mark = vi
	first, last := views.LogShown(p.c.data, p.s, p.w, p.h)
	if vi < first || vi > last {
		p.s.Offset = vi - views.LogBodyHeight(p.h)/3
	}
	p.clamp()
}

// setLevel filters the log at level (cycling from emerg back to all),
// keeping the top line and the marked line where they were.
func (p *logPage) setLevel(level int) {
	if level < 0 {
		level = 7
	}
	d := p.c.data
	top, mark := -1, -1
	if o := p.s.Offset; o >= 0 && o < len(p.s.Visible) {
		top = p.s.Visible[o]
	}
	if mk := p.s.Mark; mk >= 0 && mk < len(p.s.Visible) {
		mark = p.s.Visible[mk]
	}
	p.s.MaxLevel = level
	p.s.Visible = views.FilterLog(d.Log, level)
	p.s.Matches = views.SearchLog(d.Log, p.s.Visible, p.s.Query)
	p.s.Offset = sort.SearchInts(p.s.Visible, max(top, 0))
	p.s.Mark = -1
	if vi := sort.SearchInts(p.s.Visible, mark); mark >= 0 && vi < len(p.s.Visible) && p.s.Visible[vi] == mark {
		p.s.Mark = vi
	}
	if level == 7 {
		p.c.note = "showing every level"
	} else {
		p.c.note = "showing " + views.LevelNames[level] + " and more severe"
	}
	p.clamp()
}

func (p *logPage) scroll(d int) {
	p.s.Offset += d
	p.clamp()
}

func (p *logPage) clamp() {
	last := views.LogLastOffset(p.c.data, p.s, p.w, p.h)
	p.s.Offset = min(max(p.s.Offset, 0), last)
}

func (p *logPage) View() string {
	return views.Log(p.c.data, p.s, p.w, p.h, p.c.st)
}

// Position is the marked line when it is on screen (the › and the status
// line agree), else the top line.
func (p *logPage) Position() string {
	n := len(p.s.Visible)
	if n == 0 {
		return ""
	}
	at := p.cursor()
	if at < 0 {
		at = min(p.s.Offset, n-1)
	}
	return fmt.Sprintf("line %d/%d", at+1, n)
}

func (p *logPage) ShortHelp() []key.Binding {
	lk := p.keys
	return []key.Binding{lk.Search, withDesc(lk.NextMatch, "next/prev"), withDesc(lk.Level, "level"),
		withDesc(lk.Panic, "panic")}
}

func (p *logPage) FullHelp() [][]key.Binding {
	lk, k := p.keys, p.c.keys
	return [][]key.Binding{{lk.Search, lk.NextMatch, lk.Level, lk.Panic, lk.Wrap, k.Left, k.Right}}
}

func (p *logPage) HelpNote() string {
	return "Log: / searches from the marked line (n/N next/previous hit), L lowers the level shown (cycles), p goes to the panic message, w wraps."
}
