package main

import (
	"fmt"
	"io"
	"os"

	"github.com/panicscope/panicscope/tui"
	"github.com/panicscope/panicscope/vmcore/target"
)

// tuiFlags are the flags of `panicscope DUMP` and `panicscope demo`.
type tuiFlags struct {
	symbols string
	ascii   bool
}

func parseTUIFlags(name string, args []string, stderr io.Writer) (tuiFlags, []string, error) {
	fs := newFlagSet(name, stderr)
	var f tuiFlags
	fs.StringVar(&f.symbols, "symbols", "", "System.map or /proc/kallsyms copy (kernels without kallsyms in VMCOREINFO)")
	fs.BoolVar(&f.ascii, "ascii", false, "draw with ASCII only (automatic when TERM is unset, dumb, linux or vt100/vt220)")
	pos, err := parseInterspersed(fs, args)
	return f, pos, err
}

// runTUI is `panicscope DUMP [--symbols FILE] [--ascii]`: the interactive view.
func runTUI(args []string, stdout, stderr io.Writer) error {
	f, pos, err := parseTUIFlags("panicscope", args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("usage: panicscope DUMP [--symbols FILE] [--ascii]")
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
	src := tui.NewDumpSource(path, target.Options{SymbolsFile: f.symbols})
	return tui.Run(src, tui.Options{
		ASCII:   f.ascii || tui.ASCIITerminal(os.Getenv("TERM")),
		NoColor: os.Getenv("NO_COLOR") != "",
	})
}
