package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/trim"
)

const trimHelp = `usage: panicscope trim DUMP OUT [--zstd] [--symbols FILE] [--vmlinux FILE]

Writes OUT, a kdump-compressed copy of DUMP (makedumpfile's format, readable
by crash and makedumpfile) that holds only the pages panicscope's analysis
reads: kernel symbols and BTF, modules, notifier chains, kmsg dumpers,
parameters, CPUs, pstore/ramoops zones, consoles, the whole kernel log, and
the page tables used to reach them. Every other page is left out, so the copy
holds no user memory, page cache or free pages (as --keep-user=false would):
it can be shared when the full dump cannot. Each CPU's stack (for bt), and
the few kernel variables crash --minimal and makedumpfile --dump-dmesg need to
start, are kept too. The ELF notes (CPU registers, QEMU CPU state), VMCOREINFO
and header facts are copied from DUMP. With --symbols or --vmlinux the
analysis also runs without them, so the copy opens either way.

'panicscope report OUT' gives the same report as DUMP, except the fields that
describe the file: format, compression, filtered/dump level (31), where
VMCOREINFO came from, and container warnings.

flags:
`

func runTrim(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trim", stderr)
	var tf targetFlags
	tf.register(fs)
	zstd := fs.Bool("zstd", false, "compress pages with zstd (smaller; needs crash >= 8.0.1 / makedumpfile >= 1.7.0 built with zstd) instead of zlib")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), trimHelp)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("usage: panicscope trim DUMP OUT [--zstd] [--symbols FILE]")
	}
	if tf.live {
		return fmt.Errorf("trim: --live: a running system cannot be trimmed; take a dump first")
	}
	opt := trim.Options{Target: target.Options{SymbolsFile: tf.symbols, Vmlinux: tf.vmlinux, Force: tf.force}, Compression: "zlib"}
	if *zstd {
		opt.Compression = "zstd"
	}
	res, err := trim.File(pos[0], pos[1], opt)
	if err != nil {
		return err
	}
	warnProblems(stderr, res.Problems)
	fmt.Fprintf(stdout, "kept %d of %d pages (%.1f%%; %d all-zero, stored once",
		res.KeptPages, res.SourcePages, 100*float64(res.KeptPages)/float64(max(res.SourcePages, 1)), res.ZeroPages)
	if res.LostPages > 0 {
		fmt.Fprintf(stdout, "; %d lost pages of the cut-short source kept as such", res.LostPages)
	}
	fmt.Fprintln(stdout, ")")
	fmt.Fprintf(stdout, "wrote %s: %s (%s), source %s, in %.1fs (reading %.1fs, writing %.1fs)\n", pos[1], mib(res.Bytes), opt.Compression, mib(res.SourceBytes),
		(res.ReadTime + res.WriteTime).Seconds(), res.ReadTime.Seconds(), res.WriteTime.Seconds())
	if res.VMCOREINFOFrom != "" {
		fmt.Fprintf(stdout, "VMCOREINFO in the kdump sub header: %s\n", res.VMCOREINFOFrom)
	}
	fmt.Fprintf(stdout, "panic: %s\n", res.Report.Panic.Message)
	return nil
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
