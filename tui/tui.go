// Package tui is panicscope's interactive view of a crash dump: one
// bubbletea model whose pages are the pure renderers of package views. The
// dump loads in stages inside commands, so the first screen shows at once.
package tui

import (
	"errors"

	tea "charm.land/bubbletea/v2"
)

// Options change how the TUI draws.
type Options struct {
	ASCII   bool // 7-bit glyphs only: dumb and serial terminals, --ascii
	NoColor bool // no colour (NO_COLOR): bold, underline and reverse only

	// ProgramOptions are passed to tea.NewProgram (tests give input,
	// output and a window size).
	ProgramOptions []tea.ProgramOption
}

// ASCIITerminal reports whether a terminal type cannot be trusted with
// Unicode marks and box characters: unset, dumb, the Linux console and the
// DEC serial terminals.
func ASCIITerminal(term string) bool {
	switch term {
	case "", "dumb", "linux", "vt100", "vt102", "vt220":
		return true
	}
	return false
}

// Run shows src until the user quits, then closes it. A dump that could
// not be opened is returned as the error, after the TUI has shown it.
func Run(src Source, opts Options) error {
	final, err := tea.NewProgram(New(src, opts), opts.ProgramOptions...).Run()
	if cerr := src.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if m, ok := final.(Model); ok && m.data.OpenErr != "" {
		return errors.New(m.data.OpenErr)
	}
	return nil
}
