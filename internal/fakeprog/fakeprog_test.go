package fakeprog_test

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/fakeprog"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/target"
)

// The fake is only useful if the real readers see what it claims to have
// written: these tests read it back through vmcore (via target.Open).

func open(t *testing.T, k *fakeprog.Kernel) *target.Target {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := k.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(p, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestDumpReadsBack(t *testing.T) {
	s := fakeprog.NewScenario()
	data := s.Data("fake_variable", 16, 8)
	s.PutU64(data, 0x1122334455667788)
	heap := s.Alloc(64, 8)
	s.PutString(heap, "kmalloc'd")
	tg := open(t, s.Kernel)
	d := tg.Dump
	if d.Format != vmcore.FormatELFKdump || len(d.CPUs) != 2 || d.VMCOREINFO() == nil {
		t.Fatalf("format %q, %d CPUs, VMCOREINFO %v", d.Format, len(d.CPUs), d.VMCOREINFO() != nil)
	}
	if d.CPUs[1].PID != 121 || d.CPUs[1].Regs.PC != s.Funcs["__crash_kexec"]+0x10 {
		t.Errorf("cpu 1 note: pid %d pc %#x", d.CPUs[1].PID, d.CPUs[1].Regs.PC)
	}
	if tr := d.Translator(); tr == nil || tr.Layout().PageOffset != fakeprog.PageOffset || tr.Layout().Levels != 4 {
		t.Errorf("translation %+v", tr)
	}
	// The image, the direct map and the module area (a page-table walk).
	b := make([]byte, 8)
	if err := d.ReadVirt(b, data); err != nil || binary.LittleEndian.Uint64(b) != 0x1122334455667788 {
		t.Errorf("image variable: %x %v", b, err)
	}
	if err := d.ReadVirt(b, heap); err != nil || string(b) != "kmalloc'" {
		t.Errorf("direct map: %q %v", b, err)
	}
	if err := d.ReadVirt(b, s.Mod.Func("labfake_do_panic")); err != nil || b[0] != 0xcc {
		t.Errorf("module text: %x %v", b, err)
	}
	uts, err := d.UTSName()
	if err != nil || uts.Release != s.Release || uts.Nodename != "fakehost" || uts.Machine != "x86_64" {
		t.Errorf("utsname %+v %v", uts, err)
	}
	// Memory never written is not in the dump.
	if err := d.ReadPhys(b, fakeprog.MemSize-fakeprog.PageSize); err == nil {
		t.Errorf("an unwritten page reads")
	}
	if _, err := tg.Log(); err != nil {
		t.Errorf("log: %v", err)
	}
}

func TestSymbolsMatchSystemMap(t *testing.T) {
	s := fakeprog.NewScenario()
	tg := open(t, s.Kernel)
	if err := tg.LoadSymbols(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(s.SystemMap()), "\n")
	if len(lines) != len(s.Symbols()) || len(lines) < 50 {
		t.Fatalf("%d System.map lines for %d symbols", len(lines), len(s.Symbols()))
	}
	for _, sym := range s.Symbols() {
		got, ok := tg.Syms.Lookup(sym.Name)
		if !ok || got.Addr != sym.Addr || got.Type != sym.Type {
			t.Errorf("%s: %+v %v, want %#x %c", sym.Name, got, ok, sym.Addr, sym.Type)
		}
	}
}

func TestTypesLayout(t *testing.T) {
	k := fakeprog.New("6.1.0-fake", 1)
	ty := k.Types()
	// struct notifier_block: a function pointer, next, int priority.
	if ty.Offset("struct notifier_block", "priority") != 16 || ty.Sizeof("struct notifier_block") != 24 {
		t.Errorf("notifier_block: priority at %d, size %d", ty.Offset("struct notifier_block", "priority"), ty.Sizeof("struct notifier_block"))
	}
	if ty.Offset("struct module", "core_layout.size") != ty.Offset("struct module", "core_layout")+8 {
		t.Errorf("nested member offset")
	}
	if !ty.Has("struct kmsg_dumper") || ty.Has("struct nonexistent") {
		t.Errorf("Has")
	}
	k.PerCPUVar("pcpu_thing", 8)
	tg := open(t, k)
	if err := tg.LoadTypes(); err != nil {
		t.Fatal(err)
	}
	off, err := tg.Kernel.OffsetOf("struct task_struct", "thread.sp")
	if err != nil || off != ty.Offset("struct task_struct", "thread.sp") {
		t.Errorf("task_struct.thread.sp through BTF: %d %v, fake says %d", off, err, ty.Offset("struct task_struct", "thread.sp"))
	}
}

// The kernel's own VMCOREINFO page, for dumps whose writer left the note out.
func TestVMCOREINFOInMemory(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoVMCOREINFO, s.VMCOREINFOInMemory = true, true
	tg := open(t, s.Kernel)
	if tg.Dump.InfoSource != vmcore.InfoFromMemoryScan || tg.Dump.VMCOREINFO().OSRelease() != s.Release {
		t.Errorf("VMCOREINFO from %q", tg.Dump.InfoSource)
	}
	if _, ok := tg.Dump.VMCOREINFO().CrashTime(); ok {
		t.Errorf("the boot-time copy has CRASHTIME")
	}
}

func TestKcoreTree(t *testing.T) {
	s := fakeprog.NewScenario()
	root := t.TempDir()
	if err := s.WriteLiveTree(root, map[string]string{"proc/sys/kernel/panic": "10\n"}); err != nil {
		t.Fatal(err)
	}
	tg, err := target.OpenLive(target.Options{LiveRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	b := make([]byte, 8)
	// Image, direct map and module area are each a kcore segment.
	for _, va := range []uint64{s.Sym("init_uts_ns"), s.PanicTask, s.Mod.Base} {
		if err := tg.Dump.ReadVirt(b, va); err != nil {
			t.Errorf("%#x: %v", va, err)
		}
	}
	if v, ok := tg.Live.Get("panic"); !ok || v != "10" {
		t.Errorf("panic = %q %v", v, ok)
	}
	if !bytes.HasPrefix(s.KcoreBytes(), []byte("\x7fELF")) {
		t.Errorf("kcore is not ELF")
	}
}

func TestMisuse(t *testing.T) {
	k := fakeprog.New("6.1.0-fake", 1)
	for name, f := range map[string]func(){
		"duplicate symbol": func() { k.Func("dup"); k.Func("dup") },
		"unknown symbol":   func() { k.Sym("nope") },
		"unknown type":     func() { k.Types().T("struct nope") },
		"unknown member":   func() { k.Types().Offset("struct list_head", "nope") },
		"no function":      func() { k.EndOfStack(1) },
		"unmapped address": func() { k.Write(0x1000, []byte{1}) },
		"no CPUs":          func() { fakeprog.New("x", 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
