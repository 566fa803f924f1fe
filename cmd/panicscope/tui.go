package main

import (
	"fmt"
	"io"
	"os"

	"github.com/panicscope/panicscope/tui"
)

// tuiFlags are the flags of `panicscope DUMP` and `panicscope demo`.
type tuiFlags struct {
	target targetFlags
	ascii  bool
	mouse  bool
}

func parseTUIFlags(name string, args []string, stdout io.Writer) (tuiFlags, []string, error) {
	fs := newFlagSet(name, stdout)
	var f tuiFlags
	f.target.register(fs)
	fs.BoolVar(&f.ascii, "ascii", false, "draw with ASCII only (automatic when TERM is unset, dumb, linux or vt100/vt220)")
	fs.BoolVar(&f.mouse, "mouse", false, "start with the mouse wheel on (m toggles it; off, the terminal selects text)")
	pos, err := parseInterspersed(fs, args)
	if err == nil && f.target.live {
		err = usagef("--live: the interactive view reads dumps; use 'panicscope report --live' or 'plan --live'")
	}
	return f, pos, err
}

// runTUI is `panicscope DUMP [--symbols FILE] [--ascii]`: the interactive view.
func runTUI(args []string, stdout, stderr io.Writer) error {
	f, pos, err := parseTUIFlags("panicscope", args, stdout)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: panicscope DUMP [DUMP.2 ...] [--symbols FILE] [--vmlinux FILE [--force]] [--ascii]")
	}
	// More than one path: the parts of a makedumpfile --split set.
	f.target.parts = append(f.target.parts, pos[1:]...)
	return openTUI(pos[0], f)
}

// runDemo is `panicscope demo`: the interactive view on the dump built into
// the binary.
func runDemo(args []string, stdout, stderr io.Writer) error {
	f, pos, err := parseTUIFlags("demo", args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("usage: panicscope demo [--ascii]")
	}
	path, cleanup, err := demoDump()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer cleanup()
	return openTUI(path, f)
}

func openTUI(path string, f tuiFlags) error {
	// tui.Run identifies the dump before it takes the screen: a file that
	// is not a dump (or not there) is an error on the command line.
	src := newDumpSource(path, f.target.options())
	src.flags = f.target.args()
	opts := tui.TerminalOptions(os.Getenv("TERM"))
	opts.ASCII = opts.ASCII || f.ascii
	opts.NoColor = opts.NoColor || os.Getenv("NO_COLOR") != ""
	opts.Mouse = f.mouse
	return tui.Run(src, opts)
}
