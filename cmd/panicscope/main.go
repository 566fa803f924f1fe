// Command panicscope inspects Linux kernel crash dumps and shows the order in
// which the panic ran. See README.md for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// exitError carries an exit status for main.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

type command struct {
	name, args, help string
	run              func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"info", "DUMP|--live [--json]", "identify a dump: kernel, format, CPUs, paging, KASLR, panic message", runInfo},
		{"sym", "DUMP|--live NAME|ADDR...", "look up symbols by name or address (symbol+0xoff/0xsize [module])", runSym},
		{"report", "DUMP|--live [--json|--markdown]", "the panic story: chains, dumpers, parameters, CPUs and the timeline", runReport},
		{"plan", "DUMP|--live [--json]", "what panic() would do as configured (--live: if it panicked now); warnings", runPlan},
		{"log", "DUMP|--live [--panic] [--json]", "the kernel log (printk ring buffer or log_buf), dmesg style", runLog},
		{"type", "DUMP|--live TYPE...", "print a type's layout with offsets, like crash's struct -o", runType},
		{"bt", "DUMP [--cpu N|--pid P|--all] [--json]", "backtraces of every CPU (or a task), unwound with the kernel's ORC tables", runBt},
		{"trim", "DUMP OUT [--zstd]", "write a small dump of only the pages the analysis reads (no user memory)", runTrim},
		{"demo", "[--ascii]", "the interactive view on a small real dump built into the binary", runDemo},
	}
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "panicscope:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if st, err := os.Stat(args[0]); err == nil && !st.IsDir() {
		return runTUI(args, stdout, stderr) // panicscope DUMP: the interactive view
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: panicscope COMMAND [flags]")
	fmt.Fprintln(w)
	// Two lines a command: fits an 80-column serial console.
	for _, c := range commands() {
		fmt.Fprintf(w, "  panicscope %s %s\n      %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\n  panicscope DUMP [--symbols FILE] [--vmlinux FILE] [--ascii]\n      the interactive view of a dump")
}

// parseInterspersed parses flags that may come after positional arguments
// ("panicscope info DUMP --json") and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
