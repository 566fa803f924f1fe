package target_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/fakeprog"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// These tests open fake kernels (internal/fakeprog) written as ELF cores:
// where symbols and types come from, and what is a problem when a source
// is missing. What the sources were is read from the report where it
// shows (kernel.symbol_source / type_source).

func writeFake(t *testing.T, k *fakeprog.Kernel) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := k.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func openFake(t *testing.T, k *fakeprog.Kernel, opt target.Options) (*target.Target, *analysis.Report) {
	t.Helper()
	tg, err := target.Open(writeFake(t, k), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg, analysis.Build(tg) // runs every stage

}

func problemText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func firstNotifier(r *analysis.Report) (callback, module string) {
	for _, c := range r.Chains {
		if c.Name == "panic_notifier_list" && len(c.Entries) > 0 {
			return c.Entries[0].Callback, c.Entries[0].Module
		}
	}
	return "", ""
}

func TestFakeSourcesFromMemory(t *testing.T) {
	s := fakeprog.NewScenario()
	tg, r := openFake(t, s.Kernel, target.Options{})
	if len(tg.Problems()) != 0 {
		t.Errorf("problems: %s", problemText(tg.Problems()))
	}
	if r.Kernel.SymbolSource != "kallsyms (VMCOREINFO)" {
		t.Errorf("symbol source %q", r.Kernel.SymbolSource)
	}
	if !strings.HasPrefix(r.Kernel.TypeSource, "BTF in kernel memory") {
		t.Errorf("type source %q", r.Kernel.TypeSource)
	}
	// Every vmlinux symbol of the fake is found at its address.
	for _, sym := range s.Symbols() {
		got, ok := tg.Syms.Lookup(sym.Name)
		if !ok || got.Addr != sym.Addr {
			t.Errorf("%s: %#x %v, want %#x", sym.Name, got.Addr, ok, sym.Addr)
		}
	}
	// Module symbols are merged from the module's own kallsyms.
	if len(tg.Modules) != 1 || tg.Modules[0].Name != "labfake" || tg.Modules[0].Symbols != 4 || tg.Modules[0].Base != s.Mod.Base {
		t.Errorf("modules: %+v", tg.Modules)
	}
	if got := tg.Syms.Format(s.Mod.Func("labfake_notify_last") + 4); got != "labfake_notify_last+0x4/0x100 [labfake]" {
		t.Errorf("module symbol formats as %q", got)
	}
	if cb, mod := firstNotifier(r); cb != "labfake_notify_first" || mod != "labfake" {
		t.Errorf("first notifier %q [%q]", cb, mod)
	}
	log, err := tg.Log()
	if err != nil || len(log.Records) != 5 {
		t.Errorf("log: %v", err)
	}
}

func TestFakeSystemMap(t *testing.T) {
	s := fakeprog.NewScenario()
	dump := writeFake(t, s.Kernel)
	sm := filepath.Join(t.TempDir(), "System.map")
	if err := os.WriteFile(sm, []byte(s.SystemMap()), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(dump, target.Options{SymbolsFile: sm})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	if !strings.Contains(r.Kernel.SymbolSource, sm) {
		t.Errorf("symbol source %q, want the System.map", r.Kernel.SymbolSource)
	}
	// Module symbols still come from memory.
	if cb, mod := firstNotifier(r); cb != "labfake_notify_first" || mod != "labfake" {
		t.Errorf("first notifier %q [%q]", cb, mod)
	}

	// A System.map of another build (every address moved) is refused.
	var shifted strings.Builder
	for _, sym := range s.Symbols() {
		fmt.Fprintf(&shifted, "%016x %c %s\n", sym.Addr+0x200000, sym.Type, sym.Name)
	}
	bad := filepath.Join(t.TempDir(), "System.map-other")
	if err := os.WriteFile(bad, []byte(shifted.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tg2, err := target.Open(dump, target.Options{SymbolsFile: bad})
	if err != nil {
		t.Fatal(err)
	}
	defer tg2.Close()
	if err := tg2.LoadSymbols(); !errors.Is(err, target.ErrNoSymbols) {
		t.Errorf("LoadSymbols: %v, want ErrNoSymbols", err)
	}
	if tg2.Syms != nil || !strings.Contains(problemText(tg2.Problems()), "does not match") {
		t.Errorf("mismatching System.map: syms %v problems %s", tg2.Syms != nil, problemText(tg2.Problems()))
	}
	r2 := analysis.Build(tg2)
	if r2.Kernel.SymbolSource != "none" || len(r2.Chains) != 0 {
		t.Errorf("without symbols: source %q, %d chains", r2.Kernel.SymbolSource, len(r2.Chains))
	}

	// A System.map that cannot be read is a problem, not an error.
	tg3, err := target.Open(dump, target.Options{SymbolsFile: filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	defer tg3.Close()
	tg3.Load()
	if tg3.Syms != nil || !strings.Contains(problemText(tg3.Problems()), "symbol file") {
		t.Errorf("missing System.map: problems %s", problemText(tg3.Problems()))
	}
}

// Without VMCOREINFO there is no kallsyms location and no log; the dump
// still opens.
func TestFakeNoVMCOREINFO(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoVMCOREINFO = true
	tg, r := openFake(t, s.Kernel, target.Options{})
	if tg.Syms != nil || !strings.Contains(problemText(tg.Problems()), "VMCOREINFO") {
		t.Errorf("problems: %s", problemText(tg.Problems()))
	}
	if r.Kernel.SymbolSource != "none" || r.Kernel.TypeSource != "none" {
		t.Errorf("sources %q %q", r.Kernel.SymbolSource, r.Kernel.TypeSource)
	}
	if _, err := tg.Log(); err == nil {
		t.Errorf("log read without VMCOREINFO")
	}
	if val(r.Panic.Message) == fakeprog.PanicMessage {
		t.Errorf("panic message found without a log")
	}
}

// Before 6.0 VMCOREINFO does not locate kallsyms; the tables are then
// looked for in the kernel image. The fake's tables have no
// kallsyms_markers and kallsyms_token_table is not where the scan
// expects it, so the scan fails: the problem names both attempts and the
// way out (--symbols).
func TestFakeKallsymsNotInVMCOREINFO(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoKallsymsInfo = true
	tg, r := openFake(t, s.Kernel, target.Options{})
	if tg.Syms != nil {
		t.Skipf("the kallsyms scan found the fake's tables (%s): nothing to check", r.Kernel.SymbolSource)
	}
	p := problemText(tg.Problems())
	for _, want := range []string{"kallsyms via VMCOREINFO", "kallsyms scan", "--symbols"} {
		if !strings.Contains(p, want) {
			t.Errorf("problem lacks %q: %s", want, p)
		}
	}
	if !strings.Contains(problemText(r.Problems), "no symbols or no types") {
		t.Errorf("report problems: %s", problemText(r.Problems))
	}
}

func TestFakeNoBTF(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoBTF = true
	tg, r := openFake(t, s.Kernel, target.Options{})
	if r.Kernel.TypeSource != "none" || !strings.Contains(problemText(tg.Problems()), "no BTF") {
		t.Errorf("type source %q problems %s", r.Kernel.TypeSource, problemText(tg.Problems()))
	}
	// Symbols still work; modules need types.
	if tg.Syms == nil || len(tg.Modules) != 0 {
		t.Errorf("syms %v modules %v", tg.Syms != nil, tg.Modules)
	}
}

// A module whose kallsyms cannot be used is a problem naming the module;
// the other modules load.
func TestFakeModuleProblems(t *testing.T) {
	s := fakeprog.NewScenario()
	bad := s.AddModule("badsyms", 0, "badsyms_fn")
	ks := s.U64(bad.Addr + s.Types().Offset("struct module", "kallsyms"))
	s.Set(ks, "struct mod_kallsyms", "num_symtab", 1<<24)
	nosym := s.AddModule("nokallsyms", 0, "nokallsyms_fn")
	s.Set(nosym.Addr, "struct module", "kallsyms", 0)
	tg, _ := openFake(t, s.Kernel, target.Options{})
	p := problemText(tg.Problems())
	if !strings.Contains(p, "badsyms") || !strings.Contains(p, "implausible") || !strings.Contains(p, "nokallsyms") {
		t.Errorf("problems: %s", p)
	}
	if len(tg.Modules) != 3 {
		t.Fatalf("modules: %+v", tg.Modules)
	}
	if _, ok := tg.Syms.Lookup("labfake_notify_first"); !ok {
		t.Errorf("the good module's symbols are missing")
	}
	if _, ok := tg.Syms.Lookup("badsyms_fn"); ok {
		t.Errorf("symbols of a module with an implausible table")
	}
}

const dwarfTestdata = "../kernel/dwarftypes/testdata/lab-dwarf5.debug"

// --vmlinux: refused when its build ID is not the dump's, unless forced;
// forced, its DWARF types replace BTF.
func TestFakeVmlinux(t *testing.T) {
	s := fakeprog.NewScenario()
	dump := writeFake(t, s.Kernel)
	_, err := target.Open(dump, target.Options{Vmlinux: dwarfTestdata})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("another build's vmlinux: %v", err)
	}
	tg, err := target.Open(dump, target.Options{Vmlinux: dwarfTestdata, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	tg.Load()
	if !strings.HasPrefix(tg.TypeSource, "DWARF vmlinux") || !strings.Contains(problemText(tg.Problems()), "--force") {
		t.Errorf("type source %q problems %s", tg.TypeSource, problemText(tg.Problems()))
	}
	if tg.SymbolSource != "kallsyms (VMCOREINFO)" {
		t.Errorf("symbols should stay kallsyms: %q", tg.SymbolSource)
	}
	if _, err := target.Open(dump, target.Options{Vmlinux: filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Errorf("a missing vmlinux opened")
	}
}

// With no symbols in memory, a forced vmlinux also gives the symbols.
func TestFakeVmlinuxSymbols(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoVMCOREINFO = true
	tg, err := target.Open(writeFake(t, s.Kernel), target.Options{Vmlinux: dwarfTestdata, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.LoadSymbols(); err != nil {
		t.Fatal(err)
	}
	if tg.Syms == nil || !strings.HasPrefix(tg.SymbolSource, "DWARF vmlinux") {
		t.Errorf("symbol source %q", tg.SymbolSource)
	}
}

// Live mode on a fake root: kcore, /proc/kallsyms and /sys/kernel/btf
// are the sources, and /proc and /sys values are kept for comparison.
func TestFakeLive(t *testing.T) {
	s := fakeprog.NewScenario()
	root := t.TempDir()
	if err := s.WriteLiveTree(root, map[string]string{
		"sys/devices/system/cpu/online":                           "0-1\n",
		"sys/module/kernel/parameters/crash_kexec_post_notifiers": "N\n",
		"proc/sys/kernel/kptr_restrict":                           "0\n",
		"sys/kernel/btf/broken_mod":                               "not BTF",
	}); err != nil {
		t.Fatal(err)
	}
	tg, err := target.OpenLive(target.Options{LiveRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	tg.Load()
	if !tg.Dump.Live() || len(tg.Dump.CPUs) != 2 {
		t.Errorf("live %v, %d CPUs", tg.Dump.Live(), len(tg.Dump.CPUs))
	}
	if !strings.Contains(tg.SymbolSource, "kallsyms") || tg.Syms == nil {
		t.Errorf("symbol source %q", tg.SymbolSource)
	}
	if want := filepath.Join(root, target.LiveBTFDir, "vmlinux"); tg.TypeSource != "BTF from "+want {
		t.Errorf("type source %q, want BTF from %s", tg.TypeSource, want)
	}
	p := problemText(tg.Problems())
	if !strings.Contains(p, "module BTF broken_mod") {
		t.Errorf("an unparsable module BTF file is not a problem: %s", p)
	}
	if got, ok := tg.Syms.Lookup("labfake_kmsg_dump"); !ok || got.Module != "labfake" {
		t.Errorf("module symbol from /proc/kallsyms: %+v %v", got, ok)
	}
	if v, ok := tg.Live.Get("crash_kexec_post_notifiers"); !ok || v != "N" {
		t.Errorf("crash_kexec_post_notifiers = %q %v", v, ok)
	}
}

// Live mode when /proc/kallsyms and /sys/kernel/btf are unreadable: kallsyms
// through VMCOREINFO and BTF from memory, each fallback a problem.
func TestFakeLiveFallbacks(t *testing.T) {
	s := fakeprog.NewScenario()
	root := t.TempDir()
	if err := s.WriteLiveTree(root, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"proc/kallsyms", "sys/kernel/btf/vmlinux"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	tg, err := target.OpenLive(target.Options{LiveRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	tg.Load()
	if tg.SymbolSource != "kallsyms (VMCOREINFO)" || !strings.HasPrefix(tg.TypeSource, "BTF in kernel memory") {
		t.Errorf("sources %q %q", tg.SymbolSource, tg.TypeSource)
	}
	p := problemText(tg.Problems())
	if !strings.Contains(p, "using kallsyms through VMCOREINFO") || !strings.Contains(p, "using BTF in kernel memory") {
		t.Errorf("fallbacks not explained: %s", p)
	}
}

// A dump held in memory (the demo's) opens the same way, and a variant
// with other options shares the open dump.
func TestFakeReaderAtAndVariant(t *testing.T) {
	s := fakeprog.NewScenario()
	img := s.Bytes()
	tg, err := target.OpenReaderAt(bytes.NewReader(img), int64(len(img)), "fake", target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.LoadTypes(); err != nil {
		t.Fatal(err)
	}
	if tg.SymbolSource != "kallsyms (VMCOREINFO)" || len(tg.Modules) != 1 {
		t.Errorf("source %q modules %d", tg.SymbolSource, len(tg.Modules))
	}
	sm := filepath.Join(t.TempDir(), "System.map")
	if err := os.WriteFile(sm, []byte(s.SystemMap()), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := tg.Variant(target.Options{SymbolsFile: sm})
	if err != nil {
		t.Fatal(err)
	}
	if v.Options().SymbolsFile != sm || tg.Options().SymbolsFile != "" {
		t.Errorf("options: variant %+v, original %+v", v.Options(), tg.Options())
	}
	if err := v.LoadSymbols(); err != nil || !strings.Contains(v.SymbolSource, sm) {
		t.Errorf("variant symbols: %q %v", v.SymbolSource, err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the variant left the dump open.
	if _, err := tg.Log(); err != nil {
		t.Errorf("log after closing a variant: %v", err)
	}
	if _, err := tg.Variant(target.Options{Vmlinux: filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Errorf("a variant with a missing vmlinux")
	}
}

// A dump compressed as a whole file is refused with how to decompress it.
func TestFakeWholeFileCompressed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vmcore.zst")
	if err := os.WriteFile(p, append([]byte("\x28\xb5\x2f\xfd"), make([]byte, 64)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := target.Open(p, target.Options{})
	if err == nil || !strings.Contains(err.Error(), "zstd -d") {
		t.Errorf("error %v does not say how to decompress", err)
	}
	if _, err := target.Open(filepath.Join(t.TempDir(), "missing"), target.Options{}); err == nil {
		t.Errorf("a missing file opened")
	}
}

// Module BTF from btf_modules: the module's own types resolve, and the
// type source counts the modules whose BTF was read.
func TestFakeModuleBTF(t *testing.T) {
	s := fakeprog.NewScenario()
	s.ModuleBTF(s.Mod, "labfake_state", fakeprog.ModuleField{Name: "armed", BaseType: "int"},
		fakeprog.ModuleField{Name: "count", BaseType: "long unsigned int"})
	broken := s.AddModule("brokenbtf", 0, "brokenbtf_fn")
	broken.RawBTF = []byte("not BTF at all")
	tg, err := target.Open(writeFake(t, s.Kernel), target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.LoadTypes(); err != nil {
		t.Fatal(err)
	}
	if tg.TypeSource != "BTF in kernel memory (__start_BTF) + 1 module BTF" {
		t.Errorf("type source %q", tg.TypeSource)
	}
	// The module whose BTF does not parse is named, not silently dropped.
	if p := tg.Problems().About("types"); len(p) != 1 || p[0].Subject.ID != "brokenbtf" || p[0].Kind != "damaged" {
		t.Errorf("problems about types: %v", p)
	}
	if off, err := tg.Kernel.OffsetOf("struct labfake_state", "count"); err != nil || off != 8 {
		t.Errorf("offsetof(labfake_state, count) = %d, %v", off, err)
	}
	// vmlinux types still resolve alongside.
	if _, err := tg.Kernel.OffsetOf("struct notifier_block", "priority"); err != nil {
		t.Error(err)
	}
}

// val is *p, or the zero value when p is nil (unknown).
func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
