// Package tui is panicscope's interactive view of a crash dump: one
// bubbletea model whose pages (see pages) are components drawn by package
// views. The dump comes through a Source implemented outside the package,
// loaded in stages inside commands so the first screen shows at once; tui
// imports views and the charm libraries, nothing that reads a dump.
package tui

import (
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
)

// Options change how the TUI draws.
type Options struct {
	ASCII   bool // 7-bit glyphs only: dumb and serial terminals, --ascii
	NoColor bool // no colour (NO_COLOR, terminals without colour): bold, underline and reverse only
	Dumb    bool // a terminal that only prints: no alternate screen, modes or title (implies Quiet)
	Quiet   bool // send no keyboard-protocol or mode queries (terminals older than xterm's extensions)
	Mouse   bool // start with mouse tracking on (m toggles it); off leaves text selection to the terminal

	// ProgramOptions are passed to tea.NewProgram (tests give input,
	// output and a window size).
	ProgramOptions []tea.ProgramOption
}

// TerminalOptions are the options a terminal type needs: ASCII glyphs
// where Unicode marks and box characters cannot be trusted (unset, dumb,
// the Linux console, the DEC serial terminals), no colour and no queries
// where the terminal has neither, and the dumb mode for dumb or unknown
// terminals.
func TerminalOptions(term string) Options {
	switch term {
	case "", "dumb":
		return Options{ASCII: true, NoColor: true, Dumb: true, Quiet: true}
	case "vt100", "vt102", "vt220":
		return Options{ASCII: true, NoColor: true, Quiet: true}
	case "linux":
		return Options{ASCII: true}
	}
	return Options{}
}

// Run identifies the dump, then shows it until the user quits, and closes
// it. A dump that cannot be opened is returned at once, before the screen
// is taken over.
func Run(src Source, opts Options) error {
	id, err := src.Identify()
	if err != nil {
		if cerr := src.Close(); cerr != nil {
			err = fmt.Errorf("%w (closing: %v)", err, cerr)
		}
		return err
	}
	popts := opts.ProgramOptions
	if opts.Dumb || opts.Quiet {
		popts = append([]tea.ProgramOption{tea.WithOutput(quietOutput{os.Stdout})}, popts...)
	}
	_, err = tea.NewProgram(New(src, opts).identified(id), popts...).Run()
	if cerr := src.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}
