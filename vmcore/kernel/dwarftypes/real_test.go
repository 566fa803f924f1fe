package dwarftypes_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/kernel/dwarftypes"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// TestRealBTFMatchesDWARF: the layouts the dump's own BTF gives for the types
// the analysis reads agree with the DWARF of the matching debug vmlinux.
func TestRealBTFMatchesDWARF(t *testing.T) {
	fx := testfixtures.Get(t, "qemu-6.1-sysrq")
	path := testfixtures.DebugVmlinux(t, fx.Meta.KernelRelease)
	d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	syms, err := symbols.FromKallsyms(d, d.VMCOREINFO())
	if err != nil {
		t.Fatal(err)
	}
	kb := &kernel.Kernel{Mem: d, Syms: kernel.SymbolFunc(func(n string) (uint64, bool) {
		s, ok := syms.Lookup(n)
		return s.Addr, ok
	})}
	spec, err := kb.LoadBTF()
	if err != nil {
		t.Fatal(err)
	}
	kb.Types = btfmem.NewTypes(spec)

	_, err = dwarftypes.Open(path, "eb4fbcd037e7253717950bf2b93bd5566f47c56e")
	var mm *dwarftypes.BuildIDMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("wrong build ID: %v", err)
	}
	dt, err := dwarftypes.Open(path, d.VMCOREINFO().BuildID())
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	kd := &kernel.Kernel{Mem: d, Syms: kb.Syms, Types: dt}

	for _, name := range []string{
		"struct notifier_block", "struct atomic_notifier_head", "struct kmsg_dumper",
		"struct printk_ringbuffer", "struct prb_desc_ring", "struct printk_info",
		"struct module", "struct task_struct", "struct list_head", "atomic_t", "spinlock_t",
	} {
		lb, err := kb.Layout(name)
		if err != nil {
			t.Errorf("BTF %s: %v", name, err)
			continue
		}
		ld, err := kd.Layout(name)
		if err != nil {
			t.Errorf("DWARF %s: %v", name, err)
			continue
		}
		if lb != ld {
			t.Errorf("%s differs:\nBTF:\n%s\nDWARF:\n%s", name, lb, ld)
		}
	}
	ob, err1 := kb.OffsetOf("struct task_struct", "comm")
	od, err2 := kd.OffsetOf("struct task_struct", "comm")
	if err1 != nil || err2 != nil || ob != od {
		t.Errorf("task_struct.comm: BTF %d (%v), DWARF %d (%v)", ob, err1, od, err2)
	}
	// Reading through DWARF types gives the same values.
	it, err := kd.Global("init_task", "struct task_struct")
	if err != nil {
		t.Fatal(err)
	}
	c, err := it.Member("comm")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.CString(16); err != nil || s != "swapper/0" {
		t.Errorf("init_task.comm via DWARF = %q, %v", s, err)
	}
	t.Logf("task_struct.comm at %d", od)
}
