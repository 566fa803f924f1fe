package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/panicscope/panicscope/views"
)

// Pages, in tab order (views.PageNames).
const (
	pageOverview = iota
	pageTimeline
	pageChains
	pageBuffers
	pageLog
	pageCPUs
	numPages
)

// Default terminal size until the first tea.WindowSizeMsg.
const defaultW, defaultH = 80, 24

// Model is the TUI: the dump's data as it arrives, and the state of each
// page. Update does no I/O: the Source is only used inside commands.
type Model struct {
	src  Source
	opts Options
	st   views.Styles
	keys KeyMap
	help help.Model
	spin spinner.Model

	data  views.Data
	page  int
	w, h  int
	full  bool   // full help shown instead of the page
	note  string // a message for the status line, until the next key
	input *searchInput

	scroll   [numPages]int // offsets of the scrolling document pages
	timeline views.TimelineState
	log      views.LogState
}

// New is the model for src; Init starts loading.
func New(src Source, opts Options) Model {
	g := views.UnicodeGlyphs()
	keys := DefaultKeyMap()
	if opts.ASCII {
		g = views.ASCIIGlyphs()
		keys = keys.asciiHelp()
	}
	st := views.DefaultStyles(g)
	if opts.NoColor {
		st = views.PlainStyles(g)
	}
	h := help.New()
	h.Styles = help.Styles{
		ShortKey: st.HelpKey, ShortDesc: st.HelpDesc, ShortSeparator: st.HelpSep,
		FullKey: st.HelpKey, FullDesc: st.HelpDesc, FullSeparator: st.HelpSep, Ellipsis: st.HelpSep,
	}
	if opts.ASCII {
		h.ShortSeparator, h.Ellipsis = " | ", "..."
	}
	sp := spinner.New(spinner.WithSpinner(spinner.Spinner{Frames: g.Spinner, FPS: spinner.MiniDot.FPS}))
	return Model{
		src: src, opts: opts, st: st, keys: keys, help: h, spin: sp,
		data:     views.Data{Path: src.Path(), Loading: stageOpen},
		w:        defaultW,
		h:        defaultH,
		timeline: views.TimelineState{Expanded: map[int]bool{}},
		log:      views.LogState{MaxLevel: 7, Wrap: true, Mark: -1},
	}
}

// Init starts the first load stage and the spinner.
func (m Model) Init() tea.Cmd {
	return tea.Batch(identifyCmd(m.src), m.spin.Tick)
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = max(msg.Width, 20), max(msg.Height, 6)
		m.help.SetWidth(m.w)
		m.clampAll()
		return m, nil
	case spinner.TickMsg:
		if m.data.Loading == "" {
			return m, nil // loading ended: let the spinner stop
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case identifiedMsg, logMsg, analysedMsg:
		return m.loaded(msg)
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseWheelMsg:
		return m.wheel(msg)
	}
	return m, nil
}

// loaded stores a load stage's result and starts the next stage.
func (m Model) loaded(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case identifiedMsg:
		if msg.err != nil {
			m.data.OpenErr, m.data.Loading = msg.err.Error(), ""
			return m, nil
		}
		m.data.Identity, m.data.Loading = msg.id, stageLog
		return m, logCmd(m.src)
	case logMsg:
		if msg.err != nil {
			m.data.LogErr = msg.err.Error()
		} else {
			m.data.Log = msg.lines
		}
		m.logLoaded()
		m.data.Loading = stageAnalyse
		return m, analyseCmd(m.src)
	case analysedMsg:
		m.data.Loading = ""
		if msg.err != nil {
			m.data.ReportErr = msg.err.Error()
			return m, nil
		}
		m.data.Report = msg.r
		m.timelineLoaded()
	}
	return m, nil
}

// key handles a key press: the search prompt first, then keys that work on
// every page, then the page's own keys.
func (m Model) key(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	if m.input != nil {
		return m.searchKey(msg), nil
	}
	m.note = ""
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.full = !m.full
		return m, nil
	case m.full && key.Matches(msg, k.Cancel):
		m.full = false
		return m, nil
	case key.Matches(msg, k.Pages):
		m.page, m.full = int(msg.String()[0]-'1'), false
		return m, nil
	case key.Matches(msg, k.NextPage):
		m.page, m.full = (m.page+1)%numPages, false
		return m, nil
	case key.Matches(msg, k.PrevPage):
		m.page, m.full = (m.page+numPages-1)%numPages, false
		return m, nil
	}
	if m.full {
		return m, nil
	}
	switch m.page {
	case pageTimeline:
		m.timelineKey(msg)
	case pageLog:
		m.logKey(msg)
	default:
		m.scrollKey(msg)
	}
	return m, nil
}

// wheel scrolls the page under the mouse by three lines (the Timeline's
// cursor by one row).
func (m Model) wheel(msg tea.MouseWheelMsg) (Model, tea.Cmd) {
	d := 0
	switch msg.Button {
	case tea.MouseWheelUp:
		d = -1
	case tea.MouseWheelDown:
		d = 1
	default:
		return m, nil
	}
	switch m.page {
	case pageTimeline:
		m.moveCursor(d)
	case pageLog:
		m.scrollLog(3 * d)
	default:
		m.scrollBy(3 * d)
	}
	return m, nil
}

// pageHeight is the room for a page: the screen less the tab bar, the
// status line and the help bar.
func (m Model) pageHeight() int { return max(m.h-3, 1) }

