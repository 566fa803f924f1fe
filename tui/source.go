package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// Source is a dump (or a live kernel) read in stages, fastest first, so the
// first screen shows as soon as the dump is identified. It is implemented
// outside this package (cmd/panicscope) over the dump reader; the TUI sees
// only the data types views draws. Identify, Log and Analyse are called
// once each, in that order, never from Update — Run calls Identify before
// the program starts, the Model's commands the rest — and Close after the
// program ends, possibly while a stage still runs. What the stages return
// is the TUI's: it replaces control characters in its strings in place.
type Source interface {
	Name() string // short name for the tab bar: "kdump-6.1-lzo/vmcore"
	Path() string
	Identify() (*views.Identity, error)
	Log() ([]views.LogLine, error)
	Analyse() (*views.Report, error)
	Close() error
}

// Load stages as the status line names them.
const (
	stageOpen    = "opening the dump"
	stageLog     = "reading the kernel log"
	stageAnalyse = "reading symbols, types and kernel objects"
)

// Messages carrying each stage's result to Update.
type (
	identifiedMsg struct {
		id  *views.Identity
		err error
	}
	logMsg struct {
		lines []views.LogLine
		err   error
	}
	analysedMsg struct {
		r   *views.Report
		err error
	}
)

func identifyCmd(src Source) tea.Cmd {
	return func() tea.Msg {
		id, err := src.Identify()
		return identifiedMsg{id, err}
	}
}

func logCmd(src Source) tea.Cmd {
	return func() tea.Msg {
		lines, err := src.Log()
		return logMsg{lines, err}
	}
}

func analyseCmd(src Source) tea.Cmd {
	return func() tea.Msg {
		r, err := src.Analyse()
		return analysedMsg{r, err}
	}
}
