package tui

import (
	"fmt"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/views"
)

// TestPageContract: every page of the list has a unique title shown in the
// tab bar, is reached by its digit, fills its room exactly before and
// after loading, and has help for the help bar — so a new page is checked
// as soon as it is added to the list.
func TestPageContract(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	fresh := New(src, Options{})
	full, _ := loaded(t, "kdump-6.1-lzo", Options{})
	if len(full.pages) != len(pages) {
		t.Fatalf("%d pages in the model, %d in the list", len(full.pages), len(pages))
	}
	seen := map[string]bool{}
	for i, p := range full.pages {
		title := p.Title()
		if title == "" || seen[title] {
			t.Errorf("page %d: title %q empty or repeated", i, title)
		}
		seen[title] = true
		if len(p.ShortHelp()) == 0 {
			t.Errorf("%s: no keys for the help bar", title)
		}
		for _, m := range []Model{fresh, full} {
			m = press(m, fmt.Sprint(i+1))
			if m.page().Title() != title {
				t.Errorf("key %d shows %s, want %s", i+1, m.page().Title(), title)
			}
			lines := strings.Split(screen(m), "\n")
			mustContain(t, lines[0], fmt.Sprintf("[%d %s]", i+1, title))
			if len(lines) != defaultH {
				t.Errorf("%s: %d lines, want %d", title, len(lines), defaultH)
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > defaultW {
					t.Errorf("%s: line wider than %d: %q", title, defaultW, l)
				}
			}
		}
	}
}

// TestBacktrace: enter on the CPUs page opens the whole stack of the CPU
// under the cursor (the panicking one first), every frame of it; esc
// closes it and down moves to the other CPU.
func TestBacktrace(t *testing.T) {
	m, src := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "6")
	mustContain(t, screen(m), "› CPU 1  panicking")
	m = press(m, "enter")
	mustContain(t, screen(m), "Backtrace of CPU 1", "10 frames, innermost first")
	var seen strings.Builder
	for range 5 {
		seen.WriteString(screen(m))
		m = press(m, "pgdown")
	}
	for n, f := range src.r.CPUs[1].Stack {
		if !strings.Contains(seen.String(), fmt.Sprintf("#%d ", n)) || !strings.Contains(seen.String(), f) {
			t.Errorf("frame #%d %q not shown:\n%s", n, f, seen.String())
		}
	}
	m = press(m, "esc")
	if strings.Contains(screen(m), "Backtrace of") {
		t.Fatalf("esc did not close the backtrace:\n%s", screen(m))
	}
	m = press(m, "up", "enter")
	mustContain(t, screen(m), "Backtrace of CPU 0", "13 frames", "? crash_nmi_callback+0x3c/0x50")
	m = press(m, "G")
	mustContain(t, screen(m), "secondary_startup_64_no_verify+0xe5/0xeb")
}

// TestPstoreText: the Buffers page says the records' text was read, and
// enter shows it.
func TestPstoreText(t *testing.T) {
	m, src := loaded(t, "qemu-6.1-lp-oops-pstore", Options{})
	m = press(m, "4")
	if strings.Contains(screen(m), "compressed") {
		t.Errorf("records with text shown as compressed:\n%s", screen(m))
	}
	mustContain(t, screen(m), "text read")
	m = press(m, "enter")
	mustContain(t, screen(m), "pstore records", "zone 0 dmesg Oops#1 Part1", "Linux version 6.1.0-56-amd64")
	if len(src.r.Pstore.Records) < 2 {
		t.Fatal("fixture lost its records")
	}
	m = press(m, "G")
	last := strings.Split(strings.TrimRight(src.r.Pstore.Records[1].Text, "\n"), "\n")
	tail := last[len(last)-1]
	mustContain(t, screen(m), tail[:min(len(tail), 40)])

	// Without text, enter says so instead of opening an empty pane.
	m, src = loaded(t, "qemu-6.1-lp-oops-pstore", Options{})
	for i := range src.r.Pstore.Records {
		src.r.Pstore.Records[i].Text = ""
	}
	m = press(m, "4", "enter")
	mustContain(t, screen(m), "no pstore record text was read", "compressed")
}

