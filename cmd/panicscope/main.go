// Command panicscope inspects Linux kernel crash dumps and shows the order in
// which the panic ran. See README.md for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// Exit statuses: 1 when the command failed, 2 for a usage error (as flag
// and most Unix tools do).
const (
	exitFailure = 1
	exitUsage   = 2
)

// exitError carries an exit status for main; its message, if any, has been
// printed already.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a command line panicscope cannot run: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name, args, help string
	run              func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"info", "DUMP|--live [--json]", "identify a dump: kernel, format, CPUs, paging, KASLR, panic message", runInfo},
		{"sym", "DUMP|--live NAME|ADDR|NAME+OFF...", "look up symbols by name or address (symbol+0xoff/0xsize [module])", runSym},
		{"report", "DUMP|--live [--json|--markdown]", "the panic story: chains, dumpers, parameters, CPUs and the timeline", runReport},
		{"plan", "DUMP|--live [--json]", "what panic() would do as configured (--live: if it panicked now); warnings", runPlan},
		{"log", "DUMP|--live [--panic] [--json]", "the kernel log (printk ring buffer or log_buf), dmesg style", runLog},
		{"type", "DUMP|--live TYPE...", "print a type's layout with offsets, like crash's struct -o", runType},
		{"bt", "DUMP [--cpu N|--pid P|--all] [--json]", "backtraces of every CPU (or a task): ORC (x86_64), frame records (arm64)", runBt},
		{"ps", "DUMP|--live [--state ST] [--cpu N]", "tasks like crash's ps: pid, ppid, cpu, state, comm; > running, * panicking", runPs},
		{"mod", "DUMP|--live", "loaded modules, like crash's mod: struct module, name, text base, size", runMod},
		{"struct", "DUMP|--live TYPE ADDR|SYMBOL[+OFF]", "print a struct's members from memory, like crash's struct", runStruct},
		{"p", "DUMP|--live SYMBOL TYPE", "print a variable as TYPE (BTF names types, not variables)", runPrint},
		{"rd", "DUMP|--live ADDR|SYMBOL[+OFF] [COUNT] [--phys]", "read memory as 8-byte words with ASCII, like crash's rd -64", runRd},
		{"list", "DUMP|--live START [--head] [--type T --member M]", "walk a list_head ring or next-pointer chain, like crash's list", runList},
		{"dis", "DUMP|--live FUNC|ADDR [COUNT]", "disassemble kernel text (AT&T syntax), calls and jumps named", runDis},
		{"trim", "DUMP OUT [--zstd]", "write a small dump of only the pages the analysis reads (no user memory)", runTrim},
		{"demo", "[--ascii]", "the interactive view on a small real dump built into the binary", runDemo},
		{"version", "", "print panicscope's version and VCS revision", runVersion},
		{"completion", "bash|zsh|fish", "print a shell completion script (source <(panicscope completion bash))", runCompletion},
		{"man", "", "print the man page (panicscope man | man -l -)", runMan},
	}
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err (unless it was printed already) and maps it to the
// process's exit status.
func exitCode(err error, stderr io.Writer) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "panicscope:", err)
		fmt.Fprintln(stderr, "Run 'panicscope --help' for every command and flag.")
		return exitUsage
	default:
		fmt.Fprintln(stderr, "panicscope:", termsafe.String(err.Error()))
		return exitFailure
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return exitError{exitUsage}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	// Anything else is the interactive view: a DUMP path, or its flags
	// first ("panicscope --ascii DUMP"). A word that names no file and looks
	// like no path is more likely a mistyped command.
	if _, err := os.Stat(args[0]); err != nil && !strings.HasPrefix(args[0], "-") && !strings.ContainsAny(args[0], "/.") {
		return usagef("unknown command %q (and no file of that name)", args[0])
	}
	return runTUI(args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: panicscope COMMAND [flags]   or   panicscope DUMP [flags]")
	fmt.Fprintln(w)
	// Two lines a command (and one for its flags): fits an 80-column serial
	// console.
	for _, c := range commands() {
		fmt.Fprintf(w, "  panicscope %s %s\n      %s\n", c.name, c.args, c.help)
		if fl := flagSummary(c); fl != "" {
			fmt.Fprintf(w, "      flags: %s\n", fl)
		}
	}
	fmt.Fprintln(w, "\n  panicscope DUMP [DUMP.2 ...] [--symbols FILE] [--vmlinux FILE] [--ascii]\n      the interactive view of a dump (several files: a makedumpfile --split set)")
	fmt.Fprintln(w, "\nEvery command reading a DUMP also takes --symbols FILE (System.map or a")
	fmt.Fprintln(w, "/proc/kallsyms copy), --vmlinux FILE (DWARF; --force skips its build-ID check)")
	fmt.Fprintln(w, "--part FILE (another part of a --split set) and, instead of DUMP, --live")
	fmt.Fprintln(w, "(the running kernel; needs root).")
	fmt.Fprintln(w, "'panicscope COMMAND --help' shows a command's flags in full.")
	fmt.Fprintln(w, "Exit status: 0 success, 1 failure, 2 usage error.")
}

// Flag sets are built by each command's run; describing a command (for
// --help, the man page, completions) runs it with -h and keeps the FlagSet
// newFlagSet made. The mutex serialises such descriptions.
var (
	describeMu sync.Mutex
	describing *flag.FlagSet
	describe   bool
)

// commandFlags returns the flags command c defines.
func commandFlags(c command) *flag.FlagSet {
	describeMu.Lock()
	defer describeMu.Unlock()
	describe, describing = true, nil
	defer func() { describe = false }()
	_ = c.run([]string{"-h"}, io.Discard, io.Discard)
	return describing
}

// flagSummary lists a command's own flags, the shared target flags left out.
func flagSummary(c command) string {
	fs := commandFlags(c)
	if fs == nil {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "symbols", "vmlinux", "force", "live", "json", "part":
			return
		}
		n := "--" + f.Name
		if len(f.Name) == 1 {
			n = "-" + f.Name
		}
		if name, _ := flag.UnquoteUsage(f); name != "" {
			n += " " + strings.ToUpper(name)
		}
		names = append(names, n)
	})
	return strings.Join(names, " ")
}

// parseInterspersed parses flags that may come after positional arguments
// ("panicscope info DUMP --json") and returns the positionals. -h/--help
// prints the command's usage to stdout (fs's output) and returns
// flag.ErrHelp, which exits 0; any other parse error is a usage error.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlagSet makes a command's flag set. Parse errors are returned, not
// printed (exitCode prints them once); -h prints the command's flags to
// stdout.
func newFlagSet(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: panicscope %s\n\nflags:\n", commandUsage(name))
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if describe {
		describing = fs
	}
	return fs
}

// commandUsage is the usage line of the command named name.
func commandUsage(name string) string {
	for _, c := range commands() {
		if c.name == name {
			return strings.TrimSpace(c.name + " " + c.args)
		}
	}
	return name + " [flags]"
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("usage: panicscope version")
	}
	fmt.Fprintln(stdout, versionString())
	return nil
}

// versionString is the module version and the VCS revision the binary was
// built from (debug.ReadBuildInfo: set by go build in a checkout).
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "panicscope (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, when string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		case "vcs.time":
			when = " " + s.Value
		}
	}
	if rev == "" {
		return fmt.Sprintf("panicscope %s %s", v, bi.GoVersion)
	}
	return fmt.Sprintf("panicscope %s %s%s%s %s", v, rev, modified, when, bi.GoVersion)
}