// clampAll keeps every offset valid after a resize or new data.
func (m *Model) clampAll() {
	for p := range numPages {
		if lines := m.docLines(p); lines != nil {
			m.scroll[p] = views.ClampOffset(m.scroll[p], len(lines), m.pageHeight())
		}
	}
	m.followCursor()
	m.clampLog()
}

// View draws the screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "panicscope " + m.src.Name()
	return v
}

// render is the whole screen as text: tabs, page, status line, help bar.
func (m Model) render() string {
	var page string
	if m.full {
		page = m.fullHelp()
	} else {
		page = m.renderPage()
	}
	screen := strings.Join([]string{
		views.Tabs(m.page, m.w, m.src.Name(), m.st),
		page,
		m.statusLine(),
		// help.Model can overflow when its ellipsis does not fit: cut it.
		views.Window(m.st, []string{m.help.View(pageHelp{m.keys, m.page})}, 0, m.w, 1),
	}, "\n")
	if m.opts.ASCII {
		screen = views.ToASCII(screen)
	}
	return screen
}

func (m Model) renderPage() string {
	h := m.pageHeight()
	switch m.page {
	case pageTimeline:
		return views.Timeline(m.data, m.timeline, m.w, h, m.st)
	case pageLog:
		return views.Log(m.data, m.log, m.w, h, m.st)
	}
	return views.Window(m.st, m.docLines(m.page), m.scroll[m.page], m.w, h)
}

// fullHelp is the help page shown by '?': the key groups side by side as
// far as the width allows.
func (m Model) fullHelp() string {
	st := m.st
	groups := pageHelp{m.keys, m.page}.FullHelp()
	titles := []string{"Pages", "Move", "Timeline", "Log"}
	const colW = 38
	cols := max(min(m.w/colW, len(groups)), 1)
	var blocks []string
	for gi, g := range groups {
		keyW := 0
		for _, b := range g {
			keyW = max(keyW, lipgloss.Width(b.Help().Key))
		}
		lines := []string{st.Heading.Render(titles[gi])}
		for _, b := range g {
			h := b.Help()
			lines = append(lines, "  "+st.HelpKey.Render(h.Key)+strings.Repeat(" ", keyW-lipgloss.Width(h.Key)+2)+st.HelpDesc.Render(h.Desc))
		}
		blocks = append(blocks, lipgloss.NewStyle().Width(min(colW, m.w)).Render(strings.Join(lines, "\n")))
	}
	var rows []string
	for i := 0; i < len(blocks); i += cols {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, blocks[i:min(i+cols, len(blocks))]...), "")
	}
	lines := strings.Split(strings.Join(rows, "\n"), "\n")
	lines = append(lines,
		st.Dim.Render("Timeline: enter expands a step; on an evidence row with a log record it goes to that line of the Log page, as l does."),
		st.Dim.Render("Log: / searches (n/N next/previous hit), L lowers the level shown (cycles), p goes to the panic message, w wraps."))
	var out []string
	for _, l := range lines {
		if lipgloss.Width(l) > m.w {
			out = append(out, strings.Split(lipgloss.NewStyle().Width(m.w).Render(l), "\n")...)
		} else {
			out = append(out, l)
		}
	}
	return views.Window(st, out, 0, m.w, m.pageHeight())
}

// statusLine shows the search prompt, the load progress, a note, or the
// problems found; the page position goes on the right.
func (m Model) statusLine() string {
	st := m.st
	var left string
	switch {
	case m.input != nil:
		left = "/" + m.input.text + st.Glyphs.Cursor
	case m.data.OpenErr != "":
		left = st.Error.Render("cannot read the dump: " + m.data.OpenErr)
	case m.note != "":
		left = st.Warning.Render(m.note)
	case m.data.Loading != "":
		left = m.spin.View() + " " + st.Status.Render(m.data.Loading+"…")
	default:
		left = m.problemSummary()
	}
	right := st.Status.Render(m.position())
	if gap := m.w - lipgloss.Width(left) - lipgloss.Width(right); gap >= 1 {
		return left + strings.Repeat(" ", gap) + right
	}
	return views.Window(st, []string{left}, 0, m.w, 1)
}

// problemSummary counts what could not be read, naming the first problem.
func (m Model) problemSummary() string {
	var problems []string
	for _, p := range views.Problems(m.data) {
		problems = append(problems, p.Message())
	}
	for _, e := range []string{m.data.LogErr, m.data.ReportErr} {
		if e != "" {
			problems = append(problems, e)
		}
	}
	if len(problems) == 0 {
		return ""
	}
	s := fmt.Sprintf("%d problem", len(problems))
	if len(problems) > 1 {
		s += "s"
	}
	return m.st.Warning.Render(s + " (Overview lists them): " + problems[0])
}

// position is where the page is scrolled to.
func (m Model) position() string {
	switch m.page {
	case pageTimeline:
		if n := len(m.timelineRows()); n > 0 {
			return fmt.Sprintf("row %d/%d", m.timeline.Cursor+1, n)
		}
	case pageLog:
		if n := len(m.log.Visible); n > 0 {
			return fmt.Sprintf("line %d/%d", min(m.log.Offset+1, n), n)
		}
	default:
		lines := m.docLines(m.page)
		if len(lines) > m.pageHeight() {
			return fmt.Sprintf("%d%%", 100*(m.scroll[m.page]+m.pageHeight())/len(lines))
		}
	}
	return ""
}
