package kernel_test

import (
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// FuzzObjects: hostile BTF (or the synthetic one) over hostile memory
// through the object layer: layouts, member paths, values, strings and list
// walks. No panic, bounded work.
func FuzzObjects(f *testing.F) {
	blob := synthBlob(f)
	f.Add(blob, make([]byte, 256), "list.next")
	f.Add(blob, []byte("\x08\x10\x00\x00\x00\x00\x00\x00swapper/0"), "head->next->priority")
	f.Add(blob, []byte{0xff, 0xff, 0xff, 0xff}, "c[3]")
	f.Fuzz(func(t *testing.T, blob, mem []byte, path string) {
		if len(blob) > 1<<16 || len(mem) > 1<<12 || len(path) > 64 {
			return
		}
		spec, err := btfmem.Parse(blob)
		if err != nil {
			return
		}
		const base = 0x1000
		var m vmem.Fake
		m.Map(base, mem)
		k := &kernel.Kernel{Mem: &m, Types: btfmem.NewTypes(spec)}
		n := 0
		for typ, err := range spec.All() {
			if err != nil || n >= 16 {
				break
			}
			n++
			_ = kernel.FormatLayout(typ)
			o := kernel.Object{K: k, Addr: base, Type: typ}
			exercise(o, path)
			if name := typ.TypeName(); name != "" {
				_, _ = k.OffsetOf(name, path)
				_, _ = k.Type(name + " *[2]")
			}
		}
		_ = k.ListForEach(base, 16, func(uint64) error { return nil })
		_ = k.SListForEach(base, 8, 16, func(uint64) error { return nil })
	})
}

func exercise(o kernel.Object, path string) {
	_, _ = o.Uint()
	_, _ = o.Int()
	_, _ = o.CString(32)
	_, _ = o.Size()
	if n, err := o.Size(); err == nil && n <= 1<<12 {
		_, _ = o.Bytes()
	}
	_, _ = o.Index(1)
	_, _ = o.EnumName()
	_ = o.String()
	if d, err := o.Deref(); err == nil {
		_, _ = d.Uint()
	}
	if m, err := o.Member(path); err == nil {
		_, _ = m.Uint()
		_, _ = m.Int()
		_, _ = m.CString(32)
		_, _ = m.Pointer()
	}
	if s, ok := btf.UnderlyingType(o.Type).(*btf.Struct); ok {
		for i, mem := range s.Members {
			if i >= 8 {
				break
			}
			if mem.Name != "" {
				if m, err := o.Member(mem.Name); err == nil {
					_, _ = m.Int()
					_, _ = m.Index(0)
				}
			}
		}
	}
}
