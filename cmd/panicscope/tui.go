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
}

func parseTUIFlags(name string, args []string, stderr io.Writer) (tuiFlags, []string, error) {
	fs := newFlagSet(name, stderr)
	var f tuiFlags
	f.target.register(fs)
	fs.BoolVar(&f.ascii, "ascii", false, "draw with ASCII only (automatic when TERM is unset, dumb, linux or vt100/vt220)")
	pos, err := parseInterspersed(fs, args)
	if err == nil && f.target.live {
		err = fmt.Errorf("--live: the interactive view reads dumps; use 'panicscope report --live' or 'plan --live'")
	}
	return f, pos, err
}

// runTUI is `panicscope DUMP [--symbols FILE] [--ascii]`: the interactive view.
func runTUI(args []string, stdout, stderr io.Writer) error {
	f, pos, err := parseTUIFlags("panicscope", args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("usage: panicscope DUMP [--symbols FILE] [--vmlinux FILE [--force]] [--ascii]")
	}
	return openTUI(pos[0], f)
}

// runDemo is `panicscope demo`: the interactive view on the dump built into
// the binary.
func runDemo(args []string, stdout, stderr io.Writer) error {
	f, pos, err := parseTUIFlags("demo", args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("usage: panicscope demo [--ascii]")
	}
	path, cleanup, err := demoDump()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer cleanup()
	return openTUI(path, f)
}

func openTUI(path string, f tuiFlags) error {
	src := tui.NewDumpSource(path, f.target.options())
	return tui.Run(src, tui.Options{
		ASCII:   f.ascii || tui.ASCIITerminal(os.Getenv("TERM")),
		NoColor: os.Getenv("NO_COLOR") != "",
	})
}
