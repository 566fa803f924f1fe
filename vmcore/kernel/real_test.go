package kernel_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

type realDump struct {
	fx   testfixtures.Fixture
	dump *vmcore.Dump
	syms *symbols.Table
	k    *kernel.Kernel
	spec *btfmem.Spec
	mods []kernel.ModuleBTF
}

var (
	realOnce sync.Map // fixture name -> *realOnceVal
)

type realOnceVal struct {
	once sync.Once
	rd   *realDump
	err  error
}

// openReal opens a fixture's kdump-compressed vmcore once per test binary,
// with kallsyms symbols and BTF (vmlinux + modules) from its memory.
func openReal(t *testing.T, name string) *realDump {
	t.Helper()
	fx := testfixtures.Get(t, name)
	v, _ := realOnce.LoadOrStore(name, &realOnceVal{})
	ov := v.(*realOnceVal)
	ov.once.Do(func() {
		rd := &realDump{fx: fx}
		ov.rd, ov.err = rd, rd.open()
	})
	if ov.err != nil {
		t.Fatal(ov.err)
	}
	return ov.rd
}

func (rd *realDump) open() error {
	d, err := vmcore.Open(filepath.Join(rd.fx.Dir, "vmcore"))
	if err != nil {
		return err
	}
	rd.dump = d
	if rd.syms, err = symbols.FromKallsyms(d, d.VMCOREINFO()); err != nil {
		// Linux < 6.0 does not locate kallsyms in VMCOREINFO: use the
		// fixture's System.map, relocated by KERNELOFFSET.
		rel := rd.fx.Meta.KernelRelease
		f, ferr := os.Open(filepath.Join(rd.fx.Dir, "..", "kernels", rel, "System.map-"+rel))
		if ferr != nil {
			return fmt.Errorf("kallsyms: %v; System.map: %w", err, ferr)
		}
		defer f.Close()
		off, _ := d.VMCOREINFO().KernelOffset()
		if rd.syms, err = symbols.ParseSystemMap(f, off, f.Name()); err != nil {
			return fmt.Errorf("System.map: %w", err)
		}
	}
	rd.k = &kernel.Kernel{Mem: d, Syms: kernel.SymbolFunc(func(n string) (uint64, bool) {
		s, ok := rd.syms.Lookup(n)
		return s.Addr, ok
	})}
	if rd.spec, err = rd.k.LoadBTF(); err != nil {
		return fmt.Errorf("vmlinux BTF: %w", err)
	}
	rd.k.Types = btfmem.NewTypes(rd.spec)
	// No btf_modules without CONFIG_DEBUG_INFO_BTF_MODULES (Debian 5.10).
	if rd.mods, err = rd.k.ModuleBTFs(rd.spec, 0); err != nil && !errors.Is(err, kernel.ErrAbsent) {
		return fmt.Errorf("module BTF: %w", err)
	}
	var specs []*btfmem.Spec
	for _, m := range rd.mods {
		specs = append(specs, m.Spec)
	}
	rd.k = &kernel.Kernel{Mem: d, Syms: rd.k.Syms, Types: btfmem.NewTypes(rd.spec, specs...)}
	return nil
}

func hexField(t *testing.T, m map[string]any, key string) uint64 {
	t.Helper()
	s, _ := m[key].(string)
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("meta %s=%v: %v", key, m[key], err)
	}
	return v
}

func drgnExpected(t *testing.T, fx testfixtures.Fixture, key string) any {
	t.Helper()
	exp, ok := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any)
	if !ok {
		t.Fatal("meta.json has no expected_from_memory_drgn")
	}
	return exp[key]
}

