package btfmem_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// blobs is the raw vmlinux BTF of a fixture and its modules' split BTF.
type blobs struct {
	vmlinux []byte
	modules map[string][]byte
}

func readBlobs(t testing.TB, fixture string) blobs {
	t.Helper()
	fx := testfixtures.Get(t, fixture)
	d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	syms, err := symbols.FromKallsyms(d, d.VMCOREINFO())
	if err != nil {
		t.Fatal(err)
	}
	k := &kernel.Kernel{Mem: d, Syms: kernel.SymbolFunc(func(n string) (uint64, bool) {
		s, ok := syms.Lookup(n)
		return s.Addr, ok
	})}
	start, _ := k.Symbol("__start_BTF")
	stop, _ := k.Symbol("__stop_BTF")
	var b blobs
	if b.vmlinux, err = btfmem.Read(d, start, stop); err != nil {
		t.Fatal(err)
	}
	spec, err := btfmem.Parse(b.vmlinux)
	if err != nil {
		t.Fatal(err)
	}
	k.Types = btfmem.NewTypes(spec)
	head, err := k.Symbol("btf_modules")
	if err != nil {
		t.Fatal(err)
	}
	b.modules = map[string][]byte{}
	err = k.ListForEachEntry(head, "struct btf_module", "list", 64, func(bm kernel.Object) error {
		name, err := bm.Member("module->name")
		if err != nil {
			return err
		}
		n, err := name.CString(64)
		if err != nil {
			return err
		}
		data, err := bm.Member("btf->data")
		if err != nil {
			return err
		}
		addr, err := data.Pointer()
		if err != nil {
			return err
		}
		size, err := bm.Member("btf->data_size")
		if err != nil {
			return err
		}
		sz, err := size.Uint()
		if err != nil {
			return err
		}
		b.modules[n], err = btfmem.Read(d, addr, addr+sz)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSameAsCilium decodes every vmlinux and module type of a real dump
// with btfmem and with cilium's own decoder and compares the two graphs:
// same kinds, names, sizes, offsets, bitfields, values, tags, and the same
// type at the end of every reference.
func TestSameAsCilium(t *testing.T) {
	b := readBlobs(t, "kdump-6.1-lzo")
	ours, err := btfmem.Parse(b.vmlinux)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := btf.LoadSpecFromReader(bytes.NewReader(b.vmlinux))
	if err != nil {
		t.Fatal(err)
	}
	c := comparer{seen: map[[2]btf.Type]bool{}}
	n := compareAll(t, &c, ours, theirs, 1)
	if n < 50_000 {
		t.Fatalf("only %d vmlinux types", n)
	}
	if len(b.modules) == 0 {
		t.Fatal("no module BTF")
	}
	for name, blob := range b.modules {
		mod, err := btfmem.ParseSplit(blob, ours)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cmod, err := btf.LoadSplitSpecFromReader(bytes.NewReader(blob), theirs)
		if err != nil {
			t.Fatalf("%s: cilium: %v", name, err)
		}
		m := compareAll(t, &c, mod, cmod, btf.TypeID(n+1))
		t.Logf("%s: %d types", name, m)
	}
	// Lookups by name give what cilium's do.
	for _, name := range []string{"task_struct", "notifier_block", "atomic_t", "list_head", "printk_info", "pid_t", "labpanic_state", "pvpanic", "schedule", "panic"} {
		got := ours.AnyTypesByName(name)
		want, _ := theirs.AnyTypesByName(name)
		if len(got) != len(want) {
			t.Errorf("%s: %d types, cilium %d", name, len(got), len(want))
			continue
		}
		for i := range got {
			if err := c.compare(got[i], want[i], 0); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// compareAll compares IDs first.. of ours with theirs, returning the count.
func compareAll(t testing.TB, c *comparer, ours *btfmem.Spec, theirs *btf.Spec, first btf.TypeID) int {
	n := 0
	for id := first; ; id++ {
		want, werr := theirs.TypeByID(id)
		got, gerr := ours.TypeByID(id)
		if werr == nil && fmt.Sprintf("%T", want) == "*btf.declTag" {
			if gerr == nil {
				t.Fatalf("type %d: a decl tag decoded as %v", id, got)
			}
			n++
			continue // not exposed by btfmem: nothing may refer to a decl tag
		}
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("type %d: cilium %v, btfmem %v", id, werr, gerr)
		}
		if werr != nil {
			return n
		}
		if err := c.compare(got, want, 0); err != nil {
			t.Fatalf("type %d: %v", id, err)
		}
		n++
	}
}
