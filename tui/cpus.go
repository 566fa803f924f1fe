package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// cpusPage: each CPU's role, instruction pointer, task and registers, with
// a cursor on one CPU; enter opens that CPU's full backtrace.
type cpusPage struct {
	c    *common
	sel  int // index into Report.CPUs
	off  int
	w, h int
	pane *pane
}

// gutter is the cursor column before the CPU headings.
const gutter = 2

func newCPUs(c *common) Page { return &cpusPage{c: c} }

func (p *cpusPage) Title() string { return "CPUs" }

// doc is the page's lines and where each CPU's block starts; with no CPU
// state, views' page that says why, and no blocks.
func (p *cpusPage) doc() (lines []string, starts []int) {
	st := p.c.st
	blocks := views.CPUBlocks(p.c.data, p.w-gutter, st)
	if len(blocks) == 0 {
		return views.CPUsLines(p.c.data, p.w, st), nil
	}
	for i, b := range blocks {
		if i > 0 {
			lines = append(lines, "")
		}
		starts = append(starts, len(lines))
		head := true
		for _, l := range b {
			mark := "  "
			if head && l != "" {
				head = false
				if i == p.sel {
					mark = st.Glyphs.Cursor + " "
				}
			}
			lines = append(lines, mark+l)
		}
	}
	return lines, starts
}

func (p *cpusPage) SetSize(w, h int) {
	p.w, p.h = w, h
	p.scrollBy(0)
	if p.pane != nil {
		p.pane.SetSize(w, h)
	}
}

func (p *cpusPage) Update(msg tea.Msg) tea.Cmd {
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
		if msg.stage == stageAnalyse {
			p.selectCPU(max(views.PanickingCPU(p.c.data), 0))
		}
	case tea.MouseWheelMsg:
		p.scrollBy(3 * wheelDelta(msg))
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			p.selectCPU(p.sel - 1)
		case key.Matches(msg, k.Down):
			p.selectCPU(p.sel + 1)
		case key.Matches(msg, k.PageUp):
			p.scrollBy(-max(p.h-1, 1))
		case key.Matches(msg, k.PageDown):
			p.scrollBy(max(p.h-1, 1))
		case key.Matches(msg, k.Top):
			p.selectCPU(0)
		case key.Matches(msg, k.Bottom):
			p.selectCPU(1 << 30)
		case key.Matches(msg, k.Open):
			p.openBacktrace()
		}
	}
	return nil
}

// selectCPU moves the cursor to CPU block i and scrolls its heading into
// view, with as much of the block as fits.
func (p *cpusPage) selectCPU(i int) {
	lines, starts := p.doc()
	if len(starts) == 0 {
		return
	}
	p.sel = min(max(i, 0), len(starts)-1)
	first := starts[p.sel]
	end := len(lines)
	if p.sel+1 < len(starts) {
		end = starts[p.sel+1]
	}
	if end > p.off+p.h {
		p.off = end - p.h
	}
	if first < p.off || end-first > p.h {
		p.off = first
	}
	p.scrollBy(0)
}

func (p *cpusPage) scrollBy(d int) {
	lines, _ := p.doc()
	p.off = views.ClampOffset(p.off+d, len(lines), p.h)
}

func (p *cpusPage) openBacktrace() {
	_, starts := p.doc()
	if len(starts) == 0 {
		p.c.note = "no CPU state to show a backtrace of"
		return
	}
	c, sel := p.c, p.sel
	p.pane = newPane(c, fmt.Sprintf("Backtrace of CPU %d", c.data.Report.CPUs[sel].CPU), func(w int) []string {
		return views.Backtrace(c.data, sel, w, c.st)
	}, p.w, p.h)
}

func (p *cpusPage) View() string {
	if p.pane != nil {
		return p.pane.View()
	}
	lines, _ := p.doc()
	return views.Window(p.c.st, lines, p.off, p.w, p.h)
}

func (p *cpusPage) Position() string {
	if p.pane != nil {
		return p.pane.Position()
	}
	if _, starts := p.doc(); len(starts) > 0 {
		return fmt.Sprintf("cpu %d/%d", p.sel+1, len(starts))
	}
	return ""
}

func (p *cpusPage) openKey() key.Binding { return withDesc(p.c.keys.Open, "backtrace") }

func (p *cpusPage) ShortHelp() []key.Binding {
	if p.pane != nil {
		return p.pane.ShortHelp()
	}
	k := p.c.keys
	return []key.Binding{withDesc(k.Up, "prev CPU"), withDesc(k.Down, "next CPU"), p.openKey()}
}

func (p *cpusPage) FullHelp() [][]key.Binding {
	k := p.c.keys
	return [][]key.Binding{{withDesc(k.Up, "previous CPU"), withDesc(k.Down, "next CPU"), p.openKey()}}
}

func (p *cpusPage) HelpNote() string {
	return "CPUs: enter opens the full backtrace of the CPU under the cursor; esc closes it."
}
