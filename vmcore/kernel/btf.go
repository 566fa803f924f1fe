package kernel

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
)

// LoadBTF reads vmlinux BTF from __start_BTF..__stop_BTF
// (kernel/bpf/sysfs_btf.c, CONFIG_DEBUG_INFO_BTF). It does not change
// k.Types: set it to btfmem.NewTypes(spec, modules...).
func (k *Kernel) LoadBTF() (*btfmem.Spec, error) {
	start, err := k.Symbol("__start_BTF")
	if err != nil {
		return nil, err
	}
	stop, err := k.Symbol("__stop_BTF")
	if err != nil {
		return nil, err
	}
	return btfmem.Load(k.Mem, start, stop)
}

// ModuleBTF is one module's split BTF, or why it could not be read.
type ModuleBTF struct {
	Name string
	Addr uint64 // struct btf
	Spec *btfmem.Spec
	Err  error
}

// ModuleBTFs reads the split BTF of each loaded module from btf_modules
// (kernel/bpf/btf.c, CONFIG_DEBUG_INFO_BTF_MODULES): btf_module_notify()
// copies a module's .BTF into a struct btf (data, data_size) when it loads;
// struct module.btf_data itself is cleared by do_init_module(). It needs k.Types
// to describe struct btf_module and struct btf (vmlinux BTF has them). A
// module whose BTF is unreadable gets Err set; the walk goes on.
func (k *Kernel) ModuleBTFs(base *btfmem.Spec, max int) ([]ModuleBTF, error) {
	head, err := k.Symbol("btf_modules")
	if err != nil {
		return nil, err
	}
	var out []ModuleBTF
	err = k.ListForEachEntry(head, "struct btf_module", "list", max, func(bm Object) error {
		m := ModuleBTF{}
		b, err := bm.Member("btf")
		if err == nil {
			m.Addr, err = b.Pointer()
		}
		if err == nil {
			m.Name = k.moduleBTFName(bm, b)
			var data, size uint64
			if data, err = memberUint(b, "->data"); err == nil {
				if size, err = memberUint(b, "->data_size"); err == nil {
					m.Spec, err = btfmem.LoadSplit(k.Mem, data, size, base)
				}
			}
		}
		m.Err = err
		out = append(out, m)
		return nil
	})
	return out, err
}

func (k *Kernel) moduleBTFName(bm, b Object) string {
	if n, err := b.Member("->name"); err == nil { // struct btf.name, Linux >= 5.11
		if s, err := n.CString(64); err == nil && s != "" {
			return s
		}
	}
	if n, err := bm.Member("module->name"); err == nil {
		if s, err := n.CString(64); err == nil {
			return s
		}
	}
	return ""
}

func memberUint(o Object, path string) (uint64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	v, err := m.Uint()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