// moduleSymbol names addr from the module's own symbol table (struct
// module.kallsyms, kernel/module/kallsyms.c find_kallsyms_symbol()), read
// through the object layer.
func moduleSymbol(k *kernel.Kernel, addr uint64) (name, module string, err error) {
	head, err := k.Symbol("modules")
	if err != nil {
		return "", "", err
	}
	err = k.ListForEachEntry(head, "struct module", "list", 0, func(mod kernel.Object) error {
		ks, err := mod.Member("kallsyms")
		if err != nil {
			return err
		}
		symtab, err := ks.Member("->symtab")
		if err != nil {
			return err
		}
		n, err := ks.Member("->num_symtab")
		if err != nil {
			return err
		}
		num, err := n.Uint()
		if err != nil {
			return err
		}
		strtab, err := ks.Member("->strtab")
		if err != nil {
			return err
		}
		for i := 0; i < int(min(num, 100000)); i++ {
			sym, err := symtab.Index(i)
			if err != nil {
				return err
			}
			v, err := sym.Member("st_value")
			if err != nil {
				return err
			}
			if val, err := v.Uint(); err != nil || val != addr {
				continue
			}
			off, _ := sym.Member("st_name")
			o, _ := off.Uint()
			s, err := strtab.Index(int(o))
			if err != nil {
				return err
			}
			s, _ = k.Object(s.Addr, "char [64]")
			if name, err = s.CString(64); err != nil {
				return err
			}
			mn, _ := mod.Member("name")
			module, _ = mn.CString(64)
			return kernel.ErrStop
		}
		return nil
	})
	if err == nil && name == "" {
		err = fmt.Errorf("%#x: %w", addr, kernel.ErrAbsent)
	}
	return name, module, err
}

// TestRealPanicNotifierList walks panic_notifier_list (struct
// atomic_notifier_head, kernel/panic.c) in every fixture and compares it
// with what drgn saw.
func TestRealPanicNotifierList(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		if _, ok := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any); !ok {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) { testNotifiers(t, fx.Name) })
	}
}

