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

// Default terminal size until the first tea.WindowSizeMsg.
const defaultW, defaultH = 80, 24

// Model is the TUI: the tab bar, the pages (see pages), the status line and
// the help bar. Update does no I/O: the Source is only used inside
// commands.
type Model struct {
	src  Source
	name string // the source's name, printable
	opts Options
	c    *common
	help help.Model
	spin spinner.Model

	pages   []Page
	active  int
	w, h    int
	full    bool // the help page shown instead of the page
	helpAt  int  // the help page's scroll offset
	mouse   bool // mouse tracking on: the wheel scrolls, text selection needs shift
	cmd     commandLine
	overlay *pane // a command's output, over every page
}

// New is the model for src; Init starts loading.
func New(src Source, opts Options) Model {
	g := views.UnicodeGlyphs()
	if opts.ASCII {
		g = views.ASCIIGlyphs()
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
	c := &common{
		data: views.Data{Path: views.Printable(src.Path()), Loading: stageOpen},
		st:   st,
		keys: DefaultKeyMap(len(pages), opts.ASCII),
	}
	m := Model{src: src, name: views.Printable(src.Name()), opts: opts, c: c, help: h, spin: sp, w: defaultW, h: defaultH, mouse: opts.Mouse}
	for _, newPage := range pages {
		m.pages = append(m.pages, newPage(c))
	}
	m.resize()
	return m
}

// Init starts the first load stage still to run, and the spinner.
func (m Model) Init() tea.Cmd {
	if m.c.data.Identity != nil {
		return tea.Batch(logCmd(m.src), m.spin.Tick)
	}
	return tea.Batch(identifyCmd(m.src), m.spin.Tick)
}

// identified is the model with the first stage already done (Run
// identifies the dump before the program starts).
func (m Model) identified(id *views.Identity) Model {
	makePrintable(id)
	m.c.data.Identity, m.c.data.Loading = id, stageLog
	m.broadcast(loadedMsg{stageOpen})
	return m
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = max(msg.Width, 20), max(msg.Height, 6)
		m.resize()
		return m, nil
	case spinner.TickMsg:
		if m.c.data.Loading == "" && m.cmd.running == "" {
			return m, nil // nothing runs: let the spinner stop
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case identifiedMsg, logMsg, analysedMsg:
		return m.loaded(msg)
	case focusMsg:
		for i, p := range m.pages {
			if p.Title() == msg.title {
				m.active, m.full, m.overlay = i, false, nil
			}
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case commandMsg:
		return m.commandDone(msg), nil
	case tea.MouseWheelMsg:
		if m.overlay != nil {
			m.overlay.update(msg)
			return m, nil
		}
		return m, m.page().Update(msg)
	case tea.MouseMsg:
		return m, nil
	}
	return m, m.broadcast(msg)
}

func (m Model) page() Page { return m.pages[m.active] }

// broadcast gives msg to every page.
func (m Model) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.pages {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

// resize gives every page the room below the tab bar and above the status
// line and the help bar.
func (m *Model) resize() {
	m.help.SetWidth(m.w)
	for _, p := range m.pages {
		p.SetSize(m.w, m.pageHeight())
	}
	if m.overlay != nil {
		m.overlay.SetSize(m.w, m.pageHeight())
	}
}

// loaded stores a load stage's result, tells the pages and starts the
// next stage.
func (m Model) loaded(msg tea.Msg) (Model, tea.Cmd) {
	d := &m.c.data
	var next tea.Cmd
	var stage string // the stage that ended
	switch msg := msg.(type) {
	case identifiedMsg:
		if msg.err != nil {
			d.OpenErr, d.Loading = views.Printable(msg.err.Error()), ""
			return m, nil
		}
		stage = stageOpen
		makePrintable(msg.id)
		d.Identity, d.Loading, next = msg.id, stageLog, logCmd(m.src)
	case logMsg:
		stage = stageLog
		if msg.err != nil {
			d.LogErr = views.Printable(msg.err.Error())
		} else {
			d.Log = msg.lines
		}
		d.Loading, next = stageAnalyse, analyseCmd(m.src)
	case analysedMsg:
		stage, d.Loading = stageAnalyse, ""
		if msg.err != nil {
			d.ReportErr = views.Printable(msg.err.Error())
		} else {
			makePrintable(msg.r)
			d.Report = msg.r
		}
	}
	return m, tea.Batch(m.broadcast(loadedMsg{stage}), next)
}

// key handles a key press: a page that is typing takes every key; then
// the keys that work on every page; then the page's own.
func (m Model) key(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	if m.cmd.text != nil {
		return m.commandKey(msg)
	}
	if pr, ok := m.page().(prompter); ok {
		if _, typing := pr.Prompt(); typing {
			return m, m.page().Update(msg)
		}
	}
	m.c.note = ""
	k := m.c.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.full, m.helpAt = !m.full, 0
		return m, nil
	case m.full && key.Matches(msg, k.Cancel):
		m.full = false
		return m, nil
	case key.Matches(msg, k.Pages):
		m.active, m.full, m.overlay = int(msg.String()[0]-'1'), false, nil
		return m, nil
	case key.Matches(msg, k.NextPage):
		m.active, m.full, m.overlay = (m.active+1)%len(m.pages), false, nil
		return m, nil
	case key.Matches(msg, k.PrevPage):
		m.active, m.full, m.overlay = (m.active+len(m.pages)-1)%len(m.pages), false, nil
		return m, nil
	case key.Matches(msg, k.Command):
		m.startCommand()
		return m, nil
	case m.overlay != nil && !m.full:
		if m.overlay.update(msg) {
			m.overlay = nil
		}
		return m, nil
	case key.Matches(msg, k.Mouse):
		m.mouse = !m.mouse
		if m.mouse {
			m.c.note = "mouse on: the wheel scrolls; hold shift to select text (m turns it off)"
		} else {
			m.c.note = "mouse off: the terminal selects text (m turns the wheel on)"
		}
		return m, nil
	}
	if m.full {
		m.scrollHelp(msg)
		return m, nil
	}
	return m, m.page().Update(msg)
}

// pageHeight is the room for a page: the screen less the tab bar, the
// status line and the help bar.
func (m Model) pageHeight() int { return max(m.h-3, 1) }

// View draws the screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	if m.mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	if m.opts.Dumb {
		// A terminal that only prints: no screen switch, no modes, no title.
		v.DisableBracketedPasteMode = true
		return v
	}
	v.AltScreen = true
	v.WindowTitle = "panicscope " + m.name
	return v
}