// TestMouseToggle: mouse tracking is off unless asked for, so the terminal
// selects text; m turns it on and off.
func TestMouseToggle(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	if mm := m.View().MouseMode; mm != tea.MouseModeNone {
		t.Fatalf("mouse mode %v by default", mm)
	}
	m = press(m, "m")
	if mm := m.View().MouseMode; mm != tea.MouseModeCellMotion {
		t.Errorf("m: mouse mode %v", mm)
	}
	mustContain(t, screen(m), "mouse on")
	m = press(m, "m")
	if mm := m.View().MouseMode; mm != tea.MouseModeNone {
		t.Errorf("m again: mouse mode %v", mm)
	}
	m, _ = loaded(t, "kdump-6.1-lzo", Options{Mouse: true})
	if mm := m.View().MouseMode; mm != tea.MouseModeCellMotion {
		t.Errorf("Options.Mouse: mouse mode %v", mm)
	}
}

// TestHelpScrolls: the help page lists every page's keys; at 80x24 it is
// taller than the screen and scrolls to its last line.
func TestHelpScrolls(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "?")
	for _, p := range m.pages {
		if len(p.FullHelp()) > 0 {
			mustContain(t, strings.Join(m.helpLines(), "\n"), p.Title())
		}
	}
	mustContain(t, screen(m), "Pages", "Move", "help ")
	m = press(m, "G")
	mustContain(t, screen(m), "CPUs: enter opens the full backtrace", "help 100%")
	m = press(m, "esc")
	if m.full {
		t.Error("esc did not close the help")
	}
}

// notesPage is a page as a new one would be written: one file, one entry.
type notesPage struct {
	c    *common
	keys struct{ Shout key.Binding }
	w, h int
	loud bool
}

func newNotes(c *common) Page {
	p := &notesPage{c: c}
	p.keys.Shout = key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "shout"))
	return p
}

func (p *notesPage) Title() string    { return "Notes" }
func (p *notesPage) SetSize(w, h int) { p.w, p.h = w, h }
func (p *notesPage) Position() string { return "notes" }
func (p *notesPage) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, p.keys.Shout) {
		p.loud = !p.loud
	}
	return nil
}
func (p *notesPage) View() string {
	text := "some notes"
	if p.loud {
		text = "SOME NOTES"
	}
	return views.Window(p.c.st, []string{text}, 0, p.w, p.h)
}
func (p *notesPage) ShortHelp() []key.Binding  { return []key.Binding{p.keys.Shout} }
func (p *notesPage) FullHelp() [][]key.Binding { return [][]key.Binding{{p.keys.Shout}} }

// TestAddPage: a page added to the list gets its tab, its digit, its keys,
// its help bar and its place on the help page, with nothing else changed.
func TestAddPage(t *testing.T) {
	saved := pages
	pages = append(append([]func(*common) Page{}, saved...), newNotes)
	defer func() { pages = saved }()

	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	mustContain(t, screen(m), " 7 Notes ")
	m = press(m, "7")
	mustContain(t, screen(m), "[7 Notes]", "some notes", "S shout", "notes")
	m = press(m, "S")
	mustContain(t, screen(m), "SOME NOTES")
	m = press(m, "tab")
	if m.page().Title() != "Overview" {
		t.Errorf("tab after the last page: %s", m.page().Title())
	}
	m = press(m, "shift+tab", "?", "G")
	mustContain(t, strings.Join(m.helpLines(), "\n"), "Notes", "shout", "1-7")
}

// TestHelpBarFits: at 80 columns the help bar of every page, and of the
// panes, still ends with help and quit.
func TestHelpBarFits(t *testing.T) {
	for opts, end := range map[*Options]string{{}: "? help • q quit", {ASCII: true}: "? help | q quit"} {
		m, _ := loaded(t, "qemu-6.1-lp-oops-pstore", *opts)
		for _, keys := range [][]string{{"1"}, {"2"}, {"3"}, {"4"}, {"4", "enter"}, {"5"}, {"6"}, {"6", "enter"}, {":", "echo", "enter"}} {
			m = press(m, keys...)
			lines := strings.Split(screen(m), "\n")
			if bar := lines[len(lines)-1]; !strings.HasSuffix(strings.TrimRight(bar, " "), end) {
				t.Errorf("%+v %v: help bar %q", *opts, keys, bar)
			}
			m = press(m, "esc")
		}
	}
}
