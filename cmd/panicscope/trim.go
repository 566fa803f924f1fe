package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/panicscope/panicscope/vmcore/trim"

	"github.com/panicscope/panicscope/internal/termsafe"
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
	fs := newFlagSet("trim", stdout)
	var tf targetFlags
	tf.register(fs)
	replace := fs.Bool("replace", false, "replace OUT when it exists (without it, an existing OUT is an error)")
	zstd := fs.Bool("zstd", false, "compress pages with zstd (smaller; needs crash >= 8.0.1 / makedumpfile >= 1.7.0 built with zstd) instead of zlib")
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, trimHelp)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("usage: panicscope trim DUMP OUT [--zstd] [--symbols FILE] [--vmlinux FILE]")
	}
	if tf.live {
		return usagef("trim: --live: a running system cannot be trimmed; take a dump first")
	}
	if _, err := os.Lstat(pos[1]); err == nil && !*replace {
		return fmt.Errorf("trim: %s exists; remove it or pass --replace", pos[1])
	}
	opt := trim.Options{Target: tf.options(), Compression: "zlib"}
	if *zstd {
		opt.Compression = "zstd"
	}
	// Interrupted, the copy being written is removed, not left half-done.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := trim.File(ctx, pos[0], pos[1], opt)
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
	fmt.Fprintf(stdout, "panic: %s\n", termsafe.String(orUnknown(res.Report.Panic.Message)))
	return nil
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
