package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// Commander is a Source that also runs panicscope's commands on its dump
// for the command line (":ps", ":bt --all", ":struct task_struct ADDR"):
// line is the command and its arguments without the DUMP, width the
// room the output will be shown in. Like the stages, it is called from a
// command, never from Update.
type Commander interface {
	Command(line string, width int) (string, error)
}

// commandMsg is a command's output.
type commandMsg struct {
	line string
	out  string
	err  error
}

func runCommand(c Commander, line string, width int) tea.Cmd {
	return func() tea.Msg {
		out, err := c.Command(line, width)
		return commandMsg{line, out, err}
	}
}

// commandLine is the ":" prompt and the commands typed before.
type commandLine struct {
	text    *string  // nil when not typing
	history []string // oldest first
	at      int      // the history entry shown; len(history) is the new line
	running string   // the command being run
}

// startCommand opens the prompt, if the source runs commands.
func (m *Model) startCommand() {
	if _, ok := m.src.(Commander); !ok {
		m.c.note = "this view runs no commands"
		return
	}
	m.cmd.text, m.cmd.at = new(string), len(m.cmd.history)
}

// commandKey edits the prompt: enter runs the line, esc cancels, up and
// down go through the lines typed before.
func (m Model) commandKey(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	cl := &m.cmd
	text := *cl.text
	switch msg.String() {
	case "enter":
		cl.text = nil
		line := strings.TrimSpace(text)
		if line == "" {
			return m, nil
		}
		if n := len(cl.history); n == 0 || cl.history[n-1] != line {
			cl.history = append(cl.history, line)
		}
		cl.running = line
		return m, tea.Batch(runCommand(m.src.(Commander), line, m.w), m.spin.Tick)
	case "esc", "ctrl+c":
		cl.text = nil
		return m, nil
	case "up":
		if cl.at > 0 {
			cl.at--
			text = cl.history[cl.at]
		}
	case "down":
		if cl.at < len(cl.history) {
			cl.at++
			text = ""
			if cl.at < len(cl.history) {
				text = cl.history[cl.at]
			}
		}
	case "backspace", "ctrl+h":
		if r := []rune(text); len(r) > 0 {
			text = string(r[:len(r)-1])
		} else {
			cl.text = nil // backspace on an empty line leaves it, as in vi
			return m, nil
		}
	case "ctrl+u":
		text = ""
	default:
		text += msg.Text
	}
	cl.text = &text
	return m, nil
}

// commandDone shows a command's output (and its error) in a pane over the
// pages.
func (m Model) commandDone(msg commandMsg) Model {
	m.cmd.running = ""
	lines := strings.Split(strings.TrimRight(msg.out, "\n"), "\n")
	if msg.out == "" {
		lines = nil
	}
	for i, l := range lines {
		lines[i] = views.Printable(l)
	}
	if msg.err != nil {
		lines = append(lines, m.c.st.Error.Render(views.Printable(msg.err.Error())))
	}
	if len(lines) == 0 {
		lines = []string{m.c.st.Dim.Render("(no output)")}
	}
	p := newPane(m.c, ":"+msg.line, func(int) []string { return lines }, m.w, m.pageHeight())
	p.cut = true
	m.overlay = p
	return m
}

func commandKey() key.Binding {
	return key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "command (ps, bt, struct…)"))
}
