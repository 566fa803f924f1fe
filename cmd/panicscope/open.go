package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/panicscope/panicscope/vmcore/target"
)

// targetFlags are the flags every command that reads kernel objects takes.
type targetFlags struct {
	symbols string
}

func (f *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.symbols, "symbols", "", "System.map or /proc/kallsyms copy (kernels without kallsyms in VMCOREINFO)")
}

func (f *targetFlags) open(path string, stderr io.Writer) (*target.Target, error) {
	t, err := target.Open(path, target.Options{SymbolsFile: f.symbols})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// warnProblems prints what could not be loaded, so partial output is never
// mistaken for complete output.
func warnProblems(w io.Writer, problems []string) {
	for _, p := range problems {
		fmt.Fprintln(w, "panicscope: warning:", p)
	}
}
