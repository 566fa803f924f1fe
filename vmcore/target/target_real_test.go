package target_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/target"
)

func open(t *testing.T, fixture string, opt target.Options) *target.Target {
	t.Helper()
	fx := testfixtures.Get(t, fixture)
	tg, err := target.Open(filepath.Join(fx.Dir, "vmcore"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.Load()
	return tg
}

// TestModuleSymbols: module kallsyms are merged, so callbacks inside
// modules resolve with their module name.
func TestModuleSymbols(t *testing.T) {
	tg := open(t, "qemu-6.1-lp-panic", target.Options{})
	if p := tg.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	for sym, mod := range map[string]string{"pvpanic_panic_notify": "pvpanic", "labpanic_notify_first": "labpanic", "labpanic_kmsg_dump": "labpanic"} {
		s, ok := tg.Syms.Lookup(sym)
		if !ok {
			t.Errorf("%s not found", sym)
			continue
		}
		if s.Module != mod {
			t.Errorf("%s in module %q, want %q", sym, s.Module, mod)
		}
		if got := tg.Syms.Format(s.Addr + 1); !strings.HasPrefix(got, sym+"+0x1/") || !strings.HasSuffix(got, "["+mod+"]") {
			t.Errorf("Format(%s+1) = %q", sym, got)
		}
	}
	names := map[string]bool{}
	for _, m := range tg.Modules {
		names[m.Name] = true
		if m.Symbols == 0 {
			t.Errorf("module %s: no symbols", m.Name)
		}
	}
	if !names["labpanic"] || !names["pvpanic"] {
		t.Errorf("modules %v lack labpanic or pvpanic", names)
	}
}

// TestScanAgreesWithSystemMap: a 5.10 dump opens with nothing else (the
// kallsyms tables are found by scanning) and with --symbols System.map,
// and both give the same addresses.
func TestScanAgreesWithSystemMap(t *testing.T) {
	scanned := open(t, "qemu-5.10-sysrq", target.Options{})
	if !strings.Contains(scanned.SymbolSource, "scan") {
		t.Fatalf("symbol source %q, want a kallsyms scan", scanned.SymbolSource)
	}
	smap := filepath.Join(testfixtures.Dir(t), "kernels", "5.10.0-32-amd64", "System.map-5.10.0-32-amd64")
	mapped := open(t, "qemu-5.10-sysrq", target.Options{SymbolsFile: smap})
	if !strings.Contains(mapped.SymbolSource, "System.map") {
		t.Fatalf("symbol source %q, want System.map", mapped.SymbolSource)
	}
	checked := 0
	for _, name := range []string{"panic", "panic_notifier_list", "dump_list", "crash_kexec_post_notifiers", "init_task", "printk", "__crash_kexec", "kexec_crash_image", "panic_cpu", "tainted_mask", "__start_BTF", "console_drivers"} {
		a, ok1 := scanned.Syms.Lookup(name)
		b, ok2 := mapped.Syms.Lookup(name)
		if !ok1 || !ok2 {
			t.Errorf("%s: scan %v, System.map %v", name, ok1, ok2)
			continue
		}
		if a.Addr != b.Addr {
			t.Errorf("%s: scan %#x, System.map %#x", name, a.Addr, b.Addr)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d symbols compared", checked)
	}
}
