// Package target assembles an open dump into a readable kernel: symbols
// (kallsyms from VMCOREINFO, a kallsyms scan, or a System.map), types (BTF
// from kernel memory) and loaded modules. It is the one place that decides
// where each kind of fact comes from, and it records that choice.
package target

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// Options choose optional inputs.
type Options struct {
	// SymbolsFile is a System.map or a /proc/kallsyms copy; it replaces
	// the symbols found in memory.
	SymbolsFile string
	// Vmlinux is a DWARF vmlinux of the dumped kernel: its types replace
	// BTF, and its symbols are used when kallsyms cannot be read.
	Vmlinux string
	// Force accepts a Vmlinux whose build ID differs from the dump's.
	Force bool
	// LiveRoot prefixes the /proc and /sys paths OpenLive reads ("" is
	// "/"); tests point it at a fake tree.
	LiveRoot string
}

// Target is a dump with its symbols and types. Problems lists what could
// not be loaded; the rest of the Target still works.
type Target struct {
	Dump         *vmcore.Dump
	Syms         *symbols.Table // nil when no symbol source worked
	SymbolSource string
	TypeSource   string
	Kernel       *kernel.Kernel
	Modules      []ModuleInfo
	Problems     []string
	Live         *LiveState // set by OpenLive: what /proc and /sys said

	closers []func() error // extra files to close (a --vmlinux)

	logOnce sync.Once
	log     *printk.Log
	logErr  error
}

// ErrNoSymbols is wrapped when no symbol source could be used.
var ErrNoSymbols = errors.New("no kernel symbols")

// Open opens the dump at path and loads what it can. Only a dump that
// cannot be opened at all is an error.
func Open(path string, opt Options) (*Target, error) {
	d, err := vmcore.Open(path)
	if err != nil {
		return nil, err
	}
	t := FromDump(d, opt)
	if opt.Vmlinux != "" {
		if err := t.UseVmlinux(opt.Vmlinux, opt.Force); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// FromDump builds a Target over an open dump; Close closes the dump.
func FromDump(d *vmcore.Dump, opt Options) *Target {
	t := &Target{Dump: d, SymbolSource: "none", TypeSource: "none"}
	t.Kernel = &kernel.Kernel{Mem: d}
	if err := t.loadSymbols(opt); err != nil {
		t.problem("symbols: %v", err)
	} else {
		t.bindSymbols()
	}
	if t.Syms != nil {
		t.loadTypes()
	}
	if t.Syms != nil && t.TypeSource != "none" {
		t.loadModules()
	}
	return t
}

// bindSymbols points the object layer at t.Syms.
func (t *Target) bindSymbols() {
	t.Kernel.Syms = kernel.SymbolFunc(func(name string) (uint64, bool) {
		s, ok := t.Syms.Lookup(name)
		return s.Addr, ok
	})
}

// Close closes the dump.
func (t *Target) Close() error {
	err := t.Dump.Close()
	for _, c := range t.closers {
		err = errors.Join(err, c())
	}
	return err
}

func (t *Target) problem(format string, args ...any) {
	t.Problems = append(t.Problems, fmt.Sprintf(format, args...))
}

func (t *Target) loadSymbols(opt Options) error {
	info := t.Dump.VMCOREINFO()
	if opt.SymbolsFile != "" {
		f, err := os.Open(opt.SymbolsFile)
		if err != nil {
			return fmt.Errorf("symbol file: %w", err)
		}
		defer f.Close()
		var off uint64
		if info != nil {
			off, _ = info.KernelOffset()
		}
		tab, err := symbols.ParseSystemMap(f, off, opt.SymbolsFile)
		if err != nil {
			return fmt.Errorf("symbol file %s: %w", opt.SymbolsFile, err)
		}
		if info != nil {
			if _, err := tab.Verify(info); err != nil {
				return fmt.Errorf("symbol file %s does not match this dump: %w", opt.SymbolsFile, err)
			}
		}
		t.Syms, t.SymbolSource = tab, string(tab.Source())
		return nil
	}
	if info == nil {
		return fmt.Errorf("%w: the dump has no VMCOREINFO and no --symbols file was given", ErrNoSymbols)
	}
	tab, err := symbols.FromKallsyms(t.Dump, info)
	if err != nil {
		// Kernels before 6.0 do not list kallsyms in VMCOREINFO: find the
		// tables in the kernel image instead.
		scanned, serr := symbols.ScanKallsymsInfo(t.Dump, info)
		if serr != nil {
			return fmt.Errorf("%w: kallsyms via VMCOREINFO: %v; kallsyms scan: %v (give --symbols System.map)", ErrNoSymbols, err, serr)
		}
		tab = scanned
	}
	t.Syms, t.SymbolSource = tab, string(tab.Source())
	return nil
}

func (t *Target) loadTypes() {
	spec, err := t.Kernel.LoadBTF()
	if err != nil {
		t.problem("types: no BTF in kernel memory: %v", err)
		return
	}
	t.Kernel.Types = btfmem.NewTypes(spec)
	t.TypeSource = "BTF in kernel memory (__start_BTF)"
	mods, err := t.Kernel.ModuleBTFs(spec, 4096)
	if err != nil {
		t.problem("module BTF: %v", err)
		return
	}
	var specs []*kernel.ModuleBTF
	for i := range mods {
		if mods[i].Err != nil || mods[i].Spec == nil {
			continue
		}
		specs = append(specs, &mods[i])
	}
	if len(specs) > 0 {
		all := make([]*btf.Spec, 0, len(specs))
		for _, m := range specs {
			all = append(all, m.Spec)
		}
		t.Kernel.Types = btfmem.NewTypes(spec, all...)
		t.TypeSource = fmt.Sprintf("BTF in kernel memory (__start_BTF) + %d module BTF", len(specs))
	}
}

// Log reads the kernel log once.
func (t *Target) Log() (*printk.Log, error) {
	t.logOnce.Do(func() {
		info := t.Dump.VMCOREINFO()
		if info == nil {
			t.logErr = errors.New("kernel log: the dump has no VMCOREINFO")
			return
		}
		t.log, t.logErr = printk.Read(t.Dump, info)
	})
	return t.log, t.logErr
}
