package tui

import (
	"regexp"
	"strings"
	"testing"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// drive runs cmd and every command that follows from it synchronously,
// feeding the messages to m; spinner ticks are dropped (they sleep).
func drive(m Model, cmd tea.Cmd) Model {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil, spinner.TickMsg, tea.QuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			var next tea.Cmd
			m, next = update(m, msg)
			queue = append(queue, next)
		}
	}
	return m
}

func update(m Model, msg tea.Msg) (Model, tea.Cmd) {
	nm, cmd := m.Update(msg)
	return nm.(Model), cmd
}

// keyMsg is the key press a terminal sends for name ("enter", "q", ...).
func keyMsg(name string) tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter": {Code: tea.KeyEnter}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "esc": {Code: tea.KeyEscape},
		"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown}, "backspace": {Code: tea.KeyBackspace},
		"ctrl+c": {Code: 'c', Mod: tea.ModCtrl}, "pgdown": {Code: tea.KeyPgDown}, "end": {Code: tea.KeyEnd},
		"right": {Code: tea.KeyRight}, "left": {Code: tea.KeyLeft}, "ctrl+u": {Code: 'u', Mod: tea.ModCtrl},
	}
	if k, ok := special[name]; ok {
		return k
	}
	r := []rune(name)[0]
	return tea.KeyPressMsg{Code: r, Text: name}
}

// press sends keys; a key longer than one rune that is not a key name is
// typed rune by rune.
func press(m Model, keys ...string) Model {
	for _, k := range keys {
		if _, named := map[string]bool{"enter": true, "tab": true, "shift+tab": true, "esc": true, "up": true,
			"down": true, "backspace": true, "ctrl+c": true, "pgdown": true, "end": true, "right": true, "left": true, "ctrl+u": true}[k]; !named && len([]rune(k)) > 1 {
			for _, r := range k {
				m = press(m, string(r))
			}
			continue
		}
		var cmd tea.Cmd
		m, cmd = update(m, keyMsg(k))
		m = drive(m, cmd)
	}
	return m
}

func screen(m Model) string { return ansi.Strip(m.View().Content) }

// loaded is a model of the fixture with every stage loaded, at 80x24.
func loaded(t *testing.T, fixture string, opts Options) (Model, *fakeSource) {
	t.Helper()
	src := loadFake(t, fixture)
	m := New(src, opts)
	m, _ = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	return drive(m, m.Init()), src
}

// logOf is the model's Log page.
func logOf(m Model) *logPage {
	for _, p := range m.pages {
		if lp, ok := p.(*logPage); ok {
			return lp
		}
	}
	panic("no Log page")
}

func mustContain(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Fatalf("screen lacks %q:\n%s", w, s)
		}
	}
}

// TestLoadStages: the first screen shows before anything is read, each stage
// fills in more, and the Source is used in order from commands only.
func TestLoadStages(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	m := New(src, Options{})
	mustContain(t, screen(m), "opening the dump", "identity: still loading")
	if len(src.calls) != 0 {
		t.Fatalf("New or View read the dump: %v", src.calls)
	}
	batch := m.Init()().(tea.BatchMsg)
	var stage tea.Cmd
	for _, c := range batch {
		if msg, ok := c().(identifiedMsg); ok {
			m, stage = update(m, msg)
		}
	}
	mustContain(t, screen(m), "6.1.0-56-amd64", "reading the kernel log", "verdict: still loading")
	m, stage = update(m, stage())
	mustContain(t, screen(m), "labpanic: deliberate panic", "reading symbols, types")
	m, stage = update(m, stage())
	if stage != nil {
		t.Error("a command after the last stage")
	}
	mustContain(t, screen(m), "Verdict    kdump ran before the panic notifiers; 9 notifiers and 1 kmsg dumper")
	if strings.Contains(screen(m), "loading") {
		t.Errorf("still says loading:\n%s", screen(m))
	}
	if got := strings.Join(src.calls, ","); got != "identify,log,analyse" {
		t.Errorf("calls %s", got)
	}
}

func TestOpenError(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	src.openErr = errNotADump
	m := New(src, Options{})
	m = drive(m, m.Init())
	mustContain(t, screen(m), "cannot read the dump: not a kernel crash dump", "no identity: not a kernel crash dump")
	for _, p := range []string{"2", "3", "4", "5", "6"} {
		m = press(m, p)
		mustContain(t, screen(m), "no ")
	}
	if strings.Join(src.calls, ",") != "identify" {
		t.Errorf("went on after a failed open: %v", src.calls)
	}
}

func TestMissingLog(t *testing.T) {
	src := loadFake(t, "qemu-6.1-lp-oops-pstore")
	src.logErr = errNotADump
	m := New(src, Options{})
	m, _ = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = drive(m, m.Init())
	m = press(m, "5")
	mustContain(t, screen(m), "no kernel log: not a kernel crash dump")
	m = press(m, "p")
	mustContain(t, screen(m), "no \"Kernel panic - not syncing\" line")
	m = press(m, "1")
	mustContain(t, screen(m), "1 problem (Overview lists them)")
}

