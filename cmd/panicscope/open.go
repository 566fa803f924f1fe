package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"

	"github.com/panicscope/panicscope/vmcore/target"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// targetFlags are the flags every command that reads kernel objects takes.
// partsFlag collects repeated --part FILE flags.
type partsFlag []string

func (p *partsFlag) String() string     { return strings.Join(*p, ",") }
func (p *partsFlag) Set(v string) error { *p = append(*p, v); return nil }

type targetFlags struct {
	parts   partsFlag
	symbols string
	vmlinux string
	force   bool
	live    bool
}

func (f *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.symbols, "symbols", "", "System.map or /proc/kallsyms copy (kernels without kallsyms in VMCOREINFO)")
	fs.StringVar(&f.vmlinux, "vmlinux", "", "DWARF vmlinux of the dumped kernel (optional: types and symbols from debuginfo)")
	fs.BoolVar(&f.force, "force", false, "accept a --vmlinux whose build ID differs from the dump's")
	fs.Var(&f.parts, "part", "another `FILE` of a makedumpfile --split set (repeatable; parts named like DUMP with other digits are found without it)")
	fs.BoolVar(&f.live, "live", false, "read the running kernel through /proc/kcore instead of a DUMP (needs root)")
}

// split takes the DUMP argument off the positionals; with --live there is
// none. ok is false when a DUMP is missing.
func (f *targetFlags) split(pos []string) (dump string, rest []string, ok bool) {
	if f.live {
		return "", pos, true
	}
	if len(pos) == 0 {
		return "", nil, false
	}
	return pos[0], pos[1:], true
}

// parse reads the command line (flags may follow positionals) and splits
// off the DUMP, of which --live takes the place. The other positionals must
// number at least minRest and at most maxRest (-1: any); else usage is the
// error.
func (f *targetFlags) parse(fs *flag.FlagSet, args []string, minRest, maxRest int, usage string) (dump string, rest []string, err error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", nil, err
	}
	dump, rest, ok := f.split(pos)
	if !ok || len(rest) < minRest || (maxRest >= 0 && len(rest) > maxRest) {
		return "", nil, usageError{usage}
	}
	return dump, rest, nil
}

// options are the target options the flags chose.
func (f *targetFlags) options() target.Options {
	return target.Options{SymbolsFile: f.symbols, Vmlinux: f.vmlinux, Force: f.force, SplitParts: f.parts}
}

// open opens the dump at path, or the running kernel with --live: the one
// way every command opens what it reads.
func (f *targetFlags) open(path string, stderr io.Writer) (*target.Target, error) {
	if f.live {
		return target.OpenLive(f.options())
	}
	return target.Open(path, f.options())
}

// warnProblems prints what could not be loaded, so partial output is never
// mistaken for complete output.
// Problems are finding.Problems (printed by their Error) or plain text.
func warnProblems[P any](w io.Writer, problems []P) {
	for _, p := range problems {
		fmt.Fprintln(w, "panicscope: warning:", termsafe.String(fmt.Sprint(p)))
	}
}

// countSet counts the options that are set, to refuse contradictory ones.
func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

// minWidth is the narrowest text output that still reads.
const minWidth = 40

// outputWidth is the width text output wraps at: the --width flag when
// given, else the terminal's width when w is one, else 80 (a file, a pipe,
// a serial console that reports nothing).
func outputWidth(w io.Writer, flagWidth int) int {
	if flagWidth > 0 {
		return flagWidth
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(f.Fd()) {
		if cols, _, err := term.GetSize(f.Fd()); err == nil && cols >= minWidth {
			return cols
		}
	}
	return 80
}