// render is the whole screen as text: tabs, page, status line, help bar.
func (m Model) render() string {
	var page string
	var bar help.KeyMap = barHelp{m.c.keys, m.page()}
	switch {
	case m.full:
		page = m.fullHelp()
	case m.overlay != nil:
		page, bar = m.overlay.View(), barHelp{m.c.keys, m.overlay}
	default:
		page = m.page().View()
	}
	names := make([]string, len(m.pages))
	for i, p := range m.pages {
		names[i] = p.Title()
	}
	screen := strings.Join([]string{
		views.Tabs(names, m.active, m.w, m.name, m.c.st),
		page,
		m.statusLine(),
		// help.Model can overflow when its ellipsis does not fit: cut it.
		views.Window(m.c.st, []string{m.help.View(bar)}, 0, m.w, 1),
	}, "\n")
	if m.opts.ASCII {
		screen = views.ToASCII(screen)
	}
	return screen
}

// scrollHelp moves the help page when it is taller than the screen.
func (m *Model) scrollHelp(msg tea.KeyPressMsg) {
	k, h := m.c.keys, m.pageHeight()
	d := 0
	switch {
	case key.Matches(msg, k.Up):
		d = -1
	case key.Matches(msg, k.Down):
		d = 1
	case key.Matches(msg, k.PageUp):
		d = -max(h-1, 1)
	case key.Matches(msg, k.PageDown):
		d = max(h-1, 1)
	case key.Matches(msg, k.Top):
		d = -m.helpAt
	case key.Matches(msg, k.Bottom):
		d = 1 << 30
	}
	m.helpAt = views.ClampOffset(m.helpAt+d, len(m.helpLines()), h)
}

