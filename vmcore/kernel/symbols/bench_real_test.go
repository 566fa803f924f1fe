package symbols_test

import (
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// reportSymbols are symbols `panicscope report` looks up by name on
// kdump-6.1-lzo.
var reportSymbols = []string{
	"__start_BTF", "__stop_BTF", "btf_modules", "modules", "panic_notifier_list", "die_chain",
	"reboot_notifier_list", "dump_list", "console_drivers", "psinfo", "panic_cpu", "panic_timeout",
	"panic_on_oops", "panic_on_warn", "tainted_mask", "crash_kexec_post_notifiers", "kexec_crash_image",
	"__per_cpu_offset", "nr_cpu_ids", "current_task", "hardirq_stack_ptr", "cea_exception_stacks",
	"__start_orc_unwind_ip", "__stop_orc_unwind_ip", "__start_orc_unwind", "orc_lookup", "orc_lookup_end",
	"_stext", "_etext", "_sinittext", "_einittext", "ret_from_fork", "no_such_symbol",
}

// BenchmarkSymbols: the vmlinux symbol table of kdump-6.1-lzo from kallsyms
// (the dump opened once, so its pages are cached after the first round),
// then the report's lookups by name and the addresses of its notifier
// callbacks back to names.
func BenchmarkSymbols(b *testing.B) {
	fx := testfixtures.Get(b, "kdump-6.1-lzo")
	d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ReportAllocs()
	for b.Loop() {
		tab, err := symbols.FromKallsyms(d, d.VMCOREINFO())
		if err != nil {
			b.Fatal(err)
		}
		var addrs []uint64
		for _, name := range reportSymbols {
			if s, ok := tab.Lookup(name); ok {
				addrs = append(addrs, s.Addr+1)
			} else if name != "no_such_symbol" {
				b.Fatalf("no %s", name)
			}
		}
		for _, a := range addrs {
			if _, _, ok := tab.ByAddr(a); !ok {
				b.Fatalf("%#x: no symbol", a)
			}
		}
	}
}