func testNotifiers(t *testing.T, name string) {
	rd := openReal(t, name)
	k := rd.k
	init, err := k.Global("init_task", "struct task_struct")
	if err != nil {
		t.Fatal(err)
	}
	if comm, err := init.Member("comm"); err != nil {
		t.Fatal(err)
	} else if s, err := comm.CString(16); err != nil || s != "swapper/0" {
		t.Fatalf("init_task.comm = %q, %v", s, err)
	}
	chain, err := k.Global("panic_notifier_list", "struct atomic_notifier_head")
	if err != nil {
		t.Fatal(err)
	}
	head, err := chain.Member("head")
	if err != nil {
		t.Fatal(err)
	}
	first, err := head.Pointer()
	if err != nil {
		t.Fatal(err)
	}
	type nb struct {
		addr, call uint64
		prio       int64
		sym, mod   string
	}
	var got []nb
	err = k.SListForEachEntry(first, "struct notifier_block", "next", 64, func(o kernel.Object) error {
		c, err := o.Member("notifier_call")
		if err != nil {
			return err
		}
		call, err := c.Pointer()
		if err != nil {
			return err
		}
		p, err := o.Member("priority")
		if err != nil {
			return err
		}
		prio, err := p.Int()
		if err != nil {
			return err
		}
		e := nb{addr: o.Addr, call: call, prio: prio}
		if s, off, ok := rd.syms.ByAddr(call); ok && off == 0 {
			e.sym = s.Name
		} else if e.sym, e.mod, err = moduleSymbol(k, call); err != nil {
			return fmt.Errorf("callback %#x: %w", call, err)
		}
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := drgnExpected(t, rd.fx, "panic_notifier_list").([]any)
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d notifiers, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		w := w.(map[string]any)
		wmod, _ := w["module"].(string)
		e := got[i]
		if e.addr != hexField(t, w, "notifier_block") || e.call != hexField(t, w, "addr") ||
			e.prio != int64(w["priority"].(float64)) || e.sym != w["symbol"] || e.mod != wmod {
			t.Errorf("notifier %d = %#x %s [%s] prio %d at %#x, want %v", i, e.call, e.sym, e.mod, e.prio, e.addr, w)
		}
	}
	for _, e := range got {
		t.Logf("nb %#x: %#x %s [%s] priority %d", e.addr, e.call, e.sym, e.mod, e.prio)
	}
}

func TestRealTasksAndModules(t *testing.T) {
	rd := openReal(t, "qemu-6.1-sysrq")
	k := rd.k
	init, err := k.Global("init_task", "struct task_struct")
	if err != nil {
		t.Fatal(err)
	}
	comm, err := init.Member("comm")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := comm.CString(16); err != nil || s != "swapper/0" {
		t.Fatalf("init_task.comm = %q, %v", s, err)
	}
	// Every task on init_task.tasks, bounded; drgn counted 54 (threads are on
	// signal->thread_head, not here, so at most that many).
	n := 0
	tasksHead := init.Addr + mustOffset(t, k, "struct task_struct", "tasks")
	err = k.ListForEachEntry(tasksHead, "struct task_struct", "tasks", 10000, func(task kernel.Object) error {
		n++
		return nil
	})
	if err != nil || n == 0 || n > int(drgnExpected(t, rd.fx, "tasks").(float64)) {
		t.Fatalf("task list: %d tasks, %v", n, err)
	}

	// The panicking task is current on the panic CPU (per-cpu current_task,
	// arch/x86/kernel/cpu/common.c in 6.1; typed by its BTF VAR).
	cur, err := k.Global("current_task", "")
	if err != nil {
		t.Fatal(err)
	}
	cpu := rd.fx.Meta.Expected.PanicCPU
	addr, err := k.PerCPU(cur.Addr, cpu)
	if err != nil {
		t.Fatal(err)
	}
	cur.Addr = addr
	task, err := cur.Deref()
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := task.Member("comm")
	pcomm, _ := pc.CString(16)
	pp, _ := task.Member("pid")
	pid, _ := pp.Int()
	want := rd.fx.Meta.Raw["expected"].(map[string]any)["panic_task"].(map[string]any)
	if pcomm != want["comm"] || pid != int64(want["pid"].(float64)) {
		t.Fatalf("current on CPU %d: %q pid %d, want %v", cpu, pcomm, pid, want)
	}

	// Loaded modules and their sizes (6.1: struct module.core_layout).
	head, err := k.Symbol("modules")
	if err != nil {
		t.Fatal(err)
	}
	type mod struct {
		name       string
		base, size uint64
	}
	var mods []mod
	err = k.ListForEachEntry(head, "struct module", "list", 0, func(m kernel.Object) error {
		nm, _ := m.Member("name")
		s, err := nm.CString(64)
		if err != nil {
			return err
		}
		b, err := m.Member("core_layout.base")
		if err != nil {
			return err
		}
		base, err := b.Pointer()
		if err != nil {
			return err
		}
		sz, err := m.Member("core_layout.size")
		if err != nil {
			return err
		}
		size, err := sz.Uint()
		mods = append(mods, mod{s, base, size})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantMods, _ := drgnExpected(t, rd.fx, "modules").([]any)
	if len(mods) != len(wantMods) {
		t.Fatalf("modules %+v, want %v", mods, wantMods)
	}
	for i, w := range wantMods {
		w := w.(map[string]any)
		if mods[i].name != w["name"] || mods[i].base != hexField(t, w, "base") || mods[i].size != uint64(w["size"].(float64)) {
			t.Errorf("module %d = %+v, want %v", i, mods[i], w)
		}
	}

	// Module BTF: each module's split BTF loaded, and a module-only type
	// resolves (struct pvpanic_instance, drivers/misc/pvpanic/pvpanic.h).
	var names []string
	for _, m := range rd.mods {
		if m.Err != nil {
			t.Errorf("module %s BTF: %v", m.Name, m.Err)
		}
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"pvpanic", "pvpanic_pci", "qemu_fw_cfg"}) {
		t.Errorf("module BTF for %v", names)
	}
	if _, err := k.Type("struct pvpanic_instance"); err != nil {
		t.Errorf("module type: %v", err)
	}
	if _, err := k.Type("struct no_such_type_anywhere"); !errors.Is(err, kernel.ErrAbsent) {
		t.Errorf("absent type: %v", err)
	}
	l, err := k.Layout("struct notifier_block")
	if err != nil || !strings.Contains(l, "[16]     int priority; /* size 4 */") || !strings.Contains(l, "SIZE: 24") {
		t.Errorf("notifier_block layout:\n%s%v", l, err)
	}
	t.Logf("\n%s", l)
}

func mustOffset(t *testing.T, k *kernel.Kernel, typ, member string) uint64 {
	t.Helper()
	off, err := k.OffsetOf(typ, member)
	if err != nil {
		t.Fatal(err)
	}
	return off
}