// helpGroup is a titled column of the help page.
type helpGroup struct {
	title string
	keys  []key.Binding
}

// fullHelp is the help page shown by '?', scrolled.
func (m Model) fullHelp() string {
	return views.Window(m.c.st, m.helpLines(), m.helpAt, m.w, m.pageHeight())
}

// helpLines is the whole help page: the keys of every page, grouped, side
// by side as far as the width allows, then the pages' notes.
func (m Model) helpLines() []string {
	st, k := m.c.st, m.c.keys
	groups := []helpGroup{{"Pages", k.global()}, {"Move", k.moves()}}
	var notes []string
	for _, p := range m.pages {
		for _, g := range p.FullHelp() {
			groups = append(groups, helpGroup{p.Title(), g})
		}
		if n, ok := p.(helpNoter); ok {
			notes = append(notes, n.HelpNote())
		}
	}
	const colW = 38
	cols := max(min(m.w/colW, len(groups)), 1)
	var blocks []string
	for _, g := range groups {
		keyW := 0
		for _, b := range g.keys {
			keyW = max(keyW, lipgloss.Width(b.Help().Key))
		}
		lines := []string{st.Heading.Render(g.title)}
		for _, b := range g.keys {
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
	for _, n := range notes {
		lines = append(lines, st.Dim.Render(n))
	}
	var out []string
	for _, l := range lines {
		if lipgloss.Width(l) > m.w {
			out = append(out, strings.Split(lipgloss.NewStyle().Width(m.w).Render(l), "\n")...)
		} else {
			out = append(out, l)
		}
	}
	return out
}

// statusLine shows a page's prompt, the open error, a note, the load
// progress or the problems found; the page's position goes on the right.
func (m Model) statusLine() string {
	st, d := m.c.st, m.c.data
	var left string
	prompt, typing := "", false
	if pr, ok := m.page().(prompter); ok {
		prompt, typing = pr.Prompt()
	}
	switch {
	case m.cmd.text != nil:
		left = ":" + *m.cmd.text + st.Glyphs.Cursor
	case typing:
		left = prompt + st.Glyphs.Cursor
	case m.cmd.running != "":
		left = m.spin.View() + " " + st.Status.Render("running :"+m.cmd.running+"…")
	case d.OpenErr != "":
		left = st.Error.Render("cannot read the dump: " + d.OpenErr)
	case m.c.note != "":
		left = st.Warning.Render(m.c.note)
	case d.Loading != "":
		left = m.spin.View() + " " + st.Status.Render(d.Loading+"…")
	default:
		left = m.problemSummary()
	}
	right := ""
	if m.overlay != nil && !m.full {
		right = st.Status.Render(m.overlay.Position())
	} else if !m.full {
		right = st.Status.Render(m.page().Position())
	} else if n, h := len(m.helpLines()), m.pageHeight(); n > h {
		right = st.Status.Render(fmt.Sprintf("help %d%%", 100*(m.helpAt+h)/n))
	}
	if gap := m.w - lipgloss.Width(left) - lipgloss.Width(right); gap >= 1 {
		return left + strings.Repeat(" ", gap) + right
	}
	return views.Window(st, []string{left}, 0, m.w, 1)
}

// problemSummary counts what could not be read, naming the first problem.
func (m Model) problemSummary() string {
	problems := views.ProblemLines(m.c.data)
	if len(problems) == 0 {
		return ""
	}
	s := fmt.Sprintf("%d problem", len(problems))
	if len(problems) > 1 {
		s += "s"
	}
	return m.c.st.Warning.Render(s + " (Overview lists them): " + problems[0])
}
