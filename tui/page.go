package tui

import (
	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/views"
)

// pages is every page in tab order; page i is shown with key i+1. Adding a
// page is adding a file that implements Page and one entry here: the tab
// bar, the page keys, the help bar and the help page come from the list.
var pages = []func(*common) Page{
	newOverview,
	newTimeline,
	newChains,
	newBuffers,
	newLog,
	newCPUs,
}

// Page is one tab, a component in the manner of soft-serve's TabComponent:
// it keeps its own state, keys and help. The Model keeps what is around it
// (tab bar, status line, help bar) and the keys that work on every page.
type Page interface {
	// Title is the tab's name.
	Title() string
	// SetSize gives the page its room: the screen less the tab bar, the
	// status line and the help bar.
	SetSize(w, h int)
	// Update takes key presses and mouse wheel turns while the page is
	// shown, and every other message (a load stage stored in common.data,
	// a jump from another page) always.
	Update(msg tea.Msg) tea.Cmd
	// View is the page: exactly h lines of at most w cells.
	View() string
	// Position is where the page is, for the right of the status line.
	Position() string
	// ShortHelp is the page's keys for the help bar; FullHelp its key
	// groups for the help page (keys every page has are the Model's).
	help.KeyMap
}

// prompter is a page that can be typing text: while it is, every key goes
// to the page, and the status line shows the text.
type prompter interface {
	Prompt() (text string, typing bool)
}

// helpNoter is a page with a sentence for the help page.
type helpNoter interface {
	HelpNote() string
}

// common is what the Model shares with its pages.
type common struct {
	data views.Data
	st   views.Styles
	keys KeyMap
	note string // a message for the status line, until the next key
}

// Messages between the Model and the pages.
type (
	// loadedMsg: a load stage's result is in common.data.
	loadedMsg struct{ stage string }
	// focusMsg asks the Model to show the page with this title.
	focusMsg struct{ title string }
)

func focus(title string) tea.Cmd {
	return func() tea.Msg { return focusMsg{title} }
}