// TestTimelineToLog: the timeline opens on the running step; enter expands
// it; l on the message step jumps to the panic line; search finds hits.
func TestTimelineToLog(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "2")
	mustContain(t, screen(m), "› ▶  2 crash_kexec (before notifiers)", "row 2/11")
	m = press(m, "enter")
	// 11 steps + 5 evidence rows of the expanded step (2 params, capture, 2 CPUs).
	mustContain(t, screen(m), "capture captured by the crash kernel", "row 2/16")
	m = press(m, "down")
	mustContain(t, screen(m), "›      param   crash_kexec_post_notifiers=N")
	m = press(m, "enter")
	mustContain(t, screen(m), "no log line for this row")
	m = press(m, "k", "k", "l")
	if m.page().Title() != "Log" {
		t.Fatalf("l did not open the Log page:\n%s", screen(m))
	}
	mustContain(t, screen(m), "› [    4.121886] Kernel panic - not syncing: labpanic")
	m = press(m, "g", "/", "Oops-free", "esc")
	if logOf(m).s.Query != "" || logOf(m).input != nil {
		t.Error("esc did not cancel the prompt")
	}
	m = press(m, "/", "panic+", "backspace", "enter")
	mustContain(t, screen(m), "/panic 1 of 9")
	m = press(m, "n", "n")
	mustContain(t, screen(m), "/panic 3 of 9")
	m = press(m, "N", "N", "N")
	mustContain(t, screen(m), "/panic 9 of 9", "search wrapped to the bottom")
	m = press(m, "/", "no such text", "enter")
	mustContain(t, screen(m), `no line holds "no such text"`)
}

func TestLogKeys(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "5", "g")
	mustContain(t, screen(m), "line 1/96")
	m = press(m, "end")
	last := logOf(m).s.Offset
	m = press(m, "w")
	if logOf(m).s.Wrap {
		t.Fatal("w did not turn wrapping off")
	}
	m = press(m, "G")
	if logOf(m).s.Offset == last {
		t.Error("unwrapped lines: the last page starts at the same line")
	}
	m = press(m, "L", "L", "L", "L")
	mustContain(t, screen(m), "level ≤ err", "showing err and more severe")
	m = press(m, "L", "L", "L", "L")
	mustContain(t, screen(m), "showing every level")
	m = press(m, "g")
	m, _ = update(m, tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if logOf(m).s.Offset != 3 {
		t.Errorf("wheel: offset %d, want 3", logOf(m).s.Offset)
	}
	m = press(m, "p")
	mustContain(t, screen(m), "› [    4.121886] Kernel panic")
}

// TestEveryPageFits: every page at 80x24 and 120x40 fills the screen
// exactly, in colour and in the ASCII, no-colour mode.
func TestEveryPageFits(t *testing.T) {
	colour := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])m`)
	for _, opts := range []Options{{}, {ASCII: true, NoColor: true}} {
		m, _ := loaded(t, "qemu-6.1-lp-oops-pstore", opts)
		for _, size := range [][2]int{{80, 24}, {120, 40}, {30, 8}, {20, 6}} {
			m, _ = update(m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			for _, keys := range [][]string{{"1"}, {"2", "e"}, {"3", "end"}, {"4"}, {"4", "enter", "end"}, {"5", "w"},
				{"6", "pgdown"}, {"6", "enter", "end"}, {":", "echo x", "enter", "right"}, {"?"}, {"?", "end"}} {
				m = press(m, keys...)
				raw := m.View().Content
				lines := strings.Split(ansi.Strip(raw), "\n")
				if len(lines) != size[1] {
					t.Errorf("%v %v %v: %d lines", opts, size, keys, len(lines))
				}
				for i, l := range lines {
					if ansi.StringWidth(l) > size[0] {
						t.Errorf("%v %v %v: line %d too wide: %q", opts, size, keys, i, l)
					}
				}
				if opts.ASCII {
					for _, r := range raw {
						if r >= 0x80 {
							t.Fatalf("ASCII mode drew %q:\n%s", r, raw)
						}
					}
				}
				if opts.NoColor && colour.MatchString(raw) {
					t.Fatalf("NO_COLOR drew colour: %q", colour.FindString(raw))
				}
				m = press(m, "esc")
				if m.full || m.overlay != nil || strings.Contains(screen(m), "esc closes") {
					t.Fatalf("esc did not close the help or the pane:\n%s", screen(m))
				}
			}
		}
	}
}

func TestPagesAndQuit(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "tab", "tab")
	if m.page().Title() != "Chains" {
		t.Errorf("tab tab: page %s", m.page().Title())
	}
	m = press(m, "shift+tab", "shift+tab", "shift+tab")
	if m.page().Title() != "CPUs" {
		t.Errorf("shift+tab x3: page %s", m.page().Title())
	}
	m = press(m, "?")
	mustContain(t, screen(m), "Pages", "Move", "Timeline", "Log", "level filter")
	for _, q := range []string{"q", "ctrl+c"} {
		_, cmd := update(m, keyMsg(q))
		if cmd == nil {
			t.Fatalf("%s: no command", q)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", q)
		}
	}
}
